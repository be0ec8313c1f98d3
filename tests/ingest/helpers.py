"""Small helpers for the ingest API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.dialects import datapulse
from croupier.events.models import Event, RejectedEvent
from croupier.ingest.outcome import PendingEvent
from croupier.ingest.service import event_row
from croupier.kit import jsoncodec
from factories import Tenant


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


def pending_event(tenant: Tenant, transaction_id: str) -> PendingEvent:
    """A valid DataPulse deposit of the tenant's, as the writer receives it."""
    return pending_of(tenant, dp_event(transaction_id=transaction_id))


def pending_of(tenant: Tenant, payload: dict[str, Any]) -> PendingEvent:
    """A valid DataPulse event of the tenant's, as the writer receives it."""
    wire = jsoncodec.decode(jsoncodec.encode(payload))
    draft = datapulse.parse(wire, future_limit=datetime.now(UTC) + timedelta(days=1))
    assert not isinstance(draft, list)
    row = event_row(draft, tenant.ingest_key(), source="http", received_at=datetime.now(UTC))
    return PendingEvent(row, draft.key_field, "test", None)


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


def bet(tx: str, **fields: object) -> dict[str, object]:
    """A DataPulse bet (add bet_result and bet_result_amount for pattern A)."""
    return dp_event(event_name="bet", transaction_id=tx, amount=5, game_type="slot", **fields)


def settle(tx: str, parent: str, name: str = "win", amount: object = 3) -> dict[str, object]:
    """A DataPulse win or loss of bet ``parent`` (pattern B)."""
    return dp_event(event_name=name, transaction_id=tx, parent_transaction_id=parent, amount=amount)
