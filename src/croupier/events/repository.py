"""Reading the event log back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.kit.money import decimal_text

_MONEY = ("amount", "exchange_rate", "stake", "ggr_delta")
_HIDDEN = frozenset({"content_hash", "raw", "api_key_id", "tx_id", *_MONEY})


def get_event(session: Session, *, operator_id: str, event_id: str) -> Event | None:
    return session.scalar(
        select(Event).where(Event.operator_id == operator_id, Event.event_id == event_id)
    )


def list_events(
    session: Session,
    *,
    operator_id: str,
    player_ref: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> list[Event]:
    query = select(Event).where(Event.operator_id == operator_id)
    if player_ref is not None:
        query = query.where(Event.player_ref == player_ref)
    if kind is not None:
        query = query.where(Event.kind == kind)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if after_seq is not None:
        query = query.where(Event.seq > after_seq)
    return list(session.scalars(query.order_by(Event.seq).limit(limit)))


def event_json(event: Event) -> dict[str, Any]:
    """An event as integrators read it: exact amounts as strings, times in UTC ISO 8601."""
    out: dict[str, Any] = {}
    for column in Event.__table__.columns:
        if column.key in _HIDDEN:
            continue
        value = getattr(event, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else value
    for name in _MONEY:
        out[name] = decimal_text(getattr(event, name))
    # The payload exactly as received: its numbers stay JSON numbers.
    out["payload"] = msgspec.Raw(event.raw.encode())
    return out
