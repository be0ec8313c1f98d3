"""The affiliate-side API: exact stats per grouping, players without personal data, links,
CSV exports, and isolation between affiliates and operators."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from attribution_support import revvvs
from portal_support import Partner, bearer, make_click, make_link, make_partner
from sqlalchemy import update
from sqlalchemy.engine import Engine

from croupier.affiliates import management
from croupier.affiliates.affiliate_auth import player_hash
from croupier.affiliates.models import Affiliate
from croupier.kit.csvexport import cell, to_csv, wants_csv
from croupier.kit.db import write_session
from croupier.tenancy.models import Brand
from factories import Tenant, make_tenant
from projection_support import D, project, send

pytestmark = pytest.mark.anyio
REVVVS = "/api/v1/events"
PERIOD = {"from": "2026-10-01", "to": "2026-10-03"}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    ann: Partner  # the affiliate under test
    bob: Partner  # another affiliate of the same operator
    link_casino: str
    link_sports: str
    link_bob: str


async def build(client: httpx.AsyncClient, engine: Engine, tenant: Tenant) -> World:
    """Ann: 3 human clicks (2 unique) and a bot in the period, one click before it; three
    players (two by click, one by promo code) with first deposits. Bob: one player."""
    operator = tenant.operator_id
    ann = make_partner(engine, operator_id=operator, name="ann")
    bob = make_partner(engine, operator_id=operator, name="bob")
    management_promo(engine, operator_id=operator, affiliate_id=ann.affiliate_id, code="ANN10")
    casino = make_link(
        engine, operator_id=operator, affiliate_id=ann.affiliate_id, brand_id=tenant.brand_id
    )
    sports = make_link(
        engine, operator_id=operator, affiliate_id=ann.affiliate_id, brand_id=tenant.other_brand_id
    )
    bobs = make_link(
        engine, operator_id=operator, affiliate_id=bob.affiliate_id, brand_id=tenant.brand_id
    )
    make_click(engine, link_id=casino, clicked_at=datetime(2026, 9, 20, tzinfo=UTC))
    first = make_click(engine, link_id=casino, clicked_at=at(1, 9), sub1="google")
    make_click(engine, link_id=casino, clicked_at=at(1, 10), sub1="google", is_unique=False)
    make_click(engine, link_id=casino, clicked_at=at(1, 11), sub1="google", is_bot=True)
    second = make_click(engine, link_id=sports, clicked_at=at(2, 9), sub1="fb")
    bobs_click = make_click(engine, link_id=bobs, clicked_at=at(1, 8), sub1="google")

    brand, other = tenant.brand_id, tenant.other_brand_id
    events = [
        revvvs("registration", "p-1", at(1), brand, click_id=first, country="GB"),
        revvvs("first_deposit", "p-1", at(2), brand),
        revvvs("registration", "p-2", at(2), other, click_id=second, country="DE"),
        revvvs("first_deposit", "p-2", at(3), other, currency="USD", amount=D("25.50")),
        revvvs(
            "registration", "p-4", at(2, 15), brand, country="GB", metadata={"promo_code": "ann10"}
        ),
        revvvs("first_deposit", "p-4", at(3), brand, amount=D("10.25")),
        revvvs("registration", "p-3", at(1), brand, click_id=bobs_click, country="FR"),
        revvvs("registration", "p-5", at(1), brand, country="GB"),  # organic
    ]
    for event in events:
        await send(client, tenant.key, REVVVS, event)
    project(engine)
    return World(ann, bob, casino, sports, bobs)


def management_promo(engine: Engine, *, operator_id: str, affiliate_id: str, code: str) -> None:
    with write_session(engine) as session, session.begin():
        management.create_promo_code(
            session, operator_id=operator_id, affiliate_id=affiliate_id, code=code
        )


async def portal(
    client: httpx.AsyncClient, token: str, path: str, *, status: int = 200, **params: Any
) -> Any:
    response = await client.get(f"/api/v1/affiliate/{path}", params=params, headers=bearer(token))
    assert response.status_code == status, response.text
    return response.json()


def counts(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["clicks"],
        row["unique_clicks"],
        row["registrations"],
        row["first_depositors"],
        row["first_deposit_amount"],
        row["click_to_registration"],
        row["registration_to_ftd"],
    )


async def test_stats_by_day_and_totals(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    body = await portal(client, world.ann.token, "stats", **PERIOD)
    assert (body["from"], body["to"], body["group_by"]) == ("2026-10-01", "2026-10-03", "day")
    assert body["payout_currency"] == "EUR"
    by_day = {row["day"]: counts(row) for row in body["groups"]}
    assert by_day == {
        "2026-10-01": (2, 1, 1, 0, {}, "1.0000", "0.0000"),
        "2026-10-02": (1, 1, 2, 1, {"EUR": "50"}, "2.0000", "0.5000"),
        "2026-10-03": (0, 0, 0, 2, {"EUR": "10.25", "USD": "25.50"}, None, None),
    }
    assert counts(body["totals"]) == (
        3,
        2,
        3,
        3,
        {"EUR": "60.25", "USD": "25.50"},
        "1.5000",
        "1.0000",
    )
    # A quiet period still lists its days, with nothing in them.
    quiet = await portal(
        client, world.ann.token, "stats", **{"from": "2026-08-01", "to": "2026-08-02"}
    )
    assert [row["day"] for row in quiet["groups"]] == ["2026-08-01", "2026-08-02"]
    assert counts(quiet["totals"]) == (0, 0, 0, 0, {}, None, None)


async def test_stats_by_link_sub1_brand_and_country(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    token = world.ann.token

    by_link = await portal(client, token, "stats", group_by="link", **PERIOD)
    links = {row["link_id"]: counts(row) for row in by_link["groups"]}
    assert links == {
        world.link_casino: (2, 1, 1, 1, {"EUR": "50"}, "1.0000", "1.0000"),
        world.link_sports: (1, 1, 1, 1, {"USD": "25.50"}, "1.0000", "1.0000"),
        None: (0, 0, 1, 1, {"EUR": "10.25"}, None, "1.0000"),  # the promo-code player
    }
    assert by_link["groups"][-1]["link_id"] is None  # the null group comes last
    assert all(row["link_code"] for row in by_link["groups"][:-1])

    by_sub1 = await portal(client, token, "stats", group_by="sub1", **PERIOD)
    assert {row["sub1"]: row["registrations"] for row in by_sub1["groups"]} == {
        "google": 1,
        "fb": 1,
        None: 1,
    }

    by_brand = await portal(client, token, "stats", group_by="brand", **PERIOD)
    assert {row["brand_id"]: counts(row) for row in by_brand["groups"]} == {
        tenant.brand_id: (2, 1, 2, 2, {"EUR": "60.25"}, "2.0000", "1.0000"),
        tenant.other_brand_id: (1, 1, 1, 1, {"USD": "25.50"}, "1.0000", "1.0000"),
    }

    # Clicks have no country: they fall in the null group.
    by_country = await portal(client, token, "stats", group_by="country", **PERIOD)
    assert {row["country"]: counts(row) for row in by_country["groups"]} == {
        "DE": (0, 0, 1, 1, {"USD": "25.50"}, None, "1.0000"),
        "GB": (0, 0, 2, 2, {"EUR": "60.25"}, None, "1.0000"),
        None: (3, 2, 0, 0, {}, "0.0000", None),
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-10-05", "to": "2026-10-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "2026-13-01", "to": "2026-10-01"}, "from"),
        ({"from": "01/10/2026", "to": "2026-10-01"}, "from"),
        ({"group_by": "week"}, "group_by"),
    ],
)
async def test_stats_refuses_bad_periods(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant, params: dict[str, str], field: str
) -> None:
    ann = make_partner(engine, operator_id=tenant.operator_id, name="ann")
    body = await portal(client, ann.token, "stats", status=400, **params)
    assert body["error"] == "invalid_query"
    assert body["details"][0]["field"] == field


async def test_a_year_is_allowed_and_the_default_is_thirty_days(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    ann = make_partner(engine, operator_id=tenant.operator_id, name="ann")
    year = await portal(client, ann.token, "stats", **{"from": "2025-01-01", "to": "2026-01-01"})
    assert len(year["groups"]) == 366
    default = await portal(client, ann.token, "stats")
    assert len(default["groups"]) == 30


async def test_players_show_the_hash_and_nothing_personal(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    response = await client.get("/api/v1/affiliate/players", headers=bearer(world.ann.token))
    assert response.status_code == 200
    for secret in ("p-1", "p-2", "p-4", "203.0.113.9", "Firefox"):
        assert secret not in response.text
    players = response.json()["players"]
    salt = world.ann.player_salt
    assert [p["player"] for p in players] == [
        player_hash(salt, brand_id=tenant.brand_id, player_ref="p-1"),
        player_hash(salt, brand_id=tenant.other_brand_id, player_ref="p-2"),
        player_hash(salt, brand_id=tenant.brand_id, player_ref="p-4"),
    ]
    first = players[0]
    assert first == {
        "player": players[0]["player"],
        "brand_id": tenant.brand_id,
        "country": "GB",
        "registered_at": "2026-10-01T12:00:00Z",
        "first_deposit_at": "2026-10-02T12:00:00Z",
        "first_deposit_amount": "50",
        "first_deposit_currency": "EUR",
        "status": "active",
        "attribution_reason": "click_id",
        "attributed_at": "2026-10-01T12:00:00Z",
        "link_id": world.link_casino,
        "sub1": "google",
        "sub2": None,
        "sub3": None,
        "sub4": None,
        "sub5": None,
    }
    assert [(p["attribution_reason"], p["link_id"]) for p in players[1:]] == [
        ("click_id", world.link_sports),
        ("promo_code", None),
    ]
    assert (players[1]["first_deposit_amount"], players[1]["first_deposit_currency"]) == (
        "25.50",
        "USD",
    )


async def test_players_filter_by_registration_day_and_page(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    token = world.ann.token
    day_two = await portal(client, token, "players", **{"from": "2026-10-02", "to": "2026-10-02"})
    assert len(day_two["players"]) == 2
    page = await portal(client, token, "players", limit=2)
    assert (len(page["players"]), page["next_cursor"]) == (2, "2")
    rest = await portal(client, token, "players", limit=2, cursor=page["next_cursor"])
    assert (len(rest["players"]), rest["next_cursor"]) == (1, None)
    bad = await portal(client, token, "players", status=400, cursor="abc")
    assert bad["error"] == "invalid_query"


async def test_links_list_with_click_counts(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    body = await portal(client, world.ann.token, "links")
    assert {link["id"]: link["clicks"] for link in body["links"]} == {
        world.link_casino: {"total": 3, "unique": 2, "bots": 1},
        world.link_sports: {"total": 1, "unique": 1, "bots": 0},
    }
    assert body["next_cursor"] is None
    assert all(link["affiliate_id"] == world.ann.affiliate_id for link in body["links"])
    assert body["links"][0]["url"].endswith("/t/" + body["links"][0]["code"])


async def test_create_a_link_with_sub_ids(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    ann = make_partner(engine, operator_id=tenant.operator_id, name="ann")
    bob = make_partner(engine, operator_id=tenant.operator_id, name="bob")
    with write_session(engine) as session, session.begin():
        landing = "https://casino.example/"
        session.execute(
            update(Brand).where(Brand.id == tenant.brand_id).values(landing_url=landing)
        )
    campaigns = {}
    with write_session(engine) as session, session.begin():
        for partner in (ann, bob):
            campaign = management.create_campaign(
                session, operator_id=tenant.operator_id, affiliate_id=partner.affiliate_id, name="x"
            )
            campaigns[partner.affiliate_id] = campaign.id

    async def create(token: str, body: dict[str, Any]) -> httpx.Response:
        return await client.post("/api/v1/affiliate/links", json=body, headers=bearer(token))

    body = {
        "brand_id": tenant.brand_id,
        "campaign_id": campaigns[ann.affiliate_id],
        "landing_url": "https://casino.example/welcome?lang=en",
        "default_subs": {"sub1": "newsletter", "sub3": "october"},
    }
    created = await create(ann.token, body)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["affiliate_id"] == ann.affiliate_id
    assert link["campaign_id"] == campaigns[ann.affiliate_id]
    assert link["default_subs"] == {"sub1": "newsletter", "sub3": "october"}
    assert link["enabled"] is True
    assert len(link["code"]) >= 8
    listed = await portal(client, ann.token, "links")
    assert [entry["id"] for entry in listed["links"]] == [link["id"]]
    # The code is live: a click on it redirects.
    redirect = await client.get(f"/t/{link['code']}")
    assert redirect.status_code == 302

    other = make_tenant(engine, name="other")
    refusals = [
        ({"brand_id": tenant.brand_id, "campaign_id": campaigns[bob.affiliate_id]}, "campaign_id"),
        ({"brand_id": tenant.brand_id, "campaign_id": "nope"}, "campaign_id"),
        ({"brand_id": other.brand_id}, "brand_id"),
        ({"brand_id": tenant.brand_id, "default_subs": {"sub9": "x"}}, "default_subs.sub9"),
        ({"brand_id": tenant.brand_id, "landing_url": "javascript:alert(1)"}, "landing_url"),
        ({"brand_id": tenant.brand_id, "affiliate_id": bob.affiliate_id}, "affiliate_id"),
    ]
    for refused, field in refusals:
        answer = await create(ann.token, refused)
        assert answer.status_code == 400, (refused, answer.text)
        assert answer.json()["details"][0]["field"] == field
    # Bob's campaign is "not found" to Ann, not "someone else's".
    assert "another" not in (await create(ann.token, refusals[0][0])).text

    pending = make_partner(engine, operator_id=tenant.operator_id, name="pat", status="pending")
    waiting = await create(pending.token, {"brand_id": tenant.brand_id})
    assert (waiting.status_code, waiting.json()["error"]) == (403, "affiliate_not_active")


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_csv_export_of_each_list(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    headers = {**bearer(world.ann.token), "Accept": "text/csv"}

    stats = await client.get("/api/v1/affiliate/stats", params=PERIOD, headers=headers)
    assert 'filename="stats-day-2026-10-01-2026-10-03.csv"' in stats.headers["content-disposition"]
    rows = read_csv(stats)
    assert [row["day"] for row in rows] == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert rows[2]["first_deposit_amount.USD"] == "25.50"
    assert rows[2]["first_deposit_amount.EUR"] == "10.25"
    assert rows[0]["first_deposit_amount.EUR"] == ""
    assert (rows[1]["click_to_registration"], rows[2]["click_to_registration"]) == ("2.0000", "")

    players = await client.get("/api/v1/affiliate/players", params={"limit": 2}, headers=headers)
    assert players.headers["x-next-cursor"] == "2"
    player_rows = read_csv(players)
    assert list(player_rows[0])[:3] == ["player", "brand_id", "country"]
    assert player_rows[0]["registered_at"] == "2026-10-01T12:00:00+00:00"
    assert player_rows[1]["first_deposit_amount"] == "25.50"
    assert "p-1" not in players.text

    links = read_csv(await client.get("/api/v1/affiliate/links", headers=headers))
    assert {row["id"]: row["clicks.total"] for row in links} == {
        world.link_casino: "3",
        world.link_sports: "1",
    }
    # JSON stays the default, and wins when preferred.
    preferred = {**bearer(world.ann.token), "Accept": "application/json, text/csv;q=0.5"}
    as_json = await client.get("/api/v1/affiliate/links", headers=preferred)
    assert as_json.headers["content-type"].startswith("application/json")


def test_csv_cells() -> None:
    assert cell(D("1E+2")) == "100"
    assert cell(None) == ""
    assert cell(True) == "true"
    assert cell(datetime(2026, 10, 1, tzinfo=UTC)) == "2026-10-01T00:00:00+00:00"
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"  # a sub-id is not a formula
    assert cell(["a", 1]) == '["a",1]'
    assert to_csv([{"a": 1, "m": {"EUR": D("2.50")}}, {"a": 2, "m": {"USD": D("1")}}]) == (
        "a,m.EUR,m.USD\r\n1,2.50,\r\n2,,1\r\n"
    )
    assert to_csv([]) == "\r\n"


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        ("text/csv", True),
        ("text/csv, */*;q=0.1", True),
        ("*/*", False),
        ("", False),
        ("application/json;q=0.9, text/csv", True),
        ("text/csv;q=0, application/json", False),
    ],
)
def test_accept_header(accept: str, csv_wanted: bool) -> None:
    request = httpx.Request("GET", "http://x/", headers={"accept": accept})

    class Shim:  # wants_csv reads only the headers
        headers = request.headers

    assert wants_csv(Shim()) is csv_wanted  # type: ignore[arg-type]


async def test_each_affiliate_sees_only_its_own(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    bob = world.bob
    players = (await portal(client, bob.token, "players"))["players"]
    assert [p["player"] for p in players] == [
        player_hash(bob.player_salt, brand_id=tenant.brand_id, player_ref="p-3")
    ]
    ann_hashes = {
        p["player"] for p in (await portal(client, world.ann.token, "players"))["players"]
    }
    assert not ann_hashes & {p["player"] for p in players}
    links = (await portal(client, bob.token, "links"))["links"]
    assert [link["id"] for link in links] == [world.link_bob]
    stats = await portal(client, bob.token, "stats", **PERIOD)
    assert counts(stats["totals"]) == (1, 1, 1, 0, {}, "1.0000", "0.0000")
    # Ann's link id as Bob's cursor or group reveals nothing of Ann's either.
    after = await portal(client, bob.token, "links", cursor="0")
    assert [link["id"] for link in after["links"]] == [world.link_bob]

    other = make_tenant(engine, name="other")
    stranger = make_partner(engine, operator_id=other.operator_id, name="stranger")
    assert (await portal(client, stranger.token, "players"))["players"] == []
    assert (await portal(client, stranger.token, "links"))["links"] == []
    assert counts((await portal(client, stranger.token, "stats", **PERIOD))["totals"]) == (
        0,
        0,
        0,
        0,
        {},
        None,
        None,
    )


async def test_tokens_and_account_status(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    ann = make_partner(engine, operator_id=tenant.operator_id, name="ann")
    for path in ("stats", "players", "links"):
        missing = await client.get(f"/api/v1/affiliate/{path}")
        assert (missing.status_code, missing.json()["error"]) == (401, "missing_affiliate_token")
    # An operator's API key is not an affiliate token, whatever the header.
    as_key = await client.get("/api/v1/affiliate/players", headers={"X-API-Key": tenant.admin_key})
    assert as_key.status_code == 401
    assert (await portal(client, tenant.admin_key, "players", status=401))["error"] == (
        "invalid_affiliate_token"
    )
    by_header = await client.get(
        "/api/v1/affiliate/links", headers={"X-Affiliate-Token": ann.token}
    )
    assert by_header.status_code == 200

    with write_session(engine) as session, session.begin():
        management.revoke_token(
            session,
            operator_id=tenant.operator_id,
            affiliate_id=ann.affiliate_id,
            token_id=ann.token_id,
        )
    await portal(client, ann.token, "players", status=401)

    bob = make_partner(engine, operator_id=tenant.operator_id, name="bob")
    with write_session(engine) as session, session.begin():
        session.execute(
            update(Affiliate).where(Affiliate.id == bob.affiliate_id).values(status="suspended")
        )
    suspended = await portal(client, bob.token, "links", status=403)
    assert suspended["error"] == "affiliate_suspended"
    created = await client.post(
        "/api/v1/affiliate/links", json={"brand_id": tenant.brand_id}, headers=bearer(bob.token)
    )
    assert created.status_code == 403


async def test_a_manual_reassignment_never_shows_another_affiliates_click(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    response = await client.post(
        "/api/v1/players/p-3/attribution",
        json={"affiliate_id": world.ann.affiliate_id, "reason": "support ticket 42"},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert response.status_code == 200, response.text
    project(engine)
    players = (await portal(client, world.ann.token, "players"))["players"]
    moved = [p for p in players if p["attribution_reason"] == "manual"]
    assert len(moved) == 1
    assert (moved[0]["link_id"], moved[0]["sub1"]) == (None, None)
    by_link = await portal(client, world.ann.token, "stats", group_by="link", **PERIOD)
    assert world.link_bob not in {row["link_id"] for row in by_link["groups"]}


async def test_both_affiliates_see_a_reassignment_in_their_audit_log(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    world = await build(client, engine, tenant)
    response = await client.post(
        "/api/v1/players/p-3/attribution",
        json={"affiliate_id": world.ann.affiliate_id, "reason": "support ticket 42"},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert response.status_code == 200, response.text
    project(engine)

    gained = (await portal(client, world.ann.token, "attribution-changes"))["changes"]
    lost = (await portal(client, world.bob.token, "attribution-changes"))["changes"]
    csv = await client.get(
        "/api/v1/affiliate/attribution-changes",
        headers={**bearer(world.ann.token), "Accept": "text/csv"},
    )

    manual = [change for change in gained if change["reason"] == "manual"]
    assert [(c["credited"], c["changed_by"], c["note"]) for c in manual] == [
        (True, "admin", "support ticket 42")
    ]
    taken = [change for change in lost if not change["credited"]]
    assert [(c["reason"], c["changed_by"]) for c in taken] == [("manual", "admin")]
    assert taken[0]["player"] != manual[0]["player"]  # each affiliate has its own hash
    assert "p-3" not in str(gained) + str(lost)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "support ticket 42" in csv.text
