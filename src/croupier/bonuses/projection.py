"""Fast Track bonus lifecycles (specs/004, "Scenario B"), folded from the event log.

Each ``user_bonus_id`` of a player is one row of ``bonuses``. Its casino side (wagered,
won, first and last casino event) is a commutative fold: sums, counts, min and max.
Its status side depends on the order of the bonus events, so every bonus event is kept
in ``bonus_events`` and the status side of a bonus is recomputed from that history
whenever one of its bonus events arrives, however late. The 004 sequence violations
are then derived from the folded fields, so the result depends only on the set of
events: an incremental build equals a replay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from croupier.bonuses.models import Bonus, BonusEvent
from croupier.kit.rows import load, matching, upsert
from croupier.projections.engine import Context, EventRow

FASTTRACK = "fasttrack"
CASINO_KINDS = frozenset({"bet", "settlement"})
UNKNOWN = "unknown"
CREATED = "created"
# Terminal statuses: a bonus that reached one is closed. 'pending' comes before
# 'created'; 'ongoing' repeats while wagering runs; 'claimed' is the player taking up an
# offered bonus, which still has to be wagered: none of those three closes a bonus.
TURNED_REAL = frozenset({"completed", "autocompleted"})
FORFEITING = frozenset({"forfeited", "expired", "lost", "reversed"})
CLOSING = TURNED_REAL | FORFEITING | {"notapplicable"}
ZERO = Decimal(0)
# Keys per SELECT of the history: well under both engines' parameter limits.
_CHUNK = 200

BONUSES: Table = Bonus.__table__  # type: ignore[assignment]
BONUS_EVENTS: Table = BonusEvent.__table__  # type: ignore[assignment]
_DESCRIPTIONS = ("bonus_id", "bonus_type", "product", "bonus_code", "required_wagering")

BonusKey = tuple[str, str, str, str]


def bonus_key(event: Any) -> BonusKey:
    return (event.operator_id, event.brand_id, event.player_ref, event.bonus_ref)


class Handler:
    tables: tuple[Table, ...] = (BONUSES, BONUS_EVENTS)

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        bonus_events = [event for event in events if _is_bonus_event(event)]
        casino_events = [event for event in events if _is_casino_event(event)]
        if not bonus_events and not casino_events:
            return
        upsert(session, BONUS_EVENTS, [history_row(event) for event in bonus_events])
        keys = {bonus_key(event) for event in (*bonus_events, *casino_events)}
        rows = load(session, BONUSES, keys)
        for key in keys:
            rows.setdefault(key, blank_bonus(key))
        for event in casino_events:
            add_casino_event(rows[bonus_key(event)], event=event)
        restated = {bonus_key(event) for event in bonus_events}
        for key, history in histories(session, keys=restated).items():
            rows[key].update(lifecycle(history))
        for row in rows.values():
            row.update(violations(row))
        upsert(session, BONUSES, [rows[key] for key in sorted(rows)])


def _is_bonus_event(event: EventRow) -> bool:
    return event.format == FASTTRACK and event.kind == "bonus" and bool(event.bonus_ref)


def _is_casino_event(event: EventRow) -> bool:
    return event.format == FASTTRACK and event.kind in CASINO_KINDS and bool(event.bonus_ref)


def _decimal(value: Any) -> Decimal | None:
    """An amount from ``attributes`` (JSON: int or Decimal), exactly; None if absent."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def history_row(event: EventRow) -> dict[str, Any]:
    attributes: dict[str, Any] = event.attributes or {}
    return {
        "operator_id": event.operator_id,
        "seq": event.seq,
        "brand_id": event.brand_id,
        "player_ref": event.player_ref,
        "bonus_ref": event.bonus_ref,
        "event_id": event.event_id,
        "status": event.status,
        "occurred_at": event.occurred_at,
        "amount": event.amount,
        "currency": event.currency,
        "bonus_turned_real": _decimal(attributes.get("bonus_turned_real")),
        "locked_amount": _decimal(attributes.get("locked_amount")),
        "required_wagering": _decimal(attributes.get("required_wagering_amount")),
        "bonus_id": _text(attributes.get("bonus_id")),
        "bonus_type": _text(attributes.get("type")),
        "product": _text(attributes.get("product")),
        "bonus_code": _text(attributes.get("bonus_code")),
    }


def blank_bonus(key: BonusKey) -> dict[str, Any]:
    """A bonus nothing has been folded into yet (a casino event may name it first)."""
    operator_id, brand_id, player_ref, bonus_ref = key
    return {
        "operator_id": operator_id,
        "brand_id": brand_id,
        "player_ref": player_ref,
        "bonus_ref": bonus_ref,
        **lifecycle([]),
        "wagered": ZERO,
        "bonus_wagered": ZERO,
        "won": ZERO,
        "casino_events": 0,
        "first_casino_at": None,
        "last_casino_at": None,
    }


