"""The one place that writes the event log: classify, check, insert, commit."""

from __future__ import annotations

import hashlib
import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from croupier.events.model import Format, Kind
from croupier.events.models import BET_PREDICATE, Event, RejectedEvent
from croupier.ingest.outcome import Outcome, PendingEvent, Status, rejected_row
from croupier.kit import jsoncodec
from croupier.kit.db import (
    DRIVER_INTEGRITY,
    StatisticsRefresher,
    sqlite_utc_text,
    unavailable_as_503,
)
from croupier.kit.errors import FieldError
from croupier.kit.money import decimal_text
from croupier.kit.timeparse import utcnow

log = logging.getLogger(__name__)
_CHUNK = 500
_RACE_RETRIES = 3


class EventStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The idempotency lookup is planned from the table's statistics: without fresh ones
        # (a new deployment, a backfill) it scanned every event of the operator (190 ms per
        # group in the benchmark).
        self._statistics = StatisticsRefresher(engine, lambda: ("events",), background=True)

    def write(
        self, events: Sequence[PendingEvent], rejections: Sequence[dict[str, Any]]
    ) -> list[Outcome]:
        """Store a group of events and rejections in one transaction; one outcome per event."""
        for attempt in range(_RACE_RETRIES):
            try:
                with (
                    unavailable_as_503(),
                    self.engine.connect().execution_options(sqlite_immediate=True) as conn,
                    conn.begin(),
                ):
                    outcomes = _write(conn, events, rejections)
                self._statistics.count(sum(o.status is Status.ACCEPTED for o in outcomes))
                return outcomes
            except (IntegrityError, *DRIVER_INTEGRITY):
                # Another process committed one of these keys between our read and our insert:
                # read again, and the key classifies as a duplicate or a conflict this time.
                if attempt == _RACE_RETRIES - 1:
                    raise
                log.info("idempotency race with a concurrent writer; retrying the group")
        raise AssertionError("unreachable")

    def prune_rejected(self, *, older_than: timedelta) -> int:
        with unavailable_as_503(), self.engine.begin() as conn:
            result = conn.execute(
                delete(RejectedEvent).where(RejectedEvent.received_at < utcnow() - older_than)
            )
            return result.rowcount

    def ping(self) -> None:
        # Committed, not rolled back: a ROLLBACK makes psycopg forget the statements it
        # prepared on the pooled connection the writer uses next.
        with unavailable_as_503(), self.engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")


def _write(
    conn: Connection, events: Sequence[PendingEvent], rejections: Sequence[dict[str, Any]]
) -> list[Outcome]:
    settlement_conflicts = _double_settlements(conn, events)
    if conn.dialect.name == "sqlite" and not settlement_conflicts:
        outcomes, extra_rejections = _insert_new(conn, events)
    else:
        outcomes, extra_rejections = _classify_then_insert(conn, events, settlement_conflicts)
    all_rejections = [*rejections, *extra_rejections]
    if all_rejections:
        conn.execute(insert(RejectedEvent), all_rejections)
    return outcomes


_Classified = tuple[list[Outcome], list[dict[str, Any]]]  # outcomes, and rejection rows to keep


def _insert_new(conn: Connection, events: Sequence[PendingEvent]) -> _Classified:
    """SQLite: insert first, skipping any event whose idempotency key is already stored
    (``ON CONFLICT DO NOTHING``), and look the keys up only when some were skipped. The
    insert checks the unique index anyway; looking every key up before it cost the store
    process ~1 µs an event, for groups that almost never hold a key seen before. (The
    writer holds SQLite's write lock, so nothing lands between the insert and the lookup.)"""
    if _insert_events(conn, events, skip_known=True) == len(events):
        return [Outcome(Status.ACCEPTED, event.row["event_id"]) for event in events], []
    stored = _existing(conn, [event.identity for event in events])
    outcomes: list[Outcome] = []
    rejections: list[dict[str, Any]] = []
    for event in events:
        event_id, content_hash = stored[event.identity]
        if event_id == event.row["event_id"]:
            outcomes.append(Outcome(Status.ACCEPTED, event_id))
        else:  # stored before, or by an earlier event of this group
            _known(event, event_id, content_hash, outcomes, rejections)
    return outcomes, rejections


