"""GET /t/{code}: the click is recorded, the redirect is exact, uniqueness, bots, proxies."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from test_affiliates_management import admin, new_affiliate, set_landing

from conftest import app_client
from croupier.affiliates import clicks
from croupier.affiliates.models import Click, TrackingLink
from croupier.kit.db import write_session
from croupier.kit.timeparse import utcnow
from croupier.settings import Settings
from factories import Tenant

pytestmark = pytest.mark.anyio
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537"


async def make_link(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    affiliate = await new_affiliate(client, tenant.admin_key)
    body = {"affiliate_id": affiliate["id"], "brand_id": tenant.brand_id, **fields}
    response = await admin(client, tenant.admin_key, "POST", "/api/v1/links", body)
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


async def click(
    client: httpx.AsyncClient, code: str, ua: str | None = BROWSER, **params: str
) -> httpx.Response:
    headers = {} if ua is None else {"User-Agent": ua}
    return await client.get(f"/t/{code}", params=params, headers=headers)


def stored_clicks(engine: Engine) -> list[Click]:
    with Session(engine) as session:
        return list(session.scalars(select(Click).order_by(Click.seq)))


async def test_redirect_exactly_as_in_the_spec(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    link = await make_link(client, tenant, landing_url="https://casino.example/welcome")
    response = await click(client, link["code"], sub1="google", sub2="uk")
    assert response.status_code == 302
    [stored] = stored_clicks(engine)
    assert response.headers["location"] == (
        f"https://casino.example/welcome?click_id={stored.click_id}&sub1=google&sub2=uk"
    )
    uuid.UUID(stored.click_id)
    assert (stored.link_id, stored.affiliate_id) == (link["id"], link["affiliate_id"])
    assert (stored.operator_id, stored.brand_id) == (tenant.operator_id, tenant.brand_id)
    assert (stored.sub1, stored.sub2, stored.sub3) == ("google", "uk", None)
    assert stored.user_agent == BROWSER
    assert stored.ip_address == "127.0.0.1"
    assert (stored.is_unique, stored.is_bot) == (True, False)


async def test_landing_query_and_fragment_kept_defaults_and_encoding(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    link = await make_link(
        client,
        tenant,
        landing_url="https://casino.example/p?lang=en&sub2=old#signup",
        default_subs={"sub1": "news", "sub2": "letter"},
    )
    response = await click(client, link["code"], sub2="a b&c=d/é", sub4="", sub5="z")
    [stored] = stored_clicks(engine)
    assert response.headers["location"] == (
        "https://casino.example/p?lang=en"
        f"&click_id={stored.click_id}&sub1=news&sub2=a%20b%26c%3Dd%2F%C3%A9&sub5=z#signup"
    )
    assert (stored.sub1, stored.sub2, stored.sub4, stored.sub5) == ("news", "a b&c=d/é", None, "z")


async def test_brand_landing_url_by_default(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    set_landing(engine, tenant.brand_id, "https://brand.example/")
    link = await make_link(client, tenant)
    response = await click(client, link["code"])
    [stored] = stored_clicks(engine)
    assert response.headers["location"] == f"https://brand.example/?click_id={stored.click_id}"


async def test_unknown_and_disabled_codes_are_404_and_record_nothing(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    unknown = await click(client, "no-such-code")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "location" not in unknown.headers
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    await admin(
        client, tenant.admin_key, "PATCH", f"/api/v1/links/{link['id']}", {"enabled": False}
    )
    disabled = await click(client, link["code"])
    assert disabled.status_code == 404
    assert stored_clicks(engine) == []


async def test_a_link_changed_through_this_server_applies_at_its_next_click(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    path = f"/api/v1/links/{link['id']}"
    assert (await click(client, link["code"])).status_code == 302  # now cached
    await admin(client, tenant.admin_key, "PATCH", path, {"landing_url": "https://new.example/"})
    moved = await click(client, link["code"])
    assert moved.headers["location"].startswith("https://new.example/")
    await admin(client, tenant.admin_key, "PATCH", path, {"enabled": False})
    assert (await click(client, link["code"])).status_code == 404


async def _disabled_after(
    client: httpx.AsyncClient,
    tenant: Tenant,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    seconds: float,
) -> str:
    """A link clicked once, then disabled by another process (straight in the store); the
    clock frozen ``seconds`` later. Its code."""
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    assert (await click(client, link["code"])).status_code == 302
    with write_session(engine) as session, session.begin():
        session.execute(
            update(TrackingLink).where(TrackingLink.id == link["id"]).values(enabled=False)
        )
    later = time.monotonic() + seconds
    monkeypatch.setattr(time, "monotonic", lambda: later)
    return str(link["code"])


async def test_disable_applies_one_lookup_after_the_cache_time(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = await _disabled_after(client, tenant, engine, monkeypatch, clicks.LINK_CACHE_SECONDS + 1)
    # Past its time: this click still lands while the link is looked up again...
    assert (await click(client, code)).status_code == 302
    for _ in range(100):  # ...and once the lookup is back, the link is gone
        await asyncio.to_thread(time.sleep, 0.01)  # no timer: the loop's clock is frozen
        if (await click(client, code)).status_code == 404:
            break
    assert (await click(client, code)).status_code == 404


async def test_a_link_not_clicked_for_twice_the_cache_time_is_looked_up_first(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = await _disabled_after(
        client, tenant, engine, monkeypatch, 2 * clicks.LINK_CACHE_SECONDS + 1
    )
    assert (await click(client, code)).status_code == 404


async def test_uniqueness_within_and_after_the_window(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    code = link["code"]
    await click(client, code)
    await click(client, code)  # same link, IP, user agent: not unique
    await click(client, code, ua=BROWSER + " other")  # another user agent: unique
    assert [c.is_unique for c in stored_clicks(engine)] == [True, False, True]

    # Earlier clicks 23 h and 25 h ago from other IPs, then a click from each.
    now = utcnow()
    template = {
        "operator_id": tenant.operator_id,
        "brand_id": tenant.brand_id,
        "affiliate_id": link["affiliate_id"],
        "link_id": link["id"],
        "user_agent": BROWSER,
        "is_unique": True,
        "is_bot": False,
    }
    with write_session(engine) as session, session.begin():
        session.execute(
            insert(Click),
            [
                {**template, "click_id": str(uuid.uuid4()), "ip_address": ip, "clicked_at": at}
                for ip, at in [
                    ("10.0.0.23", now - timedelta(hours=23)),
                    ("10.0.0.25", now - timedelta(hours=25)),
                ]
            ],
        )
    # The socket address is fixed under ASGITransport: decide these two clicks directly.
    rows = [
        clicks.new_click(
            clicks.LinkTarget(
                link["id"], tenant.operator_id, tenant.brand_id, link["affiliate_id"], None, "", {}
            ),
            subs={},
            ip_address=ip,
            user_agent=BROWSER,
            referer=None,
            clicked_at=now,
        )
        for ip in ("10.0.0.23", "10.0.0.25")
    ]
    with Session(engine) as session:
        clicks.mark_unique(session, rows, window=timedelta(hours=24))
    assert [row["is_unique"] for row in rows] == [False, True]


async def test_concurrent_clicks_in_one_group_see_each_other(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    answers = await asyncio.gather(*(click(client, link["code"]) for _ in range(20)))
    assert {a.status_code for a in answers} == {302}
    stored = stored_clicks(engine)
    assert len(stored) == 20
    assert sum(c.is_unique for c in stored) == 1
    assert len({a.headers["location"] for a in answers}) == 20


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0)",
        "facebookexternalhit/1.1",
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36",
        "python-requests/2.31",
        "curl/8.5.0",
        "",
        None,
    ],
)
async def test_bots_are_flagged_and_not_counted(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, ua: str | None
) -> None:
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    response = await click(client, link["code"], ua=ua)
    assert response.status_code == 302  # a bot still gets where it was going
    [stored] = stored_clicks(engine)
    assert (stored.is_bot, stored.is_unique) == (True, False)


def test_phones_are_not_bots() -> None:
    assert not clicks.is_bot("Mozilla/5.0 (Linux; Android 10; CUBOT X30) Chrome/120 Mobile")
    assert not clicks.is_bot(BROWSER)


async def test_click_counts(client: httpx.AsyncClient, tenant: Tenant, engine: Engine) -> None:
    link = await make_link(client, tenant, landing_url="https://casino.example/")
    for ua in (BROWSER, BROWSER, BROWSER + " 2", "Googlebot/2.1", "curl/8"):
        await click(client, link["code"], ua=ua)
    got = await admin(client, tenant.admin_key, "GET", f"/api/v1/links/{link['id']}")
    assert got.json()["clicks"] == {"total": 3, "unique": 2, "bots": 2}


async def test_forwarded_for_believed_only_from_trusted_proxies(
    tenant: Tenant, engine: Engine, settings: Settings
) -> None:
    async with app_client(settings, engine) as untrusted:
        link = await make_link(untrusted, tenant, landing_url="https://casino.example/")
        await untrusted.get(
            f"/t/{link['code']}", headers={"User-Agent": BROWSER, "X-Forwarded-For": "198.51.100.7"}
        )
    async with app_client(settings, engine, trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"]) as app:
        xff = "203.0.113.9, 198.51.100.7, 10.1.2.3"  # client, forged-or-real, our inner proxy
        await app.get(f"/t/{link['code']}", headers={"User-Agent": BROWSER, "X-Forwarded-For": xff})
        await app.get(f"/t/{link['code']}", headers={"User-Agent": BROWSER})
    assert [c.ip_address for c in stored_clicks(engine)] == [
        "127.0.0.1",
        "198.51.100.7",
        "127.0.0.1",
    ]


def test_client_ip_rules() -> None:
    trusted = clicks.parse_networks(["10.0.0.0/8", "::1/128"])
    assert clicks.client_ip("10.0.0.1", "1.2.3.4, 10.9.9.9", trusted) == "1.2.3.4"
    assert clicks.client_ip("10.0.0.1", "10.0.0.2", trusted) == "10.0.0.2"  # all trusted
    assert clicks.client_ip("10.0.0.1", "1.2.3.4, garbage", trusted) == "10.0.0.1"
    assert clicks.client_ip("8.8.8.8", "1.2.3.4", trusted) == "8.8.8.8"
    assert clicks.client_ip("::1", "2001:db8::1", trusted) == "2001:db8::1"
    assert clicks.client_ip("10.0.0.1", "1.2.3.4", ()) == "10.0.0.1"
