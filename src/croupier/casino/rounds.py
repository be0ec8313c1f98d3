"""Game rounds: every bet/settlement with a round_id is kept as a round activity, and each
round a batch touches is recomputed from all of its activities.

Recomputing from the stored activities (rather than adding deltas) makes the round a pure
function of the set of its events: arrival order, batch boundaries and replays cannot
change it, and a Rollback can reverse exactly the amounts of the event it names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from croupier.casino.models import ROUND_ACTIVITIES, ROUNDS
from croupier.kit import rows
from croupier.projections.engine import EventRow

ROUND_KINDS = frozenset({"bet", "settlement"})
ROLLBACK = "rollback"
ZERO = Decimal(0)
_CHUNK = 300
_ACTIVITIES = ROUND_ACTIVITIES
_ROUNDS = ROUNDS
_GAME_FIELDS = ("game_type", "game_id", "game_name", "vendor")
_PARTS = ("real", "bonus", "locked")
_PART_ATTRIBUTES = {
    "real": "wager_amount",
    "bonus": "bonus_wager_amount",
    "locked": "locked_wager_amount",
}

_PART_COLUMNS = tuple((f"{part}_amount", _PART_ATTRIBUTES[part]) for part in _PARTS)

RoundKey = tuple[str, str, str, str]


def apply(session: Session, events: Sequence[EventRow]) -> None:
    # Keyed, so a batch never upserts one row twice (PostgreSQL refuses that).
    by_key = {_activity_key(row): row for row in map(activity_row, filter(makes_round, events))}
    activities = list(by_key.values())
    if not activities:
        return
    keys = {round_key(activity) for activity in activities}
    # The rounds' activities from earlier batches, read before this batch's are written
    # (reading them all back after would cost a second copy of every row).
    known = {_activity_key(row): row for row in load_activities(session, keys)}
    known.update(by_key)
    rows.upsert(session, _ACTIVITIES, activities)
    by_round: dict[RoundKey, list[dict[str, Any]]] = defaultdict(list)
    for activity in known.values():
        by_round[round_key(activity)].append(activity)
    rows.upsert(session, _ROUNDS, [build_round(key, by_round[key]) for key in sorted(keys)])


def makes_round(event: EventRow) -> bool:
    return event.kind in ROUND_KINDS and event.round_id is not None


def _activity_key(row: dict[str, Any]) -> tuple[str, ...]:
    return (*round_key(row), row["activity_ref"], row["status"])


def round_key(row: Any) -> RoundKey:
    if isinstance(row, dict):
        return (row["operator_id"], row["brand_id"], row["player_ref"], row["round_ref"])
    return (row.operator_id, row.brand_id, row.player_ref, row.round_id)


def activity_row(event: EventRow) -> dict[str, Any]:
    attributes: dict[str, Any] = event.attributes or {}
    parts = {column: _decimal(attributes.get(name)) for column, name in _PART_COLUMNS}
    return {
        "operator_id": event.operator_id,
        "brand_id": event.brand_id,
        "player_ref": event.player_ref,
        "round_ref": event.round_id,
        "activity_ref": event.transaction_id or event.event_id,
        "status": event.status,
        "seq": event.seq,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "kind": event.kind,
        "format": event.format,
        "activity_type": _activity_type(event.format, attributes),
        "currency": event.currency,
        "stake": event.stake,
        "ggr_delta": event.ggr_delta,
        **parts,
        "closes_round": _closes_round(event.kind, event.format, attributes),
        "game_type": event.game_type,
        "game_id": event.game_id,
        "game_name": event.game_name,
        "vendor": event.vendor,
    }


def _activity_type(event_format: str, attributes: dict[str, Any]) -> str | None:
    if event_format == "fasttrack":
        return _text(attributes.get("type"))
    return _text(attributes.get("bet_result"))


def _closes_round(kind: str, event_format: str, attributes: dict[str, Any]) -> bool:
    # A settlement closes its round in every format (Fast Track Win/Loss, DataPulse
    # win/loss); so does an explicit is_round_end, and a DataPulse bet with its result.
    if kind == "settlement" or attributes.get("is_round_end") is True:
        return True
    return event_format == "datapulse" and attributes.get("bet_result") is not None


def load_activities(session: Session, keys: Iterable[RoundKey]) -> list[dict[str, Any]]:
    """Every stored activity of these rounds (a prefix of the activities' primary key)."""
    return rows.matching(session, _ACTIVITIES, _ROUND_COLUMNS, keys)


_ROUND_COLUMNS = ("operator_id", "brand_id", "player_ref", "round_ref")


def build_round(key: RoundKey, activities: list[dict[str, Any]]) -> dict[str, Any]:
    """The round as a pure function of its activities."""
    ordered = sorted(activities, key=_occurred)
    reversed_refs = {row["activity_ref"] for row in ordered if row["status"] == ROLLBACK}
    # What counts: approved activities no rollback names. A rollback contributes nothing of
    # its own: it cancels the named activity's amounts (and an orphan rollback, whose
    # activity has not arrived, cancels nothing yet). One pass, summing in time order.
    stake = ggr = ZERO
    bets = settlements = rollbacks = 0
    is_closed = False
    # Fast Track's real/bonus/locked split: a Bet's parts are stake, a Win's are payout.
    parts: dict[str, Decimal | None] = dict.fromkeys(_PART_TOTALS)
    for row in ordered:
        if row["status"] == ROLLBACK:
            rollbacks += 1
            continue
        if row["kind"] == "bet":
            bets += 1
        elif row["kind"] == "settlement":
            settlements += 1
        if row["activity_ref"] in reversed_refs:
            continue
        stake += row["stake"] or ZERO
        ggr += row["ggr_delta"] or ZERO
        is_closed = is_closed or bool(row["closes_round"])
        for column, total in _PART_TOTALS_BY_TYPE.get(row["activity_type"], ()):
            value, summed = row[column], parts[total]
            if value is not None:  # summed from ZERO, exactly as sum(values, ZERO) would
                parts[total] = (ZERO if summed is None else summed) + value
    operator_id, brand_id, player_ref, round_ref = key
    result: dict[str, Any] = {
        "operator_id": operator_id,
        "brand_id": brand_id,
        "player_ref": player_ref,
        "round_ref": round_ref,
        "format": ordered[0]["format"],
        "currency": _earliest(ordered, "currency"),
        "started_at": ordered[0]["occurred_at"],
        "ended_at": max(row["occurred_at"] for row in ordered),
        "stake": stake,
        "payout": stake - ggr,
        "ggr": ggr,
        "bets": bets,
        "settlements": settlements,
        "rollbacks": rollbacks,
        "is_closed": is_closed,
        "is_rolled_back": bool(reversed_refs),
    }
    for name in _GAME_FIELDS:
        result[name] = _earliest(ordered, name)
    result.update(parts)
    return result


def _occurred(row: dict[str, Any]) -> tuple[Any, int]:
    return row["occurred_at"], row["seq"]


_SIDES = (("stake", "Bet"), ("payout", "Win"))
_PART_TOTALS = tuple(f"{part}_{side}" for side, _ in _SIDES for part in _PARTS)
_PART_TOTALS_BY_TYPE = {
    activity_type: tuple((f"{part}_amount", f"{part}_{side}") for part in _PARTS)
    for side, activity_type in _SIDES
}


def _earliest(ordered: list[dict[str, Any]], name: str) -> Any:
    return next((row[name] for row in ordered if row[name] is not None), None)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
