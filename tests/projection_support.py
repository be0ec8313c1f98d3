"""Helpers for projection tests: send events through the real ingest API, then project."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.kit import jsoncodec
from croupier.projections import registry
from croupier.projections.engine import Projector

D = Decimal


def projector(engine: Engine, *, batch_size: int = 2000) -> Projector:
    return Projector(engine, registry.handlers(), batch_size=batch_size)


def project(engine: Engine) -> int:
    """Apply everything stored so far; the number of events applied."""
    return projector(engine).drain()


async def send(
    client: httpx.AsyncClient, key: str, path: str, body: Any, method: str = "POST"
) -> Any:
    """Send one request (Decimals as JSON numbers) and insist every event was accepted."""
    response = await client.request(
        method,
        path,
        content=jsoncodec.encode(body),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def get(client: httpx.AsyncClient, key: str, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return response.json()


def table_rows(engine: Engine, table: Table) -> list[dict[str, Any]]:
    """Every row of a table, sorted by all columns: what replay-equality compares."""
    with Session(engine) as session:
        rows = [dict(row) for row in session.execute(select(table)).mappings()]
    return sorted(rows, key=lambda row: [repr(row[name]) for name in sorted(row)])


def ft_casino(**fields: Any) -> dict[str, Any]:
    """A valid Fast Track casino event (specs/004), overridable field by field."""
    event: dict[str, Any] = {
        "activity_id": "a-1",
        "amount": D("10"),
        "bonus_wager_amount": D("0"),
        "currency": "EUR",
        "exchange_rate": D("1"),
        "game_id": "g-1",
        "game_name": "Starburst",
        "game_type": "Slots",
        "is_round_end": False,
        "locked_wager_amount": D("0"),
        "origin": "test",
        "round_id": "r-1",
        "status": "Approved",
        "timestamp": "2026-11-01T10:00:00Z",
        "type": "Bet",
        "user_id": "p-1",
        "vendor_id": "v-1",
        "vendor_name": "NetEnt",
        "wager_amount": D("10"),
    }
    event.update(fields)
    if "amount" in fields and "wager_amount" not in fields:
        event["wager_amount"] = event["amount"]
        event["bonus_wager_amount"] = event["locked_wager_amount"] = D("0")
    return event