def _classify_then_insert(
    conn: Connection, events: Sequence[PendingEvent], settlement_conflicts: dict[int, FieldError]
) -> _Classified:
    """Look every key up, then insert the events that are new and settle nothing twice."""
    identities = [event.identity for event in events]
    existing = _existing(conn, identities)
    outcomes: list[Outcome] = []
    rejections: list[dict[str, Any]] = []
    inserts: list[PendingEvent] = []
    for position, (event, identity) in enumerate(zip(events, identities, strict=True)):
        row = event.row
        earlier = existing.get(identity)
        if earlier is not None:
            _known(event, *earlier, outcomes, rejections)
            continue
        if position in settlement_conflicts:
            error = settlement_conflicts[position]
            outcomes.append(Outcome(Status.REJECTED, None, [error]))
            rejections.append(_rejection_of(event, [error]))
            continue
        existing[identity] = (row["event_id"], row["content_hash"])
        inserts.append(event)
        outcomes.append(Outcome(Status.ACCEPTED, row["event_id"]))
    if inserts:
        _insert_events(conn, inserts)
    return outcomes, rejections


def _known(
    event: PendingEvent,
    event_id: str,
    content_hash: str,
    outcomes: list[Outcome],
    rejections: list[dict[str, Any]],
) -> None:
    """An event whose idempotency key is stored as ``event_id``: a duplicate if its content
    is the same, else a conflict (kept as a rejection)."""
    if content_hash == event.row["content_hash"]:
        outcomes.append(Outcome(Status.DUPLICATE, event_id))
        return
    error = FieldError(
        event.key_field,
        "conflict",
        f"this idempotency key was already used for different content (event {event_id})",
    )
    outcomes.append(Outcome(Status.CONFLICT, event_id, [error]))
    rejections.append(_rejection_of(event, [error]))


