"""Small helpers for the ingest API tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.events.models import Event, RejectedEvent


def headers(key: str, **extra: str) -> dict[str, str]:
    return {"X-API-Key": key, "Content-Type": "application/json", **extra}


def stored_events(engine: Engine, **where: Any) -> list[Event]:
    with Session(engine) as session:
        query = select(Event).filter_by(**where).order_by(Event.seq)
        return list(session.scalars(query))


def count_rejected(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(RejectedEvent)) or 0


def rejected(engine: Engine) -> list[RejectedEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(RejectedEvent).order_by(RejectedEvent.id)))


def dp_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "client_user_id": "user_001",
        "event_name": "deposit",
        "transaction_id": "tx_1",
        "timestamp": 1702963200,
        "amount": 50,
        "currency": "USD",
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}
