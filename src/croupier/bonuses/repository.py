"""Reads of the bonus projection for the API, and how a bonus looks in JSON."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, exists, or_, select, tuple_
from sqlalchemy.orm import Session

from croupier.bonuses.models import Bonus, BonusEvent
from croupier.events.models import Event
from croupier.kit.money import decimal_text

BONUSES: Table = Bonus.__table__  # type: ignore[assignment]
BONUS_EVENTS: Table = BonusEvent.__table__  # type: ignore[assignment]
_VIOLATIONS = ("casino_before_created", "events_after_closure", "second_created")


@dataclass(frozen=True)
class BonusQuery:
    operator_id: str
    player_ref: str
    brand_id: str | None = None
    status: str | None = None
    flagged: bool | None = None
    # The (brand_id, bonus_ref) of the last bonus of the previous page.
    after: tuple[str, str] | None = None
    limit: int = 100


def player_known(
    session: Session, *, operator_id: str, player_ref: str, brand_id: str | None
) -> bool:
    """Whether the operator's log holds any event of this player (of this brand, if given)."""
    query = select(Event.seq).where(
        Event.operator_id == operator_id, Event.player_ref == player_ref
    )
    if brand_id is not None:
        query = query.where(Event.brand_id == brand_id)
    return bool(session.execute(select(exists(query))).scalar())


def list_bonuses(session: Session, *, wanted: BonusQuery) -> list[dict[str, Any]]:
    """One page of a player's bonuses with their status history, ordered by (brand, bonus)."""
    table = BONUSES
    query = select(table).where(
        table.c.operator_id == wanted.operator_id, table.c.player_ref == wanted.player_ref
    )
    if wanted.brand_id is not None:
        query = query.where(table.c.brand_id == wanted.brand_id)
    if wanted.status is not None:
        query = query.where(table.c.status == wanted.status)
    if wanted.flagged is not None:
        any_flag = or_(*(table.c[name] for name in _VIOLATIONS))
        query = query.where(any_flag if wanted.flagged else ~any_flag)
    if wanted.after is not None:
        query = query.where(tuple_(table.c.brand_id, table.c.bonus_ref) > wanted.after)
    query = query.order_by(table.c.brand_id, table.c.bonus_ref).limit(wanted.limit)
    rows = [dict(row) for row in session.execute(query).mappings()]
    history = _histories(session, wanted=wanted, rows=rows)
    return [bonus_json(row, history=history[(row["brand_id"], row["bonus_ref"])]) for row in rows]


def _histories(
    session: Session, *, wanted: BonusQuery, rows: list[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    if not rows:
        return found
    table = BONUS_EVENTS
    query = (
        select(table)
        .where(
            table.c.operator_id == wanted.operator_id,
            table.c.player_ref == wanted.player_ref,
            table.c.bonus_ref.in_(sorted({row["bonus_ref"] for row in rows})),
        )
        .order_by(table.c.occurred_at, table.c.seq)
    )
    for event in session.execute(query).mappings():
        found[(event["brand_id"], event["bonus_ref"])].append(history_json(event))
    return found


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def history_json(event: Any) -> dict[str, Any]:
    return {
        "event_id": event["event_id"],
        "seq": event["seq"],
        "status": event["status"],
        "occurred_at": _time(event["occurred_at"]),
        "amount": decimal_text(event["amount"]),
        "currency": event["currency"],
        "bonus_turned_real": decimal_text(event["bonus_turned_real"]),
        "locked_amount": decimal_text(event["locked_amount"]),
        "required_wagering": decimal_text(event["required_wagering"]),
    }


def bonus_json(row: dict[str, Any], *, history: list[dict[str, Any]]) -> dict[str, Any]:
    """A bonus as the API shows it: exact amounts as strings, times in UTC ISO 8601."""
    required: Decimal | None = row["required_wagering"]
    wagered: Decimal = row["wagered"]
    remaining = None if required is None else max(required - wagered, Decimal(0))
    return {
        "brand_id": row["brand_id"],
        "bonus_ref": row["bonus_ref"],
        "bonus_id": row["bonus_id"],
        "bonus_type": row["bonus_type"],
        "product": row["product"],
        "bonus_code": row["bonus_code"],
        "currency": row["currency"],
        "status": row["status"],
        "status_at": _time(row["status_at"]),
        "created_at": _time(row["created_at"]),
        "closed_at": _time(row["closed_at"]),
        "closed_status": row["closed_status"],
        "amount_awarded": decimal_text(row["amount_awarded"]),
        "amount_turned_real": decimal_text(row["amount_turned_real"]),
        "amount_forfeited": decimal_text(row["amount_forfeited"]),
        "wagering": {
            "required": decimal_text(required),
            "wagered": decimal_text(wagered),
            "bonus_wagered": decimal_text(row["bonus_wagered"]),
            "remaining": decimal_text(remaining),
            "won": decimal_text(row["won"]),
            "casino_events": row["casino_events"],
            "first_casino_at": _time(row["first_casino_at"]),
            "last_casino_at": _time(row["last_casino_at"]),
        },
        "violations": {name: row[name] for name in _VIOLATIONS},
        "history": history,
    }
