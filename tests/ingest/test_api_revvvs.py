"""Revvvs over HTTP: single and batch shapes, brands, idempotency keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from helpers import headers, stored_events
from sqlalchemy.engine import Engine

from factories import Tenant, make_tenant

pytestmark = pytest.mark.anyio


def registration(brand: str, key: str = "reg_player_001", **extra: Any) -> dict[str, Any]:
    return {
        "event_type": "registration",
        "event_time": "2026-03-15T10:00:00Z",
        "brand_id": brand,
        "player_external_ref": "player_001",
        "idempotency_key": key,
        **extra,
    }


def spec_batch(brand: str) -> dict[str, Any]:
    """The batch example of 001, brand placeholder filled in."""
    return {
        "events": [
            registration(brand, "reg_player_001"),
            {
                "event_type": "first_deposit",
                "event_time": "2026-03-15T10:30:00Z",
                "brand_id": brand,
                "player_external_ref": "player_001",
                "idempotency_key": "ftd_player_001",
                "currency": "EUR",
                "amount": 50.00,
            },
        ]
    }


async def test_single_event_answers_in_the_documented_shape(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    event = registration(tenant.brand_id, click_id="abc-123-def", country="GB")
    response = await client.post("/api/v1/events", json=event, headers=headers(tenant.key))
    assert response.status_code == 200, response.text
    body = response.json()
    [stored] = stored_events(engine)
    assert body == {
        "summary": {"total": 1, "accepted": 1, "duplicates": 0, "errors": 0},
        "results": [
            {"event_id": stored.event_id, "idempotency_key": "reg_player_001", "status": "accepted"}
        ],
    }
    assert (stored.kind, stored.click_id, stored.country) == ("registration", "abc-123-def", "GB")


async def test_spec_batch_example_then_its_replay(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    first = await client.post(
        "/api/v1/events", json=spec_batch(tenant.brand_id), headers=headers(tenant.key)
    )
    assert first.status_code == 200
    body = first.json()
    assert body["summary"] == {"total": 2, "accepted": 2, "duplicates": 0, "errors": 0}
    assert [r["idempotency_key"] for r in body["results"]] == ["reg_player_001", "ftd_player_001"]
    replay = await client.post(
        "/api/v1/events", json=spec_batch(tenant.brand_id), headers=headers(tenant.key)
    )
    again = replay.json()
    assert again["summary"] == {"total": 2, "accepted": 0, "duplicates": 2, "errors": 0}
    assert [r["event_id"] for r in again["results"]] == [r["event_id"] for r in body["results"]]
    _registration, ftd = stored_events(engine)
    assert ftd.kind == "deposit"
    assert ftd.amount == Decimal("50.00")
    assert ftd.attributes == {"event_type": "first_deposit"}


async def test_brand_of_another_operator_is_forbidden_per_event(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    other = make_tenant(engine, name="rival")
    batch = {
        "events": [
            registration(tenant.other_brand_id, "k1"),
            registration(other.brand_id, "k2"),
            registration("00000000-0000-0000-0000-000000000000", "k3"),
        ]
    }
    response = await client.post("/api/v1/events", json=batch, headers=headers(tenant.key))
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"][0]["code"] == "brand_forbidden"
    [stored] = stored_events(engine)
    assert stored.brand_id == tenant.other_brand_id  # the payload's brand, not the key's default


async def test_keys_are_per_operator(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    other = make_tenant(engine, name="rival")
    mine = await client.post(
        "/api/v1/events", json=registration(tenant.brand_id), headers=headers(tenant.key)
    )
    theirs = await client.post(
        "/api/v1/events", json=registration(other.brand_id), headers=headers(other.key)
    )
    assert mine.json()["results"][0]["status"] == "accepted"
    assert theirs.json()["results"][0]["status"] == "accepted"


async def test_conflict_keeps_the_original(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await client.post(
        "/api/v1/events",
        json=registration(tenant.brand_id, country="GB"),
        headers=headers(tenant.key),
    )
    response = await client.post(
        "/api/v1/events",
        json=registration(tenant.brand_id, country="DE"),
        headers=headers(tenant.key),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["summary"] == {"total": 1, "accepted": 0, "duplicates": 0, "errors": 1}
    assert body["results"][0]["status"] == "conflict"
    assert body["details"][0]["field"] == "idempotency_key"
    [stored] = stored_events(engine)
    assert stored.country == "GB"


async def test_unknown_event_type_is_rejected(client: httpx.AsyncClient, tenant: Tenant) -> None:
    event = registration(tenant.brand_id, event_type="level_up")
    response = await client.post("/api/v1/events", json=event, headers=headers(tenant.key))
    assert response.status_code == 400
    assert response.json()["details"][0]["code"] == "unknown_event_type"


@pytest.mark.parametrize(("count", "status"), [(100, 200), (101, 413)])
async def test_batch_holds_at_most_100(
    client: httpx.AsyncClient, tenant: Tenant, count: int, status: int
) -> None:
    batch = {"events": [registration(tenant.brand_id, f"k{i}") for i in range(count)]}
    response = await client.post("/api/v1/events", json=batch, headers=headers(tenant.key))
    assert response.status_code == status


async def test_ngr_update_may_be_negative(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    event = {
        "event_type": "ngr_update",
        "event_time": "2026-03-15T23:59:00Z",
        "brand_id": tenant.brand_id,
        "player_external_ref": "player_001",
        "idempotency_key": "ngr_1",
        "currency": "EUR",
        "amount": -120.55,
        "metadata": {"period_start": "2026-03-01T00:00:00Z"},
    }
    response = await client.post("/api/v1/events", json=event, headers=headers(tenant.key))
    assert response.status_code == 200
    [stored] = stored_events(engine)
    assert stored.amount == Decimal("-120.55")
    assert stored.attributes["metadata"] == {"period_start": "2026-03-01T00:00:00Z"}
