"""Game sessions: a player's casino activity on one brand, split by an inactivity gap.

Where a session ends depends on every event around it, so sessions are not folded: for
each stretch of time a batch touches, the stored sessions within one gap of it are
deleted and that whole neighbourhood is rebuilt from the event log. A late event that
bridges two sessions thereby merges them, and one that falls between them alone makes
its own session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, String, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from croupier.casino.models import SESSIONS
from croupier.kit import rows
from croupier.kit.db import Money, UtcDateTime
from croupier.kit.money import decimal_text
from croupier.projections.engine import Context, EventRow

SESSION_KINDS = ("bet", "settlement")
ZERO = Decimal(0)
_SESSIONS = SESSIONS
PlayerKey = tuple[str, str, str]


@dataclass(frozen=True)
class Pending:
    """What ``read`` found for ``write``: the windows to rebuild and their events."""

    nearby: dict[PlayerKey, list[tuple[datetime, datetime]]]
    widened: list[Window]
    activity: dict[PlayerKey, list[Any]]
    gaps: dict[PlayerKey, timedelta]


def read(session: Session, events: Sequence[EventRow], context: Context) -> Pending | None:
    """The reads of a batch's sessions, kept apart from ``write`` so a handler can make its
    reads before any of its writes (on PostgreSQL a read waits for the writes before it)."""
    own: dict[PlayerKey, list[EventRow]] = defaultdict(list)
    for event in events:
        if event.kind in SESSION_KINDS:
            own[(event.operator_id, event.brand_id, event.player_ref)].append(event)
    if not own:
        return None
    touched = {key: [event.occurred_at for event in found] for key, found in own.items()}
    gaps = {key: context.operator(key[0]).session_gap for key in touched}
    windows = [
        (key, first, last)
        for key in sorted(touched)
        for first, last in _stretches(sorted(touched[key]), gaps[key])
    ]
    # One query for the stored sessions near every window, one read of the log for every
    # widened window, then (in write) one delete and one upsert: a batch costs a few
    # statements, not a few per player.
    nearby = _nearby_sessions(session, windows, gaps)
    widened = _widen(windows, nearby, gaps)
    # Every event projected so far lies in a stored session. Where no stored session is
    # near, the batch therefore holds all of the window's projected events, and the log
    # need not be read again (events after the checkpoint join when they are applied).
    activity = _read_activity(session, [window for window in widened if window[0] in nearby])
    for key, found in own.items():
        if key not in nearby:
            activity[key] = sorted(found, key=lambda event: (event.occurred_at, event.seq))
    return Pending(nearby, widened, activity, gaps)


def write(session: Session, pending: Pending | None) -> None:
    """The stored sessions near the batch deleted, and their neighbourhoods rebuilt."""
    if pending is None:
        return
    _delete_sessions(session, pending.nearby)
    rebuilt = [
        _session_row(key, part)
        for key, low, high in pending.widened
        for part in _split(
            [event for event in pending.activity[key] if low <= event.occurred_at <= high],
            pending.gaps[key],
        )
    ]
    rows.upsert(session, _SESSIONS, rebuilt)


def _stretches(moments: list[datetime], gap: timedelta) -> list[tuple[datetime, datetime]]:
    """The batch's moments for one player, cut where they lie more than a gap apart, so a
    batch spanning months re-reads only the neighbourhoods it touches."""
    stretches: list[tuple[datetime, datetime]] = []
    first = previous = moments[0]
    for moment in moments[1:]:
        if moment - previous > gap:
            stretches.append((first, previous))
            first = moment
        previous = moment
    stretches.append((first, previous))
    return stretches


Window = tuple[PlayerKey, datetime, datetime]
_CHUNK = 256  # windows per statement on SQLite: five parameters each
_WINDOW = "w (operator_id, brand_id, player_ref, low, high)"


@lru_cache(maxsize=8)
def _unnested(select_sql: str, result_types: tuple[tuple[str, Any], ...]) -> Any:
    """PostgreSQL: the windows as five arrays, one short statement whatever their number."""
    statement = text(
        f"WITH {_WINDOW} AS (SELECT * FROM unnest(:o, :b, :p, :l, :h)) " + select_sql
    ).bindparams(
        *(bindparam(name, type_=rows.TEXT_KEYS) for name in ("o", "b", "p")),
        *(bindparam(name, type_=postgresql.ARRAY(UtcDateTime())) for name in ("l", "h")),
    )
    return statement.columns(**dict(result_types))


def _run_windowed(
    session: Session, select_sql: str, windows: Sequence[Window], types: tuple[tuple[str, Any], ...]
) -> list[Row[Any]]:
    if not windows:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        (operators, brands, players), lows, highs = (
            zip(*(key for key, _, _ in windows), strict=True),
            [low for _, low, _ in windows],
            [high for _, _, high in windows],
        )
        arrays = {"o": list(operators), "b": list(brands), "p": list(players)}
        arrays |= {"l": lows, "h": highs}
        statement = _unnested(_LATERAL[select_sql], types)
        return list(connection.execute(statement, arrays).all())
    # Padded to a bucket size with an empty window (low after high), which matches nothing.
    key, _, _ = windows[-1]
    pad = (*key, datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))
    found: list[Row[Any]] = rows.values_joined(
        session,
        head=f"WITH {_WINDOW} AS ",
        tail=select_sql,
        values=[(*key, low, high) for key, low, high in windows],
        types=(_TEXT, _TEXT, _TEXT, _TIME, _TIME),
        pad=pad,
        results=dict(types),
        limit=_CHUNK,
    )
    return found


_TIME, _MONEY, _TEXT = UtcDateTime(), Money(), String()
_NEARBY_SQL = (
    "SELECT s.operator_id, s.brand_id, s.player_ref, s.started_at, s.ended_at "
    "FROM casino_sessions s JOIN w ON s.operator_id = w.operator_id "
    "AND s.brand_id = w.brand_id AND s.player_ref = w.player_ref "
    "AND s.started_at <= w.high AND s.ended_at >= w.low"
)
_NEARBY_TYPES = (("started_at", _TIME), ("ended_at", _TIME))
# operator_id, player_ref, occurred_at: the ix_events_player index.
_ACTIVITY_SQL = (
    "SELECT e.operator_id, e.brand_id, e.player_ref, e.occurred_at, e.seq, e.kind, "
    "e.round_id, e.currency, e.stake, e.ggr_delta, e.game_id, e.game_name "
    "FROM events e JOIN w ON e.operator_id = w.operator_id AND e.player_ref = w.player_ref "
    "AND e.occurred_at >= w.low AND e.occurred_at <= w.high AND e.brand_id = w.brand_id "
    "WHERE e.kind IN ('bet', 'settlement') AND e.is_test = false"
)
_ACTIVITY_TYPES = (
    ("occurred_at", _TIME),
    ("stake", _MONEY),
    ("ggr_delta", _MONEY),
)
# PostgreSQL: the same, as an index lookup per window. As a join, tables the planner has
# no statistics for yet (being rebuilt) were scanned whole for every batch; OFFSET 0 keeps
# the subquery from being flattened back into one.
_LATERAL = {
    _NEARBY_SQL: (
        "SELECT s.operator_id, s.brand_id, s.player_ref, s.started_at, s.ended_at "
        "FROM w CROSS JOIN LATERAL (SELECT * FROM casino_sessions s "
        "WHERE s.operator_id = w.operator_id AND s.brand_id = w.brand_id "
        "AND s.player_ref = w.player_ref AND s.started_at <= w.high AND s.ended_at >= w.low "
        "OFFSET 0) s"
    ),
    _ACTIVITY_SQL: (
        "SELECT e.operator_id, e.brand_id, e.player_ref, e.occurred_at, e.seq, e.kind, "
        "e.round_id, e.currency, e.stake, e.ggr_delta, e.game_id, e.game_name "
        "FROM w CROSS JOIN LATERAL (SELECT * FROM events e "
        "WHERE e.operator_id = w.operator_id AND e.player_ref = w.player_ref "
        "AND e.occurred_at >= w.low AND e.occurred_at <= w.high AND e.brand_id = w.brand_id "
        "AND e.kind IN ('bet', 'settlement') AND e.is_test = false OFFSET 0) e"
    ),
}


def _nearby_sessions(
    session: Session, windows: list[Window], gaps: dict[PlayerKey, timedelta]
) -> dict[PlayerKey, list[tuple[datetime, datetime]]]:
    """Stored sessions within one gap of a window: (started_at, ended_at) per player."""
    found: dict[PlayerKey, set[tuple[datetime, datetime]]] = defaultdict(set)
    padded = [(key, first - gaps[key], last + gaps[key]) for key, first, last in windows]
    for row in _run_windowed(session, _NEARBY_SQL, padded, _NEARBY_TYPES):
        found[(row.operator_id, row.brand_id, row.player_ref)].add((row.started_at, row.ended_at))
    return {key: sorted(spans) for key, spans in found.items()}


def _delete_sessions(
    session: Session, nearby: dict[PlayerKey, list[tuple[datetime, datetime]]]
) -> None:
    """Delete the stored sessions about to be rebuilt, by primary key."""
    doomed = [(*key, started) for key, spans in nearby.items() for started, _ in spans]
    rows.delete(session, _SESSIONS, doomed)


def _widen(
    windows: list[Window],
    nearby: dict[PlayerKey, list[tuple[datetime, datetime]]],
    gaps: dict[PlayerKey, timedelta],
) -> list[Window]:
    """Each window grown to cover the stored sessions it touches, then merged with its
    neighbours where they overlap or lie within a gap: each merged range is rebuilt once."""
    by_player: dict[PlayerKey, list[tuple[datetime, datetime]]] = defaultdict(list)
    for key, first, last in windows:
        gap = gaps[key]
        spans = [
            (started, ended)
            for started, ended in nearby.get(key, [])
            if started <= last + gap and ended >= first - gap
        ]
        low = min([first, *(started for started, _ in spans)])
        high = max([last, *(ended for _, ended in spans)])
        by_player[key].append((low, high))
    merged: list[Window] = []
    for key in sorted(by_player):
        ranges = sorted(by_player[key])
        low, high = ranges[0]
        for next_low, next_high in ranges[1:]:
            if next_low - high <= gaps[key]:
                high = max(high, next_high)
            else:
                merged.append((key, low, high))
                low, high = next_low, next_high
        merged.append((key, low, high))
    return merged


def _read_activity(session: Session, windows: list[Window]) -> dict[PlayerKey, list[Row[Any]]]:
    """The bet and settlement events of every window, per player, in time order."""
    found: dict[PlayerKey, list[Row[Any]]] = defaultdict(list)
    for row in _run_windowed(session, _ACTIVITY_SQL, windows, _ACTIVITY_TYPES):
        found[(row.operator_id, row.brand_id, row.player_ref)].append(row)
    for activity in found.values():
        activity.sort(key=lambda event: (event.occurred_at, event.seq))
    return found


def _split(activity: list[Row[Any]], gap: timedelta) -> list[list[Row[Any]]]:
    """A new session starts when the pause since the previous event exceeds the gap."""
    sessions: list[list[Row[Any]]] = []
    for event in activity:
        if not sessions or event.occurred_at - sessions[-1][-1].occurred_at > gap:
            sessions.append([])
        sessions[-1].append(event)
    return sessions


def _session_row(key: PlayerKey, events: list[Row[Any]]) -> dict[str, Any]:
    operator_id, brand_id, player_ref = key
    started_at, ended_at = events[0].occurred_at, events[-1].occurred_at
    turnover: dict[str, Decimal] = {}
    ggr: dict[str, Decimal] = {}
    for event in events:
        if event.currency is None:
            continue
        turnover[event.currency] = turnover.get(event.currency, ZERO) + (event.stake or ZERO)
        ggr[event.currency] = ggr.get(event.currency, ZERO) + (event.ggr_delta or ZERO)
    round_refs = {event.round_id for event in events if event.round_id is not None}
    # Revvvs wagers carry no round: each one placed counts as a round of its own.
    unlinked = sum(1 for event in events if event.round_id is None and event.kind == "bet")
    games = {event.game_id or event.game_name for event in events} - {None}
    return {
        "operator_id": operator_id,
        "brand_id": brand_id,
        "player_ref": player_ref,
        "started_at": started_at,
        "ended_at": ended_at,
        "duration_seconds": int((ended_at - started_at).total_seconds()),
        "events": len(events),
        "rounds": len(round_refs) + unlinked,
        "games": len(games),
        "turnover": _texts(turnover),
        "ggr": _texts(ggr),
    }


def _texts(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {currency: decimal_text(amounts[currency]) or "0" for currency in sorted(amounts)}