class EventInsert:
    """The event INSERT with the driver's executemany and values already in the store's
    form: SQLAlchemy's per-value bind processing cost more than SQLite's own insert."""

    def __init__(self, dialect: str) -> None:
        # seq and tx_id are the store's: the sequence and the writing transaction fill them.
        self.columns = columns = [
            c.name for c in Event.__table__.columns if c.name not in ("seq", "tx_id")
        ]
        sqlite = dialect == "sqlite"
        marker = "?" if sqlite else "%s"
        values = [marker] * len(columns)
        self.sqlite = sqlite
        self.head = f"INSERT INTO events ({', '.join(columns)}) VALUES "
        self.copy_sql = f"COPY events ({', '.join(columns)}) FROM STDIN"
        self.one_row = f"({', '.join(values)})"
        self.skip_known = " ON CONFLICT (operator_id, format, idempotency_key) DO NOTHING"
        self.values = operator.itemgetter(*columns)
        # Only these columns need converting; the rest go to the driver as they are.
        convert: dict[str, Callable[[Any], Any]] = {"attributes": _json_text}
        if sqlite:  # the forms the Money and UtcDateTime column types write on SQLite
            convert.update(dict.fromkeys(("occurred_at", "received_at"), sqlite_utc_text))
            convert.update(
                dict.fromkeys(("amount", "exchange_rate", "stake", "ggr_delta"), decimal_text)
            )
        self.conversions = [(columns.index(name), fn) for name, fn in convert.items()]

    def params(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(self.values(row))
        for index, convert in self.conversions:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return tuple(values)

    @lru_cache(maxsize=128)  # noqa: B019 - two instances, kept for the process's life
    def sql(self, rows: int, *, skip_known: bool = False) -> str:
        """``skip_known``: an event whose idempotency key is stored is not inserted."""
        skip = self.skip_known if skip_known else ""
        return self.head + ", ".join([self.one_row] * rows) + skip


def _json_text(value: Any) -> str:
    return jsoncodec.encode(value).decode()


EVENT_INSERTS = {name: EventInsert(name) for name in ("sqlite", "postgresql")}


# Rows per INSERT statement: 500 x 34 columns stays under SQLite's and PostgreSQL's
# parameter limits.
_ROWS_PER_STATEMENT = 500


def _insert_events(
    conn: Connection, events: Sequence[PendingEvent], *, skip_known: bool = False
) -> int:
    """SQLite: multi-row INSERTs rather than executemany, because sqlite3 releases and
    re-takes the GIL around every step, so a row-at-a-time executemany queued behind the
    event loop's thread once per row; with ``skip_known``, an event whose idempotency key
    is stored is left out. PostgreSQL: COPY, whose rows psycopg encodes in C (a
    17,000-placeholder INSERT cost psycopg ~100 ms just to parse its query text).
    Returns how many rows were inserted."""
    statement = EVENT_INSERTS[conn.dialect.name]
    rows = [event.params or statement.params(event.row) for event in events]
    cursor = conn.connection.cursor()
    if not statement.sqlite:
        with cursor.copy(statement.copy_sql) as copy:
            for values in rows:
                copy.write_row(values)
        return len(rows)
    inserted = 0
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        sql = statement.sql(len(chunk), skip_known=skip_known)
        inserted += cursor.execute(sql, tuple(chain.from_iterable(chunk))).rowcount
    return inserted


def _existing(
    conn: Connection, identities: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], tuple[str, str]]:
    by_scope: dict[tuple[str, str], set[str]] = defaultdict(set)
    for operator_id, fmt, key in identities:
        by_scope[operator_id, fmt].add(key)
    found: dict[tuple[str, str, str], tuple[str, str]] = {}
    sqlite = conn.dialect.name == "sqlite"
    cursor = conn.connection.cursor()
    for (operator_id, fmt), keys in by_scope.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            sql = _existing_sql(conn.dialect.name, len(chunk))
            params = (operator_id, fmt, *chunk) if sqlite else (chunk, operator_id, fmt)
            for key, event_id, content_hash in cursor.execute(sql, params).fetchall():
                found[operator_id, fmt, key] = (event_id, content_hash)
    return found


@lru_cache(maxsize=1024)
def _existing_sql(dialect: str, keys: int) -> str:
    """Driver SQL for the idempotency lookup: it runs once per group on the hot path, where
    building and compiling the statement each time cost more than the lookup itself.

    PostgreSQL takes the keys as one array parameter, each looked up on its own (LATERAL):
    with ``idempotency_key = ANY(keys)`` the planner, believing a new operator's rows few
    (statistics from before it came), filtered every row of the operator on the unique
    index's first two columns instead of descending it per key: 4 ms a lookup at 8,000
    events, and single events' p50 at 1,000 req/s rose from 4 to 14 ms. The store process
    plans it generically (kit.db.create_db_engine), or the same belief can send it through
    another index that starts with operator_id."""
    head = "SELECT idempotency_key, event_id, content_hash FROM events WHERE "
    if dialect == "sqlite":
        return (
            head
            + f"operator_id = ? AND format = ? AND idempotency_key IN ({', '.join('?' * keys)})"
        )
    return (
        "SELECT e.idempotency_key, e.event_id, e.content_hash FROM unnest(%s::text[]) AS k (key) "
        "CROSS JOIN LATERAL (SELECT idempotency_key, event_id, content_hash FROM events "
        "WHERE operator_id = %s AND format = %s AND idempotency_key = k.key OFFSET 0) e"
    )


