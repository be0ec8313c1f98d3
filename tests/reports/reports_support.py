"""Event builders for the report tests: one player-day story in each wire format."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from croupier.kit import jsoncodec

D = Decimal
DAY_1 = "2026-11-01"
DAY_2 = "2026-11-02"
# Unix seconds of 2026-11-01T12:00Z and 2026-11-02T08:00Z (DataPulse timestamps).
DP_DAY_1 = 1793534400
DP_DAY_2 = 1793606400


def ft_payment(**fields: Any) -> dict[str, Any]:
    """A valid Fast Track payment (an approved deposit unless overridden)."""
    event: dict[str, Any] = {
        "amount": D("50"),
        "currency": "EUR",
        "exchange_rate": D("1"),
        "origin": "test",
        "payment_id": "pay-1",
        "status": "Approved",
        "timestamp": f"{DAY_1}T09:00:00Z",
        "type": "Credit",
        "user_id": "p-1",
        "vendor_id": 42,
        "vendor_name": "Skrill",
    }
    event.update(fields)
    return event


def dp(**fields: Any) -> dict[str, Any]:
    """A DataPulse event (a USD bet unless overridden)."""
    event: dict[str, Any] = {
        "client_user_id": "dp-1",
        "event_name": "bet",
        "transaction_id": "tx-1",
        "timestamp": DP_DAY_1,
        "amount": D("5.00"),
        "currency": "USD",
        "game_type": "slot",
        "game_provider": "GGP",
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def rv(brand_id: str, **fields: Any) -> dict[str, Any]:
    """A Revvvs event (a EUR casino wager unless overridden)."""
    event: dict[str, Any] = {
        "event_type": "wager_placed",
        "event_time": f"{DAY_1}T15:00:00Z",
        "brand_id": brand_id,
        "player_external_ref": "rv-1",
        "idempotency_key": "rv-key-1",
        "currency": "EUR",
        "amount": D("20.00"),
        "metadata": {"product": "casino"},
    }
    event.update(fields)
    return event


async def post_rates(client: httpx.AsyncClient, key: str, rates: list[dict[str, Any]]) -> Any:
    return await client.post(
        "/api/v1/fx-rates",
        content=jsoncodec.encode({"rates": rates}),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )


def day_rows(report: dict[str, Any]) -> dict[tuple[str, Any], dict[str, Any]]:
    """The report's rows by (day, group)."""
    return {(row["day"], row["group"]): row for row in report["days"]}
