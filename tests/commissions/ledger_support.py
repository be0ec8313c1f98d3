"""Builders and readers for the NGR ledger tests."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from croupier.commissions.ledger import NGR_LINES
from croupier.kit import jsoncodec
from projection_support import table_rows

D = Decimal
_keys = itertools.count(1)


def rv(
    brand_id: str, event_type: str, amount: Any, *, at: str, player: str = "rv-1", **more: Any
) -> dict[str, Any]:
    """A Revvvs event with a fresh idempotency key (``at`` is an ISO time)."""
    event: dict[str, Any] = {
        "event_type": event_type,
        "event_time": at,
        "brand_id": brand_id,
        "player_external_ref": player,
        "idempotency_key": f"{event_type}-{next(_keys)}",
        "currency": "EUR",
        "amount": D(str(amount)),
    }
    event.update(more)
    return event


def ft_bonus(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "amount": D("20"),
        "bonus_id": "b-1",
        "currency": "EUR",
        "exchange_rate": D("1"),
        "origin": "test",
        "product": "Casino",
        "status": "Created",
        "timestamp": "2026-10-05T10:00:00Z",
        "type": "FreeMoney",
        "user_bonus_id": "ub-1",
        "user_id": "ft-1",
    }
    event.update(fields)
    return event


def ft_payment(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "amount": D("200"),
        "currency": "EUR",
        "exchange_rate": D("1"),
        "fee_amount": D("0"),
        "origin": "test",
        "payment_id": "pay-1",
        "status": "Approved",
        "timestamp": "2026-10-05T09:00:00Z",
        "type": "Credit",
        "user_id": "ft-1",
        "vendor_id": 42,
    }
    event.update(fields)
    return event


async def post_json(client: httpx.AsyncClient, key: str, path: str, body: Any) -> httpx.Response:
    return await client.post(
        path,
        content=jsoncodec.encode(body),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )


def lines(engine: Engine) -> list[dict[str, Any]]:
    return table_rows(engine, NGR_LINES)


def amounts(engine: Engine, player: str) -> dict[str, list[Decimal]]:
    """A player's line amounts per component, sorted."""
    found: dict[str, list[Decimal]] = {}
    for row in lines(engine):
        if row["player_ref"] == player:
            found.setdefault(row["component"], []).append(row["amount"])
    return {component: sorted(values) for component, values in found.items()}
