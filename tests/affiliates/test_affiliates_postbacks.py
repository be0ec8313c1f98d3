"""Postbacks: templates, the outbox enqueued exactly once, macros, signed delivery with
retries, giving up, SSRF refusal, isolation and test-key events."""

from __future__ import annotations

import hashlib
import hmac
import random
import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from attribution_support import REGISTERED, dp
from postback_support import (
    attempts,
    create_affiliate,
    create_link,
    create_postback,
    deliveries,
    issue_token,
    make_click,
    receiver,
)
from sqlalchemy.engine import Engine

from croupier.affiliates.affiliate_auth import player_hash
from croupier.affiliates.postback_delivery import (
    DeliveryPolicy,
    deliver_due,
    is_public,
    pinned_request,
)
from factories import Tenant, make_tenant
from projection_support import project, projector, send

pytestmark = pytest.mark.anyio
DP = "/v2/s2s/event"
TEMPLATE = (
    "/pb?cid={click_id}&s1={sub1}&s2={sub2}&ev={event}&p={player}&amt={amount}&cur={currency}"
    "&brand={brand}"
)
LOOPBACK_OK = DeliveryPolicy(timeout_seconds=2, allow_private_targets=True)
STRICT = DeliveryPolicy(timeout_seconds=2, allow_private_targets=False)


async def _credited_player(
    client: httpx.AsyncClient,
    engine: Engine,
    tenant: Tenant,
    *,
    base_url: str = "http://127.0.0.1:9",
    player: str = "p-1",
    events: tuple[str, ...] = ("registration", "first_deposit"),
) -> dict[str, Any]:
    """An affiliate with a postback template, a click with sub-ids, and the player's
    registration through that click plus a first deposit (not yet projected)."""
    affiliate = await create_affiliate(client, tenant.admin_key, f"aff-{player}")
    link = await create_link(
        client, tenant.admin_key, affiliate_id=affiliate["id"], brand_id=tenant.brand_id
    )
    template = await create_postback(
        client,
        tenant.admin_key,
        affiliate["id"],
        url=base_url + TEMPLATE,
        events=list(events),
        link_id=link,
    )
    click_id = make_click(
        engine,
        operator_id=tenant.operator_id,
        brand_id=tenant.brand_id,
        affiliate_id=affiliate["id"],
        link_id=link,
        clicked_at=REGISTERED - timedelta(hours=1),
        sub1="google",
        sub2="uk & ie",
    )
    sent = [
        dp("register", player, REGISTERED, click_id=click_id),
        dp(
            "deposit",
            player,
            REGISTERED + timedelta(hours=1),
            amount=Decimal("12.50"),
            currency="EUR",
        ),
        dp(
            "deposit", player, REGISTERED + timedelta(hours=2), amount=Decimal("99"), currency="EUR"
        ),
    ]
    return {
        "affiliate": affiliate,
        "template": template,
        "click_id": click_id,
        "link": link,
        "events": sent,
    }


