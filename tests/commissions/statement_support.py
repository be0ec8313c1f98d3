"""For plan, qualification and statement tests: affiliates, plans and assignments made
through the admin API, players credited through a click, Revvvs events, statement reads."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.affiliates.models import Affiliate
from croupier.affiliates.postback_models import PostbackDelivery
from croupier.commissions.statement_models import (
    CpaQualification,
    Statement,
    StatementAdjustment,
    StatementLine,
)
from croupier.kit import jsoncodec
from factories import Tenant, add_click
from projection_support import project, projector, table_rows

D = Decimal
_keys = itertools.count(1)
RV = "/api/v1/events"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rv(
    tenant: Tenant, event_type: str, player: str, when: str, amount: Any = None, **more: Any
) -> dict[str, Any]:
    """A Revvvs event of the tenant's brand with a fresh idempotency key."""
    event: dict[str, Any] = {
        "event_type": event_type,
        "event_time": when,
        "brand_id": more.pop("brand_id", tenant.brand_id),
        "player_external_ref": player,
        "idempotency_key": f"st-{event_type}-{next(_keys)}",
    }
    if amount is not None:
        event.update(currency=more.pop("currency", "EUR"), amount=D(str(amount)))
    event.update(more)
    return event


async def post(client: httpx.AsyncClient, key: str, path: str, body: Any) -> httpx.Response:
    return await client.post(
        path,
        content=jsoncodec.encode(body),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )


async def send_rv(client: httpx.AsyncClient, tenant: Tenant, *events: dict[str, Any]) -> list[str]:
    """Revvvs events in batches of 100, all accepted; their event ids."""
    ids: list[str] = []
    for start in range(0, len(events), 100):
        response = await post(client, tenant.key, RV, {"events": list(events[start : start + 100])})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["summary"]["accepted"] == len(events[start : start + 100]), answer
        ids.extend(result["event_id"] for result in answer["results"])
    return ids


async def affiliate(
    client: httpx.AsyncClient, tenant: Tenant, name: str, **extra: Any
) -> dict[str, Any]:
    body = {"name": name, "email": f"{name}@example.com", "status": "active", **extra}
    response = await post(client, tenant.admin_key, "/api/v1/affiliates", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def plan(
    client: httpx.AsyncClient, tenant: Tenant, name: str, **version: Any
) -> dict[str, Any]:
    body = {"name": name, "effective_from": "2026-01-01", **version}
    response = await post(client, tenant.admin_key, "/api/v1/commission-plans", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def assign(
    client: httpx.AsyncClient,
    tenant: Tenant,
    affiliate_id: str,
    plan_id: str | None,
    *,
    effective_from: str = "2026-01-01",
    brand_id: str | None = None,
) -> dict[str, Any]:
    body = {
        "affiliate_id": affiliate_id,
        "plan_id": plan_id,
        "brand_id": brand_id,
        "effective_from": effective_from,
    }
    response = await post(client, tenant.admin_key, "/api/v1/commission-assignments", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def revshare_affiliate(
    client: httpx.AsyncClient, tenant: Tenant, name: str, **version: Any
) -> str:
    """An active affiliate with its own plan (a flat 25 % RevShare unless told)."""
    found = await affiliate(client, tenant, name)
    terms = version or {"kind": "revshare", "revshare": {"rate": "25"}}
    created = await plan(client, tenant, f"plan-{name}", **terms)
    await assign(client, tenant, found["id"], created["id"])
    return str(found["id"])


def registration(
    engine: Engine, tenant: Tenant, affiliate_id: str, player: str, when: str
) -> dict[str, Any]:
    """A Revvvs registration through one of the affiliate's clicks (so it is credited)."""
    click_id = add_click(
        engine,
        operator_id=tenant.operator_id,
        brand_id=tenant.brand_id,
        affiliate_id=affiliate_id,
        clicked_at=at(when) - timedelta(hours=1),
    )
    return rv(tenant, "registration", player, when, click_id=click_id)


async def run(client: httpx.AsyncClient, tenant: Tenant, period: str) -> dict[str, Any]:
    response = await post(client, tenant.admin_key, "/api/v1/statements/run", {"period": period})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def project_and_run(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant, period: str
) -> dict[str, Any]:
    project(engine)
    # On a shared PostgreSQL server a transaction left open elsewhere holds the projector
    # back (DESIGN.md, "Commit order vs seq"): say so rather than compute from half a log.
    assert projector(engine).backlog() == 0, "events left unprojected"
    return await run(client, tenant, period)


async def statement(
    client: httpx.AsyncClient, tenant: Tenant, period: str, affiliate_id: str
) -> dict[str, Any]:
    """The affiliate's statement of the month, whole (admin view)."""
    response = await client.get(
        "/api/v1/statements",
        params={"period": period, "affiliate_id": affiliate_id},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert response.status_code == 200, response.text
    found = response.json()["statements"]
    assert len(found) == 1, found
    shown = await client.get(
        f"/api/v1/statements/{found[0]['id']}", headers={"X-API-Key": tenant.admin_key}
    )
    assert shown.status_code == 200, shown.text
    document: dict[str, Any] = shown.json()
    return document


async def close(client: httpx.AsyncClient, tenant: Tenant, statement_id: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/statements/{statement_id}/close", headers={"X-API-Key": tenant.admin_key}
    )


async def rates(client: httpx.AsyncClient, tenant: Tenant, *items: dict[str, str]) -> None:
    response = await post(client, tenant.admin_key, "/api/v1/fx-rates", {"rates": list(items)})
    assert response.status_code in (200, 201), response.text


def lines_by_player(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["player_ref"]: line for line in document["lines"]}


async def postback(
    client: httpx.AsyncClient, tenant: Tenant, affiliate_id: str, url: str, events: list[str]
) -> dict[str, Any]:
    response = await post(
        client,
        tenant.admin_key,
        f"/api/v1/affiliates/{affiliate_id}/postbacks",
        {"url": url, "events": events},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries(engine: Engine, event: str) -> list[PostbackDelivery]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(PostbackDelivery).where(PostbackDelivery.event == event)
        return list(session.scalars(query.order_by(PostbackDelivery.player_ref)))


def player_salt(engine: Engine, affiliate_id: str) -> str:
    with Session(engine) as session:
        found = session.get(Affiliate, affiliate_id)
        assert found is not None
        return found.player_salt


def qualifications(engine: Engine) -> dict[str, CpaQualification]:
    with Session(engine, expire_on_commit=False) as session:
        found = session.scalars(select(CpaQualification))
        return {row.player_ref: row for row in found}


def _rows(engine: Engine, table: Any, *, without: str) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in row.items() if k != without} for row in table_rows(engine, table)]
    return sorted(rows, key=lambda row: [repr(row[name]) for name in sorted(row)])


def statement_tables(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every statement figure as stored (what a replay and re-run must reproduce)."""
    return {
        "statements": _rows(engine, Statement.__table__, without="computed_at"),
        "lines": _rows(engine, StatementLine.__table__, without=""),
        "adjustments": _rows(engine, StatementAdjustment.__table__, without="id"),
    }