def add_casino_event(row: dict[str, Any], *, event: EventRow) -> None:
    """Fold one casino event carrying this bonus: sums and bounds, so order never matters."""
    rollback = event.status == "rollback"
    if event.kind == "bet":
        # stake is already negated for a rollback; the bonus-money part must follow it.
        row["wagered"] += event.stake or ZERO
        bonus_part = _decimal((event.attributes or {}).get("bonus_wager_amount")) or ZERO
        row["bonus_wagered"] += -bonus_part if rollback else bonus_part
    else:
        # A Win lowers GGR by its gross payout (a rollback raises it back); a Loss is 0.
        row["won"] -= event.ggr_delta or ZERO
    row["casino_events"] += 1
    occurred: datetime = event.occurred_at
    first, last = row["first_casino_at"], row["last_casino_at"]
    row["first_casino_at"] = occurred if first is None else min(first, occurred)
    row["last_casino_at"] = occurred if last is None else max(last, occurred)


def histories(
    session: Session, *, keys: Iterable[BonusKey]
) -> dict[BonusKey, list[dict[str, Any]]]:
    """Every stored bonus event of these bonuses, oldest first by (occurred_at, seq)."""
    found: dict[BonusKey, list[dict[str, Any]]] = defaultdict(list)
    columns = ("operator_id", "brand_id", "player_ref", "bonus_ref")
    for row in matching(session, BONUS_EVENTS, columns, keys):
        found[bonus_key_of(row)].append(row)
    for history in found.values():
        history.sort(key=lambda row: (row["occurred_at"], row["seq"]))
    return found


def bonus_key_of(row: Any) -> BonusKey:
    return (row["operator_id"], row["brand_id"], row["player_ref"], row["bonus_ref"])


def lifecycle(history: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The status side of one bonus from its bonus events, oldest first."""
    fields: dict[str, Any] = {
        "status": UNKNOWN,
        "status_at": None,
        "currency": None,
        "bonus_events": len(history),
        "created_at": None,
        "created_count": 0,
        "amount_awarded": None,
        "closed_at": None,
        "closed_status": None,
        "amount_turned_real": None,
        "amount_forfeited": None,
        "bonus_event_after_closure": False,
        **dict.fromkeys(_DESCRIPTIONS),
    }
    closing: dict[str, Any] | None = None
    for event in history:
        fields.update(status=event["status"], status_at=event["occurred_at"])
        fields["currency"] = event["currency"] or fields["currency"]
        for name in _DESCRIPTIONS:  # the latest value sent wins (Ongoing may update them)
            if event[name] is not None:
                fields[name] = event[name]
        if event["status"] == CREATED:
            if fields["created_count"] == 0:
                fields.update(created_at=event["occurred_at"], amount_awarded=event["amount"])
            fields["created_count"] += 1
        if closing is None:
            if event["status"] in CLOSING:
                closing = event
                fields.update(_closure(event))
        elif event["status"] in CLOSING or event["occurred_at"] > closing["occurred_at"]:
            # A second terminal status, or anything stamped after the closure.
            fields["bonus_event_after_closure"] = True
    return fields


def _closure(event: dict[str, Any]) -> dict[str, Any]:
    status = event["status"]
    turned_real = forfeited = None
    if status in TURNED_REAL:
        # bonus_turned_real is what wagering released; without it, the bonus amount.
        turned_real = event["bonus_turned_real"]
        if turned_real is None:
            turned_real = event["amount"]
    elif status in FORFEITING:
        forfeited = event["amount"]
    return {
        "closed_at": event["occurred_at"],
        "closed_status": status,
        "amount_turned_real": turned_real,
        "amount_forfeited": forfeited,
    }


def violations(row: dict[str, Any]) -> dict[str, bool]:
    """004's sequence rules, from folded fields only (so independent of arrival order).

    Equal timestamps cannot be ordered and are not flagged: only a casino event stamped
    strictly before ``Created`` (or with no ``Created`` at all) breaks the rule."""
    created_at, closed_at = row["created_at"], row["closed_at"]
    played = row["casino_events"] > 0
    casino_before = played and (created_at is None or row["first_casino_at"] < created_at)
    casino_after = played and closed_at is not None and row["last_casino_at"] > closed_at
    return {
        "casino_before_created": casino_before,
        "events_after_closure": row["bonus_event_after_closure"] or casino_after,
        "second_created": row["created_count"] > 1,
    }
