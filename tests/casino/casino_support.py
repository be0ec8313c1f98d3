"""Builders and readers shared by the casino tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.projections.models import Checkpoint
from projection_support import D, ft_casino, projector, send

FT_CASINO = "/v1/integration/casino"
DP_BATCH = "/v2/s2s/batch"
REVVVS = "/api/v1/events"


def project_all(engine: Engine, *, batch_size: int = 2000) -> None:
    """Project until every stored event is behind the checkpoint. On PostgreSQL the projector
    reads only below the oldest transaction in flight anywhere in the cluster (other test
    runs included), so one pass may stop short of the last commit: wait for it."""
    runner = projector(engine, batch_size=batch_size)
    deadline = time.monotonic() + 20
    while True:
        runner.run_until_caught_up()
        with Session(engine) as session:
            stored = session.scalar(select(func.count()).select_from(Event)) or 0
            checkpoint = session.scalar(select(Checkpoint).where(Checkpoint.name == "main"))
            read = 0 if checkpoint is None else checkpoint.events
            live = session.scalar(
                select(func.count()).select_from(Event).where(Event.is_test.is_(False))
            )
        if read >= (live or 0) or stored == 0:
            return
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.05)


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
