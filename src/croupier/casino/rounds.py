"""Game rounds: every bet/settlement with a round_id is kept as an activity of its round
(in the round's own row), and each round a batch touches is recomputed from all of them.

Recomputing from the stored activities (rather than adding deltas) makes the round a pure
function of the set of its events: arrival order, batch boundaries and replays cannot
change it, and a Rollback can reverse exactly the amounts of the event it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from croupier.casino.models import ROUNDS, Activity
from croupier.kit import rows
from croupier.projections.engine import EventRow

ROUND_KINDS = frozenset({"bet", "settlement"})
ROLLBACK = "rollback"
ZERO = Decimal(0)
_ROUNDS = ROUNDS
# Of these, a round shows the earliest activity's value that is not None.
_EARLIEST_FIELDS = ("currency", "game_type", "game_id", "game_name", "vendor")
_PARTS = ("real", "bonus", "locked")

RoundKey = tuple[str, str, str, str]
ActivityKey = tuple[str, str]  # (activity_ref, status): unique within a round

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(list[Activity])


# The batch's activities per round, and the stored activities of those rounds (JSON).
Pending = tuple[dict[RoundKey, dict[ActivityKey, Activity]], dict[RoundKey, str]]


def read(session: Session, events: Sequence[EventRow]) -> Pending:
    """What ``write`` needs: a read, kept apart so a handler can make its reads before any
    of its writes (on PostgreSQL a read waits for the writes sent before it)."""
    # Keyed, so a batch never upserts one row twice (PostgreSQL refuses that), and a
    # resent activity replaces the stored one, as it would replace a row.
    batch: dict[RoundKey, dict[ActivityKey, Activity]] = {}
    for event in filter(makes_round, events):
        activity = make_activity(event)
        batch.setdefault(round_key(event), {})[activity_key(activity)] = activity
    if not batch:
        return batch, {}
    stored = rows.matching(session, _ROUNDS, _ROUND_COLUMNS, batch, names=_STORED_COLUMNS)
    return batch, {round_key(row): row["activities"] for row in stored}


def write(session: Session, pending: Pending) -> None:
    """Every round the batch touches, rebuilt from its stored and new activities."""
    batch, known = pending
    built = []
    for key in sorted(batch):
        activities = batch[key]
        if key in known:
            activities = {activity_key(row): row for row in decode(known[key])} | activities
        built.append(build_round(key, list(activities.values())))
    rows.upsert(session, _ROUNDS, built)


def makes_round(event: EventRow) -> bool:
    return event.kind in ROUND_KINDS and event.round_id is not None


def activity_key(activity: Activity) -> ActivityKey:
    return activity.activity_ref, activity.status


def round_key(row: Any) -> RoundKey:
    if isinstance(row, dict):
        return (row["operator_id"], row["brand_id"], row["player_ref"], row["round_ref"])
    return (row.operator_id, row.brand_id, row.player_ref, row.round_id)


def make_activity(event: EventRow) -> Activity:
    attributes: dict[str, Any] = event.attributes or {}
    return Activity(
        activity_ref=event.transaction_id or event.event_id,
        status=event.status,
        seq=event.seq,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        kind=event.kind,
        format=event.format,
        activity_type=_activity_type(event.format, attributes),
        currency=event.currency,
        stake=event.stake,
        ggr_delta=event.ggr_delta,
        real_amount=_decimal(attributes.get("wager_amount")),
        bonus_amount=_decimal(attributes.get("bonus_wager_amount")),
        locked_amount=_decimal(attributes.get("locked_wager_amount")),
        closes_round=_closes_round(event.kind, event.format, attributes),
        game_type=event.game_type,
        game_id=event.game_id,
        game_name=event.game_name,
        vendor=event.vendor,
    )


def encode(activities: Sequence[Activity]) -> str:
    """The ``activities`` column's text."""
    return _ENCODER.encode(activities).decode()


def decode(text: str) -> list[Activity]:
    return _DECODER.decode(text)


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


_ROUND_COLUMNS = ("operator_id", "brand_id", "player_ref", "round_ref")
_STORED_COLUMNS = (*_ROUND_COLUMNS, "activities")


def build_round(key: RoundKey, activities: list[Activity]) -> dict[str, Any]:
    """The round as a pure function of its activities."""
    ordered = sorted(activities, key=_occurred)
    reversed_refs = {row.activity_ref for row in ordered if row.status == ROLLBACK}
    # What counts: approved activities no rollback names. A rollback contributes nothing of
    # its own: it cancels the named activity's amounts (and an orphan rollback, whose
    # activity has not arrived, cancels nothing yet). One pass, summing in time order.
    stake = ggr = ZERO
    bets = settlements = rollbacks = 0
    is_closed = False
    # Fast Track's real/bonus/locked split: a Bet's parts are stake, a Win's are payout.
    parts: dict[str, Decimal | None] = dict.fromkeys(_PART_TOTALS)
    for row in ordered:
        if row.status == ROLLBACK:
            rollbacks += 1
            continue
        if row.kind == "bet":
            bets += 1
        elif row.kind == "settlement":
            settlements += 1
        if row.activity_ref in reversed_refs:
            continue
        stake += row.stake or ZERO
        ggr += row.ggr_delta or ZERO
        is_closed = is_closed or row.closes_round
        totals = _PART_TOTALS_BY_TYPE.get(row.activity_type)
        if totals is None:
            continue
        for total, value in zip(totals, _parts(row), strict=True):
            if value is not None:  # summed from ZERO, exactly as sum(values, ZERO) would
                summed = parts[total]
                parts[total] = (ZERO if summed is None else summed) + value
    first = ordered[0]
    operator_id, brand_id, player_ref, round_ref = key
    result: dict[str, Any] = {
        "operator_id": operator_id,
        "brand_id": brand_id,
        "player_ref": player_ref,
        "round_ref": round_ref,
        "format": first.format,
        "started_at": first.occurred_at,
        "ended_at": ordered[-1].occurred_at,  # in time order
        "stake": stake,
        "payout": stake - ggr,
        "ggr": ggr,
        "bets": bets,
        "settlements": settlements,
        "rollbacks": rollbacks,
        "is_closed": is_closed,
        "is_rolled_back": bool(reversed_refs),
        "activities": encode(ordered),
    }
    result.update(_earliest(ordered))
    result.update(parts)
    return result


def _occurred(row: Activity) -> tuple[Any, int]:
    return row.occurred_at, row.seq


def _parts(row: Activity) -> tuple[Decimal | None, ...]:
    return row.real_amount, row.bonus_amount, row.locked_amount


_SIDES = (("stake", "Bet"), ("payout", "Win"))
_PART_TOTALS = tuple(f"{part}_{side}" for side, _ in _SIDES for part in _PARTS)
# The round's totals an activity type's parts (real, bonus, locked, as _parts) add to.
_PART_TOTALS_BY_TYPE: dict[str | None, tuple[str, ...]] = {
    activity_type: tuple(f"{part}_{side}" for part in _PARTS) for side, activity_type in _SIDES
}


def _earliest(ordered: list[Activity]) -> dict[str, Any]:
    values = _earliest_values(ordered[0])
    for row in ordered[1:]:
        if None not in values:  # mostly at once: the first activity carries them all
            break
        values = [
            mine if mine is not None else theirs
            for mine, theirs in zip(values, _earliest_values(row), strict=True)
        ]
    return dict(zip(_EARLIEST_FIELDS, values, strict=True))


def _earliest_values(row: Activity) -> list[Any]:
    return [row.currency, row.game_type, row.game_id, row.game_name, row.vendor]


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
