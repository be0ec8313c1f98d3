"""The players projection through the API: registration, first deposit, totals, flags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from factories import Tenant, make_tenant
from projection_support import D, get, project, send

pytestmark = pytest.mark.anyio
T0 = 1790000000  # 2026-09-21T14:13:20Z


def dp(event_name: str, at: int, **fields: Any) -> dict[str, Any]:
    return {"client_user_id": "alice", "event_name": event_name, "timestamp": at, **fields}


def rv(tenant: Tenant, event_type: str, at: str, key: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "event_time": at,
        "brand_id": tenant.brand_id,
        "player_external_ref": "bob",
        "idempotency_key": key,
        **fields,
    }


async def test_first_deposit_is_the_earliest_even_when_it_arrives_last(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    register = dp("register", T0, click_id="ad-net-77", ip_address="203.0.113.9")
    register["user_agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"
    await send(client, tenant.key, "/v2/s2s/event", register)
    later = dp("deposit", T0 + 7200, transaction_id="d2", amount=50, currency="EUR")
    await send(client, tenant.key, "/v2/s2s/event", later)
    project(engine)
    earlier = dp("deposit", T0 + 3600, transaction_id="d1", amount=D("20.10"), currency="EUR")
    withdrawal = dp("withdraw", T0 + 9000, transaction_id="w1", amount=D("5.05"), currency="EUR")
    await send(client, tenant.key, "/v2/s2s/batch", [earlier, withdrawal])
    project(engine)

    player = await get(client, tenant.read_key, "/api/v1/players/alice")

    assert player["registered_at"] == "2026-09-21T14:13:20Z"
    assert player["registration_missing"] is False
    assert (player["click_id"], player["ip_address"], player["device"]) == (
        "ad-net-77",
        "203.0.113.9",
        "mobile",
    )
    assert player["first_deposit_at"] == "2026-09-21T15:13:20Z"
    assert (player["first_deposit_amount"], player["first_deposit_currency"]) == ("20.10", "EUR")
    assert player["totals"] == [
        {
            "currency": "EUR",
            "deposits": 2,
            "deposits_amount": "70.10",
            "withdrawals": 1,
            "withdrawals_amount": "5.05",
            "chargebacks": 0,
            "chargebacks_amount": "0",
        }
    ]
    assert player["events"] == 4
    assert player["last_activity_at"] == "2026-09-21T16:43:20Z"


async def test_a_revvvs_first_deposit_claim_is_checked_against_the_stream(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    events = [
        rv(tenant, "first_deposit", "2026-10-02T10:00:00Z", "k1", currency="EUR", amount=100),
        rv(tenant, "deposit", "2026-10-01T10:00:00Z", "k2", currency="EUR", amount=30),
    ]
    await send(client, tenant.key, "/api/v1/events", {"events": events})
    project(engine)

    player = await get(client, tenant.read_key, "/api/v1/players/bob")

    assert player["registration_missing"] is True  # no registration: created from activity
    assert player["first_deposit_amount"] == "30"
    assert player["first_deposit_at"] == "2026-10-01T10:00:00Z"
    assert player["claimed_first_deposit_at"] == "2026-10-02T10:00:00Z"
    assert player["first_deposit_mismatch"] is True


async def test_account_flag_is_the_latest_by_time_with_its_history(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    flags = [
        ("2026-10-03T00:00:00Z", "active", "self_excluded"),
        ("2026-10-01T00:00:00Z", "self_excluded", "active"),
    ]
    for number, (at, flag, previous) in enumerate(flags):  # the later change arrives first
        meta = {"flag": flag, "previous_flag": previous}
        body = rv(tenant, "account_flag_changed", at, f"f{number}", metadata=meta)
        await send(client, tenant.key, "/api/v1/events", body)
        project(engine)

    player = await get(client, tenant.admin_key, "/api/v1/players/bob")

    assert player["account_flag"] == "active"
    assert [(h["occurred_at"][:10], h["flag"]) for h in player["account_flag_history"]] == [
        ("2026-10-01", "self_excluded"),
        ("2026-10-03", "active"),
    ]


async def test_fast_track_block_flags_the_player(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    body = {"user_id": "carol", "timestamp": "2026-10-01T00:00:00Z", "origin": "site"}
    await send(client, tenant.key, "/v2/integration/user/blocks", body, method="PUT")
    project(engine)

    player = await get(client, tenant.read_key, "/api/v1/players/carol")

    assert player["account_flag"] == "blocked"


async def test_test_key_events_change_no_projection(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    body = dp("deposit", T0, transaction_id="t1", amount=10, currency="EUR")
    await send(client, tenant.test_key, "/v2/s2s/event", body)
    assert project(engine) == 0

    response = await client.get("/api/v1/players/alice", headers={"X-API-Key": tenant.read_key})

    assert response.status_code == 404


async def test_players_are_walled_off_by_operator_and_scope(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await send(client, tenant.key, "/v2/s2s/event", dp("login", T0))
    project(engine)
    other = make_tenant(engine, name="rival")

    foreign = await client.get("/api/v1/players/alice", headers={"X-API-Key": other.read_key})
    ingest_only = await client.get("/api/v1/players/alice", headers={"X-API-Key": tenant.key})

    assert (foreign.status_code, foreign.json()["error"]) == (404, "not_found")
    assert ingest_only.status_code == 403


async def test_a_player_in_two_brands_needs_the_brand(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    for brand in (tenant.brand_id, tenant.other_brand_id):
        body = rv(tenant, "registration", "2026-10-01T00:00:00Z", f"reg-{brand}", country="MT")
        body["brand_id"] = brand
        await send(client, tenant.key, "/api/v1/events", body)
    project(engine)

    ambiguous = await client.get("/api/v1/players/bob", headers={"X-API-Key": tenant.read_key})
    chosen = await get(client, tenant.read_key, "/api/v1/players/bob", brand=tenant.brand_id)

    assert (ambiguous.status_code, ambiguous.json()["error"]) == (400, "ambiguous_player")
    assert (chosen["brand_id"], chosen["country"]) == (tenant.brand_id, "MT")


async def test_timeline_pages_newest_first(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    events = [dp("login", T0 + minute * 60) for minute in range(5)]
    await send(client, tenant.key, "/v2/s2s/batch", events)

    first = await get(client, tenant.read_key, "/api/v1/players/alice/timeline", limit=3)
    rest = await get(
        client,
        tenant.read_key,
        "/api/v1/players/alice/timeline",
        limit=3,
        cursor=first["next_cursor"],
    )
    bad = await client.get(
        "/api/v1/players/alice/timeline",
        params={"cursor": "nonsense"},
        headers={"X-API-Key": tenant.read_key},
    )

    times = [event["occurred_at"] for event in first["events"] + rest["events"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == 5
    assert rest["next_cursor"] is None
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_query")
