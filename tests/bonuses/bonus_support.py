"""Factories and helpers shared by the bonus tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from projection_support import ft_casino

BONUS_PATH = "/v1/integration/bonus"
CASINO_PATH = "/v1/integration/casino"
D = Decimal


def ft_bonus(**fields: Any) -> dict[str, Any]:
    """A valid Fast Track bonus event (fasttrack-schemas/bonus), overridable field by field."""
    event: dict[str, Any] = {
        "amount": D("100.00"),
        "bonus_code": "WELCOME100",
        "bonus_id": "b-1",
        "currency": "EUR",
        "exchange_rate": D("1"),
        "origin": "www.brand.com",
        "product": "Casino",
        "required_wagering_amount": D("3500.00"),
        "status": "Created",
        "timestamp": "2026-11-01T10:00:00Z",
        "type": "FreeMoney",
        "user_bonus_id": "ABCD",
        "user_id": "p-1",
    }
    event.update(fields)
    return event


def bonus_bet(activity_id: str, timestamp: str, **fields: Any) -> dict[str, Any]:
    """A Bet played with bonus money, carrying the user_bonus_id."""
    amount = fields.pop("amount", D("20.00"))
    return ft_casino(
        activity_id=activity_id,
        timestamp=timestamp,
        amount=amount,
        wager_amount=D("0"),
        bonus_wager_amount=amount,
        locked_wager_amount=D("0"),
        user_bonus_id="ABCD",
        **fields,
    )


def bonus_win(activity_id: str, timestamp: str, **fields: Any) -> dict[str, Any]:
    amount = fields.pop("amount", D("35.50"))
    return ft_casino(
        activity_id=activity_id,
        timestamp=timestamp,
        type="Win",
        amount=amount,
        wager_amount=D("0"),
        bonus_wager_amount=amount,
        locked_wager_amount=D("0"),
        is_round_end=True,
        user_bonus_id="ABCD",
        **fields,
    )


async def bonuses_of(
    client: httpx.AsyncClient, key: str, player_ref: str = "p-1", **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/players/{player_ref}/bonuses", params=params, headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.text
    bonuses: list[dict[str, Any]] = response.json()["bonuses"]
    return bonuses
