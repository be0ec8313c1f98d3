"""DataPulse over HTTP: the spec's curl example, batches, idempotency, settlement patterns."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from helpers import bet, count_rejected, dp_event, headers, settle, stored_events
from sqlalchemy.engine import Engine

from factories import Tenant
from spec_examples import DATAPULSE_CURL_DEPOSIT

pytestmark = pytest.mark.anyio


async def test_spec_curl_example_is_accepted_and_stored(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    response = await client.post(
        "/v2/s2s/event",
        content=DATAPULSE_CURL_DEPOSIT,
        headers={"Content-Type": "application/json", "X-API-KEY": tenant.key},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "accepted"
    [event] = stored_events(engine)
    assert event.event_id == body["event_id"]
    assert event.kind == "deposit"
    assert event.amount == Decimal("50.00")
    assert event.currency == "USD"
    assert event.player_ref == "user_001"
    assert event.click_id == "clk_998877"
    assert event.ip_address == "203.0.113.1"
    assert event.occurred_at.isoformat() == "2023-12-19T05:20:00+00:00"
    assert event.brand_id == tenant.brand_id
    assert event.operator_id == tenant.operator_id
    assert event.format == "datapulse"
    assert event.source == "http"
    assert not event.is_test


async def test_replay_is_a_duplicate_and_changed_content_a_conflict(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    first = await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.key))
    again = await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.key))
    changed = await client.post(
        "/v2/s2s/event", json=dp_event(amount=51), headers=headers(tenant.key)
    )
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200
    assert again.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}
    assert changed.status_code == 400
    body = changed.json()
    assert body["error"] == "conflict"
    assert body["event_id"] == first.json()["event_id"]
    assert body["details"][0]["code"] == "conflict"
    assert body["details"][0]["field"] == "transaction_id"
    [event] = stored_events(engine)
    assert event.amount == Decimal(50)  # the original is never changed
    assert count_rejected(engine) == 1


async def test_seconds_and_milliseconds_mean_the_same_moment(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    for name, stamp in (("login", 1702963200), ("register", 1702963200000)):
        response = await client.post(
            "/v2/s2s/event",
            json={"client_user_id": "u", "event_name": name, "timestamp": stamp},
            headers=headers(tenant.key),
        )
        assert response.status_code == 200, response.text
    login, register = stored_events(engine)
    assert login.occurred_at == register.occurred_at


async def test_batch_accepts_valid_events_and_reports_each_invalid_one(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    batch = [
        dp_event(transaction_id="tx_a"),
        dp_event(transaction_id="tx_b", currency="XYZ"),
        dp_event(transaction_id="tx_c", amount=-5),
        {"client_user_id": "u", "event_name": "app_open", "timestamp": 1702963200, "x": "y"},
    ]
    response = await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"] == {"total": 4, "accepted": 2, "duplicates": 0, "errors": 2}
    statuses = [result["status"] for result in body["results"]]
    assert statuses == ["accepted", "rejected", "rejected", "accepted"]
    assert body["results"][1]["errors"] == [
        {
            "index": 1,
            "field": "currency",
            "code": "invalid_currency",
            "message": "'XYZ' is not an ISO 4217 code",
        }
    ]
    assert body["results"][2]["errors"][0]["code"] == "below_minimum"
    kinds = [event.kind for event in stored_events(engine)]
    assert kinds == ["deposit", "custom"]
    assert count_rejected(engine) == 2


async def test_batch_with_nothing_accepted_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    response = await client.post(
        "/v2/s2s/batch", json=[{"event_name": "deposit"}, 42], headers=headers(tenant.key)
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "no_event_accepted"
    assert body["summary"]["errors"] == 2
    assert {detail["index"] for detail in body["details"]} == {0, 1}
    assert stored_events(engine) == []


async def test_batch_of_only_duplicates_is_a_200(client: httpx.AsyncClient, tenant: Tenant) -> None:
    batch = [dp_event(transaction_id="a"), dp_event(transaction_id="b")]
    await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    response = await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    assert response.status_code == 200
    assert response.json()["summary"] == {"total": 2, "accepted": 0, "duplicates": 2, "errors": 0}


async def test_the_same_key_twice_in_one_batch_is_stored_once(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    batch = [dp_event(), dp_event(), dp_event(amount=7)]
    response = await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "duplicate", "conflict"]
    assert results[1]["event_id"] == results[0]["event_id"] == results[2]["event_id"]
    assert len(stored_events(engine)) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"not": "an array"}, 400, "invalid_batch"),
        ([], 400, "empty_batch"),
        ([dp_event(transaction_id=f"t{i}") for i in range(1001)], 413, "batch_too_large"),
    ],
)
async def test_batch_shape_errors(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, body: object, status: int, code: str
) -> None:
    response = await client.post("/v2/s2s/batch", json=body, headers=headers(tenant.key))
    assert response.status_code == status
    assert response.json()["error"] == code
    assert stored_events(engine) == []
    assert count_rejected(engine) == 1


async def test_batch_limit_is_configurable(
    settings: object, engine: Engine, tenant: Tenant
) -> None:
    from conftest import app_client

    async with app_client(settings, engine, datapulse_max_batch=2) as client:  # type: ignore[arg-type]
        batch = [dp_event(transaction_id=f"t{i}") for i in range(3)]
        response = await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    assert response.status_code == 413


async def test_pattern_a_then_pattern_b_is_a_double_settlement(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    placed = await client.post(
        "/v2/s2s/event",
        json=bet("b1", bet_result="win", bet_result_amount=1),
        headers=headers(tenant.key),
    )
    assert placed.json()["status"] == "accepted"
    again = await client.post("/v2/s2s/event", json=settle("w1", "b1"), headers=headers(tenant.key))
    assert again.status_code == 400
    assert again.json()["details"][0]["code"] == "double_settlement"
    [stored] = stored_events(engine)
    assert stored.ggr_delta == Decimal(-1)


async def test_pattern_b_then_pattern_a_is_a_double_settlement(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    settled = await client.post(
        "/v2/s2s/event", json=settle("l1", "b2", "loss", -5), headers=headers(tenant.key)
    )
    assert settled.json()["status"] == "accepted"  # a settlement may arrive before its bet
    late = await client.post(
        "/v2/s2s/event",
        json=bet("b2", bet_result="loss", bet_result_amount=-5),
        headers=headers(tenant.key),
    )
    assert late.status_code == 400
    assert late.json()["details"][0] == {
        "field": "bet_result",
        "code": "double_settlement",
        "message": "bet 'b2' is already settled by a separate win/loss (pattern B)",
    }
    # a plain bet (pattern B) for the same transaction is fine
    plain = await client.post("/v2/s2s/event", json=bet("b2"), headers=headers(tenant.key))
    assert plain.json()["status"] == "accepted"
    assert [e.kind for e in stored_events(engine)] == ["settlement", "bet"]


async def test_double_settlement_inside_one_batch(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    batch = [
        bet("b3", bet_result="win", bet_result_amount=2),
        settle("w3", "b3"),
        bet("b4"),
        settle("w4", "b4"),
    ]
    response = await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted", "accepted"]
    assert results[1]["errors"][0]["code"] == "double_settlement"
    b4, w4 = stored_events(engine)[1:]
    assert (b4.stake, b4.ggr_delta, b4.round_id) == (Decimal(5), Decimal(0), "b4")
    assert (w4.ggr_delta, w4.round_id) == (Decimal(-3), "b4")


async def test_double_settlement_is_scoped_per_operator(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    from factories import make_tenant

    other = make_tenant(engine, name="other")
    await client.post(
        "/v2/s2s/event",
        json=bet("shared", bet_result="win", bet_result_amount=1),
        headers=headers(other.key),
    )
    response = await client.post(
        "/v2/s2s/event", json=settle("w", "shared"), headers=headers(tenant.key)
    )
    assert response.json()["status"] == "accepted"
