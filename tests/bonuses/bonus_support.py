"""Factories and helpers shared by the bonus tests."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.projections.engine import MAIN
from croupier.projections.models import Checkpoint
from projection_support import ft_casino, project

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


def project_all(engine: Engine, *, timeout: float = 20.0) -> None:
    """Project until every stored event is applied.

    On PostgreSQL the projector reads only below the oldest transaction in flight on the
    whole server, so another process's open transaction can hold a fresh event back for
    a moment: one ``project`` call may stop short of it."""
    deadline = time.monotonic() + timeout
    while True:
        project(engine)
        with Session(engine) as session:
            newest = session.execute(
                select(Event.tx_id, Event.seq).order_by(Event.tx_id.desc(), Event.seq.desc())
            ).first()
            checkpoint = session.get(Checkpoint, MAIN)
            behind = newest is not None and (
                checkpoint is None or (checkpoint.tx_id, checkpoint.seq) < tuple(newest)
            )
        if not behind:
            return
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.05)


async def bonuses_of(
    client: httpx.AsyncClient, key: str, player_ref: str = "p-1", **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/players/{player_ref}/bonuses", params=params, headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.text
    bonuses: list[dict[str, Any]] = response.json()["bonuses"]
    return bonuses