def _double_settlements(conn: Connection, events: Sequence[PendingEvent]) -> dict[int, FieldError]:
    """DataPulse: a bet carrying its result (pattern A) and a separate win/loss naming it
    (pattern B) must never both settle one bet. The later of the two is rejected."""
    settled_bets: dict[tuple[str, str], int] = {}  # (operator, bet tx) -> position of pattern A
    settlements: dict[tuple[str, str], int] = {}  # (operator, parent tx) -> position of win/loss
    for position, event in enumerate(events):
        row = event.row
        if row["format"] != Format.DATAPULSE:
            continue
        if row["kind"] == Kind.BET and "bet_result" in row["attributes"]:
            settled_bets.setdefault((row["operator_id"], row["transaction_id"]), position)
        elif row["kind"] == Kind.SETTLEMENT:
            settlements.setdefault((row["operator_id"], row["parent_transaction_id"]), position)
    if not settled_bets and not settlements:
        return {}
    if conn.dialect.name == "postgresql":
        _hold_bets(conn, {*settled_bets, *settlements})
    stored_a = _stored_pattern_a(conn, set(settlements))
    stored_b = _stored_pattern_b(conn, set(settled_bets))
    conflicts: dict[int, FieldError] = {}
    for bet, position in settlements.items():
        bet_position = settled_bets.get(bet)
        if bet in stored_a or (bet_position is not None and bet_position < position):
            conflicts[position] = FieldError(
                "parent_transaction_id",
                "double_settlement",
                f"bet {bet[1]!r} already carries its result (pattern A); "
                "do not also send a win/loss for it",
            )
    for bet, position in settled_bets.items():
        settlement_position = settlements.get(bet)
        if bet in stored_b or (settlement_position is not None and settlement_position < position):
            conflicts[position] = FieldError(
                "bet_result",
                "double_settlement",
                f"bet {bet[1]!r} is already settled by a separate win/loss (pattern B)",
            )
    return conflicts


def _hold_bets(conn: Connection, bets: set[tuple[str, str]]) -> None:
    """PostgreSQL: hold each bet's advisory lock until this transaction ends, before looking
    for its other settlement. Writers run concurrently there (``serve --workers N``,
    ``croupier consume``), and under READ COMMITTED neither of two open transactions sees
    the other's rows: a pattern A bet and a pattern B win/loss of one bet, written at the
    same moment, were both accepted. The second now waits for the first to commit, then
    finds its row. Each takes its locks in one order, so two writers never deadlock on them.
    (SQLite's writers take the database's write lock at BEGIN: one at a time already.)"""
    keys = sorted({_bet_lock(operator_id, transaction_id) for operator_id, transaction_id in bets})
    conn.exec_driver_sql(
        "SELECT pg_advisory_xact_lock(key) FROM unnest(%s::bigint[]) AS key", (keys,)
    )


def _bet_lock(operator_id: str, transaction_id: str) -> int:
    digest = hashlib.blake2b(
        f"croupier.bet\x1f{operator_id}\x1f{transaction_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _by_operator(pairs: set[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for operator_id, transaction_id in pairs:
        grouped[operator_id].append(transaction_id)
    return grouped


def _stored_pattern_a(conn: Connection, bets: set[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for operator_id, transaction_ids in _by_operator(bets).items():
        query = select(Event.transaction_id, Event.attributes).where(
            Event.operator_id == operator_id,
            text(BET_PREDICATE),  # as a literal, so the partial index applies
            Event.transaction_id.in_(transaction_ids),
        )
        found.update(
            (operator_id, tx) for tx, attrs in conn.execute(query) if "bet_result" in attrs
        )
    return found


def _stored_pattern_b(conn: Connection, bets: set[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for operator_id, transaction_ids in _by_operator(bets).items():
        query = select(Event.parent_transaction_id).where(
            Event.operator_id == operator_id,
            Event.format == Format.DATAPULSE,
            Event.kind == Kind.SETTLEMENT,
            Event.parent_transaction_id.in_(transaction_ids),
        )
        found.update((operator_id, tx) for (tx,) in conn.execute(query) if tx is not None)
    return found


def _rejection_of(event: PendingEvent, errors: list[FieldError]) -> dict[str, Any]:
    row = event.row
    return rejected_row(
        operator_id=row["operator_id"],
        api_key_id=row["api_key_id"],
        fmt=row["format"],
        source=row["source"],
        endpoint=event.endpoint,
        position=event.position,
        received_at=row["received_at"],
        errors=errors,
        payload=row["raw"],
    )