async def test_enqueued_once_with_macros_whatever_the_order_and_replays(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    setup = await _credited_player(client, engine, tenant)
    events = setup["events"]
    random.Random(5).shuffle(events)
    for event in events:  # one commit and one projection batch at a time, shuffled
        await send(client, tenant.key, DP, event)
        projector(engine, batch_size=1).drain()
    first = deliveries(engine)
    assert [(d.event, d.status, d.attempts) for d in first] == [
        ("first_deposit", "pending", 0),
        ("registration", "pending", 0),
    ]
    salt_hash = player_hash(
        _salt(engine, setup["affiliate"]["id"]), brand_id=tenant.brand_id, player_ref="p-1"
    )
    by_event = {d.event: parse_qs(urlsplit(d.url).query, keep_blank_values=True) for d in first}
    assert by_event["registration"] == {
        "cid": [setup["click_id"]],
        "s1": ["google"],
        "s2": ["uk & ie"],
        "ev": ["registration"],
        "p": [salt_hash],
        "amt": [""],
        "cur": [""],
        "brand": [tenant.brand_id],
    }
    assert "s2=uk%20%26%20ie" in first[1].url  # values are URL-encoded
    assert by_event["first_deposit"]["amt"] == ["12.50"]
    assert by_event["first_deposit"]["cur"] == ["EUR"]
    assert by_event["first_deposit"]["ev"] == ["first_deposit"]
    assert "p-1" not in first[0].url

    # A replay rebuilds the projections but enqueues nothing again, and keeps the outbox.
    projector(engine).replay()
    projector(engine).replay(tenant.operator_id)
    again = deliveries(engine)
    assert [(d.id, d.url, d.created_at) for d in again] == [
        (d.id, d.url, d.created_at) for d in first
    ]


async def test_link_filter_and_unattributed_players(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    setup = await _credited_player(client, engine, tenant)
    other_link = await create_link(
        client, tenant.admin_key, affiliate_id=setup["affiliate"]["id"], brand_id=tenant.brand_id
    )
    await create_postback(
        client,
        tenant.admin_key,
        setup["affiliate"]["id"],
        url="https://tracker.example/other?e={event}",
        events=["registration"],
        link_id=other_link,
    )
    await send(client, tenant.key, DP, setup["events"][0])
    await send(client, tenant.key, DP, dp("register", "organic", REGISTERED))
    project(engine)
    # Only the template of the player's own link fires; the organic player gets none.
    assert [(d.player_ref, d.event, d.template_id) for d in deliveries(engine)] == [
        ("p-1", "registration", setup["template"]["id"])
    ]


async def test_retries_until_delivered_and_the_signature_verifies(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    with receiver(failures=2) as target:
        setup = await _credited_player(
            client, engine, tenant, base_url=target.base_url, events=("registration",)
        )
        await send(client, tenant.key, DP, setup["events"][0])
        project(engine)
        [delivery] = deliveries(engine)
        now = delivery.created_at
        for _ in range(3):
            assert await deliver_due(engine, policy=LOOPBACK_OK, now=now) == 1
            # Not due again before its backoff has passed.
            assert await deliver_due(engine, policy=LOOPBACK_OK, now=now) == 0
            now += timedelta(hours=1, minutes=1)
        assert await deliver_due(engine, policy=LOOPBACK_OK, now=now) == 0

    [delivered] = deliveries(engine)
    assert delivered.status == "delivered"
    assert delivered.attempts == 3
    tried = attempts(engine, delivered.id)
    assert [(a.number, a.status_code, a.error) for a in tried] == [
        (1, 500, "http_500"),
        (2, 500, "http_500"),
        (3, 200, None),
    ]
    assert len(target.requests) == 3
    path, headers = target.requests[-1]
    url = target.base_url + path
    assert url == delivered.url
    secret = setup["affiliate"]["postback_secret"]
    expected = hmac.new(secret.encode(), url.encode(), hashlib.sha256).hexdigest()
    assert headers["X-Croupier-Signature"] == f"sha256={expected}"
    assert headers["X-Croupier-Timestamp"].isdigit()


async def test_gives_up_after_the_retry_window(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    with receiver(failures=1000) as target:
        setup = await _credited_player(
            client, engine, tenant, base_url=target.base_url, events=("registration",)
        )
        await send(client, tenant.key, DP, setup["events"][0])
        project(engine)
        [delivery] = deliveries(engine)
        assert await deliver_due(engine, policy=LOOPBACK_OK, now=delivery.created_at) == 1
        late = delivery.created_at + timedelta(hours=25)
        assert await deliver_due(engine, policy=LOOPBACK_OK, now=late) == 1
        assert len(target.requests) == 1  # past the window: no further request

    [failed] = deliveries(engine)
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        1,
        "retry_window_expired",
    )
    assert failed.next_attempt_at is None
    assert await deliver_due(engine, policy=LOOPBACK_OK, now=late + timedelta(days=1)) == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]"])
async def test_private_targets_are_refused_without_a_request(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant, host: str
) -> None:
    with receiver() as target:
        port = target.base_url.rsplit(":", 1)[1]
        setup = await _credited_player(
            client, engine, tenant, base_url=f"http://{host}:{port}", events=("registration",)
        )
        await send(client, tenant.key, DP, setup["events"][0])
        project(engine)
        [delivery] = deliveries(engine)
        assert await deliver_due(engine, policy=STRICT, now=delivery.created_at) == 1
        assert target.requests == []
    [refused] = deliveries(engine)
    assert (refused.status, refused.last_error) == ("failed", "refused_private_target")
    assert [(a.error, a.status_code) for a in attempts(engine, refused.id)] == [
        ("refused_private_target", None)
    ]


async def test_the_request_goes_to_the_address_that_was_checked(
    client: httpx.AsyncClient,
    engine: Engine,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the tracker's name resolves to a public address for the check, then
    to loopback. The host is looked up once and the request pinned to what was checked."""
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "tracker.example":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    seen: list[httpx.Request] = []

    def tracker(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    setup = await _credited_player(
        client, engine, tenant, base_url="http://tracker.example:8080", events=("registration",)
    )
    await send(client, tenant.key, DP, setup["events"][0])
    project(engine)
    [delivery] = deliveries(engine)
    async with httpx.AsyncClient(transport=httpx.MockTransport(tracker)) as http:
        assert await deliver_due(engine, policy=STRICT, now=delivery.created_at, client=http) == 1
    assert lookups == ["tracker.example"]
    [request] = seen
    assert (request.url.host, request.url.port) == ("93.184.216.34", 8080)
    assert request.headers["host"] == "tracker.example:8080"
    # Signed over the URL as the affiliate wrote it, not the pinned one.
    assert (
        request.headers["x-croupier-signature"]
        == "sha256="
        + hmac.new(
            setup["affiliate"]["postback_secret"].encode(), delivery.url.encode(), hashlib.sha256
        ).hexdigest()
    )
    assert deliveries(engine)[0].status == "delivered"


def test_pinned_requests_keep_the_name_for_host_and_tls() -> None:
    assert pinned_request("https://t.example/pb?a=1", "93.184.216.34") == (
        "https://93.184.216.34/pb?a=1",
        {"Host": "t.example"},
        {"sni_hostname": "t.example"},
    )
    assert pinned_request("http://t.example:81/x", "2606:2800:220:1::1") == (
        "http://[2606:2800:220:1::1]:81/x",
        {"Host": "t.example:81"},
        {},
    )


def test_public_addresses() -> None:
    assert is_public("93.184.216.34")
    assert is_public("2606:2800:220:1:248:1893:25c8:1946")
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "::1", "fe80::1"):
        assert not is_public(address), address
    assert not is_public("::ffff:127.0.0.1")
    assert not is_public("224.0.0.1")
    assert not is_public("0.0.0.0")


async def test_test_key_events_send_nothing(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    setup = await _credited_player(client, engine, tenant)
    for event in setup["events"]:
        await send(client, tenant.test_key, DP, event)
    project(engine)
    assert deliveries(engine) == []


async def test_templates_validate_and_change(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate = await create_affiliate(client, tenant.admin_key, "aff")
    headers = {"X-API-Key": tenant.admin_key}
    path = f"/api/v1/affiliates/{affiliate['id']}/postbacks"
    bad = [
        {"url": "https://t.example/?x={clickid}", "events": ["registration"]},
        {"url": "ftp://t.example/", "events": ["registration"]},
        {"url": "https://t.example/", "events": ["signup"]},
        {"url": "https://t.example/", "events": []},
    ]
    for body in bad:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 400, body
    response = await client.post(path, json=bad[0], headers=headers)
    assert response.json()["details"][0]["code"] == "unknown_macro"

    created = await create_postback(
        client,
        tenant.admin_key,
        affiliate["id"],
        url="https://t.example/?c={click_id}",
        events=["first_deposit", "registration", "cpa_qualified"],
    )
    assert created["events"] == ["registration", "first_deposit", "cpa_qualified"]
    changed = await client.patch(
        f"/api/v1/postbacks/{created['id']}",
        json={"enabled": False, "events": ["registration"]},
        headers=headers,
    )
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["events"]) == (False, ["registration"])
    listed = await client.get(path, headers=headers)
    assert [p["id"] for p in listed.json()["postbacks"]] == [created["id"]]
    deleted = await client.delete(f"/api/v1/postbacks/{created['id']}", headers=headers)
    assert deleted.status_code == 200
    assert (await client.get(path, headers=headers)).json()["postbacks"] == []
    # A read key cannot manage postbacks.
    assert (await client.get(path, headers={"X-API-Key": tenant.read_key})).status_code == 403


async def test_operator_and_affiliate_isolation(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    setup = await _credited_player(client, engine, tenant, events=("registration",))
    await send(client, tenant.key, DP, setup["events"][0])
    project(engine)
    affiliate_id = setup["affiliate"]["id"]
    rival = make_tenant(engine, name="rival")
    rival_headers = {"X-API-Key": rival.admin_key}
    assert (
        await client.get(f"/api/v1/affiliates/{affiliate_id}/postbacks", headers=rival_headers)
    ).status_code == 404
    template_path = f"/api/v1/postbacks/{setup['template']['id']}"
    assert (
        await client.patch(template_path, json={"enabled": False}, headers=rival_headers)
    ).status_code == 404
    assert (await client.delete(template_path, headers=rival_headers)).status_code == 404
    found = await client.get(
        "/api/v1/postbacks/deliveries",
        params={"affiliate_id": affiliate_id},
        headers=rival_headers,
    )
    assert found.status_code == 404
    assert (await client.get("/api/v1/postbacks/deliveries", headers=rival_headers)).json()[
        "deliveries"
    ] == []

    ours = await client.get(
        "/api/v1/postbacks/deliveries",
        params={"affiliate_id": affiliate_id, "status": "pending"},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert [(d["player_ref"], d["event"]) for d in ours.json()["deliveries"]] == [
        ("p-1", "registration")
    ]

    own_token = await issue_token(client, tenant.admin_key, affiliate_id)
    mine = await client.get(
        "/api/v1/affiliate/postbacks", headers={"Authorization": f"Bearer {own_token}"}
    )
    assert mine.status_code == 200
    [item] = mine.json()["deliveries"]
    assert item["event"] == "registration"
    assert "player_ref" not in item  # an affiliate never sees the operator's player id

    other = await create_affiliate(client, tenant.admin_key, "other")
    other_token = await issue_token(client, tenant.admin_key, other["id"])
    theirs = await client.get(
        "/api/v1/affiliate/postbacks", headers={"Authorization": f"Bearer {other_token}"}
    )
    assert theirs.json()["deliveries"] == []


def _salt(engine: Engine, affiliate_id: str) -> str:
    from sqlalchemy.orm import Session

    from croupier.affiliates.models import Affiliate

    with Session(engine) as session:
        affiliate = session.get(Affiliate, affiliate_id)
        assert affiliate is not None
        return affiliate.player_salt
