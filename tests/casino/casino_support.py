"""Builders and readers shared by the casino tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from projection_support import D, ft_casino, send

FT_CASINO = "/v1/integration/casino"
DP_BATCH = "/v2/s2s/batch"
REVVVS = "/api/v1/events"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ft(activity: str, kind: str, amount: str, when: str, **fields: Any) -> dict[str, Any]:
    """A Fast Track casino event at ``when`` (ISO, UTC) with all of the amount real money."""
    return ft_casino(
        activity_id=activity, type=kind, amount=D(amount), timestamp=f"{when}Z", **fields
    )


def dp(name: str, tx: str, amount: str, when: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "client_user_id": "p-1",
        "event_name": name,
        "transaction_id": tx,
        "timestamp": int(at(when).timestamp()),
        "amount": D(amount),
        "currency": "EUR",
        "game_type": "slot",
        "game_provider": "GGP",
    }
    event.update(fields)
    return event


def revvvs(brand: str, key: str, event_type: str, amount: str, when: str) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "event_time": f"{when}Z",
        "brand_id": brand,
        "player_external_ref": "p-1",
        "idempotency_key": key,
        "amount": D(amount),
        "currency": "EUR",
        "metadata": {"product": "casino", "game_id": "rv-game"},
    }


async def send_ft(client: httpx.AsyncClient, key: str, *events: dict[str, Any]) -> None:
    for event in events:
        await send(client, key, FT_CASINO, event)
