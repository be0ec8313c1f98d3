"""The projector: reads the event log in commit order and folds it into the domain tables.

Every batch is one transaction: read the next events after the checkpoint, let each
domain's handler apply them, move the checkpoint. A crash therefore never applies an
event twice or skips one. On PostgreSQL the log is read in (tx_id, seq) order and only
below the oldest transaction still in flight, so a row that commits late is never
skipped. Handlers are folds keyed by natural keys (or recompute what a late event
touches), so the result depends on the set of events, not on their arrival order:
an incremental build equals a full replay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, TypeAlias

from sqlalchemy import (
    JSON,
    Boolean,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.kit import jsoncodec
from croupier.kit.db import (
    Money,
    StatisticsRefresher,
    UtcDateTime,
    derived_session,
    is_unavailable,
    read_session,
    sqlite_utc_moment,
)
from croupier.kit.timeparse import utcnow
from croupier.projections.models import Checkpoint
from croupier.tenancy.models import Operator

log = logging.getLogger("croupier.projector")

MAIN = "main"
DEFAULT_BATCH = 4000
# The columns projections use: everything but the raw payload and the ingest bookkeeping.
COLUMNS = tuple(
    column
    for column in Event.__table__.columns
    if column.name not in ("raw", "idempotency_key", "content_hash", "api_key_id", "source")
)
# Handlers read each event's fields many times over: a named tuple answers an attribute
# in a tenth of the time a SQLAlchemy Row takes. Typed as Any, as a Row's fields are.
EventRecord = namedtuple("EventRecord", [column.name for column in COLUMNS])  # type: ignore[misc]
EventRow: TypeAlias = Any


@dataclass(frozen=True)
class OperatorSettings:
    currency: str
    session_gap: timedelta


_OPERATORS = select(Operator.id, Operator.currency, Operator.session_gap_minutes)


class Context:
    """What handlers may need beyond the events: per-operator settings, read once a batch."""

    def __init__(self, session: Session) -> None:
        self.session = session
        rows = session.connection().execute(_OPERATORS).all()
        self._operators = {
            row.id: OperatorSettings(row.currency, timedelta(minutes=row.session_gap_minutes))
            for row in rows
        }

    def operator(self, operator_id: str) -> OperatorSettings:
        return self._operators[operator_id]


class Handler(Protocol):
    """One domain's projection. ``tables`` are the tables it owns (each has an
    ``operator_id`` column); replay empties them before folding the log again."""

    tables: tuple[Table, ...]

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None: ...


@dataclass
class BatchResult:
    read: int
    applied: int
    last_received_at: datetime | None
    more: bool


Observer = Callable[[BatchResult, float], None]


class Projector:
    def __init__(
        self,
        engine: Engine,
        handlers: Sequence[Handler],
        *,
        batch_size: int = DEFAULT_BATCH,
        observe: Observer | None = None,
        name: str = MAIN,
    ) -> None:
        self.engine = engine
        self.handlers = tuple(handlers)
        self.batch_size = batch_size
        self.observe = observe
        self.name = name
        self.postgres = engine.dialect.name == "postgresql"
        # The log's read and the handlers' lookups are planned from statistics, which a
        # replay or a backlog outgrows faster than autovacuum refreshes them. On a thread of
        # its own: inline, the ANALYZEs of a 60k-event backlog were 14% of its projection.
        self._statistics = StatisticsRefresher(
            engine,
            lambda: ["events", *(table.name for table in self._tables())],
            background=True,
        )

    # -- the incremental path -------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> BatchResult:
        """Apply the next batch of the log (``limit`` events at most, default the batch
        size), if any, in one transaction."""
        started = time.perf_counter()
        size = self.batch_size if limit is None else limit
        with derived_session(self.engine) as session, session.begin():
            checkpoint = self._lock_checkpoint(session)
            rows = self._read(session, checkpoint.tx_id, checkpoint.seq, size)
            if not rows:
                return BatchResult(0, 0, None, more=False)
            live = [row for row in rows if not row.is_test]
            if live:
                self._apply(session, live)
            last = rows[-1]
            self._save_checkpoint(
                session, Position(last.tx_id, last.seq, checkpoint.events + len(live))
            )
        result = BatchResult(len(rows), len(live), last.received_at, more=len(rows) == size)
        if self.observe is not None:
            self.observe(result, time.perf_counter() - started)
        self._statistics.count(result.read)
        return result

    def run_until_caught_up(self, *, pause: float = 0.0) -> int:
        """Apply batches until the log is exhausted; the number of events applied. With a
        ``pause``, wait that long between batches."""
        applied = 0
        while True:
            result = self.run_once()
            applied += result.applied
            if not result.more:
                return applied
            if pause:
                time.sleep(pause)

    def drain(self, *, timeout: float = 30.0) -> int:
        """Apply everything committed so far. On PostgreSQL a row stays invisible to the
        projector while an older transaction is still open anywhere on the server, so this
        waits (up to ``timeout`` seconds) for such rows instead of stopping short."""
        deadline = time.monotonic() + timeout
        applied = self.run_until_caught_up()
        while self.backlog() and time.monotonic() < deadline:
            time.sleep(0.02)
            applied += self.run_until_caught_up()
        return applied

    def wait_for_statistics(self) -> None:
        """Until the ANALYZE it started in the background has finished: before its tables
        are dropped (a benchmark's schema), which would otherwise deadlock with it."""
        self._statistics.wait()

    def backlog(self) -> int:
        """Committed events after the checkpoint, whether or not they are readable yet."""
        with read_session(self.engine) as session:
            found = session.connection().execute(_CHECKPOINT, {"name": self.name}).first()
            tx_id, seq = (found.tx_id, found.seq) if found else (0, 0)
            query = select(func.count()).select_from(Event)
            if self.postgres:
                position = text("(events.tx_id, events.seq) > (:tx_id, :seq)")
                query = query.where(position.bindparams(tx_id=tx_id, seq=seq))
            else:
                query = query.where(Event.seq > seq)
            return int(session.scalar(query) or 0)

    # -- replay ---------------------------------------------------------------------------

    def replay(self, operator_id: str | None = None) -> int:
        """Rebuild every projection from the log (or one operator's, in one transaction)."""
        if operator_id is None:
            with derived_session(self.engine) as session, session.begin():
                self._lock_checkpoint(session)
                for table in self._tables():
                    session.execute(delete(table))
                self._save_checkpoint(session, Position(0, 0, 0))
            return self.drain()
        applied = 0
        with derived_session(self.engine) as session, session.begin():
            checkpoint = self._lock_checkpoint(session)
            for table in self._tables():
                session.execute(delete(table).where(table.c.operator_id == operator_id))
            tx_id, seq = 0, 0
            while True:
                rows = self._read(
                    session, tx_id, seq, self.batch_size, operator_id=operator_id, upto=checkpoint
                )
                if not rows:
                    break
                live = [row for row in rows if not row.is_test]
                if live:
                    self._apply(session, live)
                applied += len(live)
                tx_id, seq = rows[-1].tx_id, rows[-1].seq
        return applied

    # -- internals ------------------------------------------------------------------------

    def _tables(self) -> list[Table]:
        return [table for handler in self.handlers for table in handler.tables]

    def _apply(self, session: Session, rows: list[EventRow]) -> None:
        context = Context(session)
        for handler in self.handlers:
            handler.apply(session, rows, context)

    def _lock_checkpoint(self, session: Session) -> Position:
        """The checkpoint, locked for this transaction (created at the log's start). In
        Core: the ORM's load and unit of work cost more than a 50-event batch's read."""
        connection = session.connection()
        # FOR UPDATE serializes projectors across processes; SQLite's BEGIN IMMEDIATE does.
        found = connection.execute(_LOCK[self.postgres], {"name": self.name}).first()
        if found is not None:
            return Position._make(found)
        connection.execute(
            insert(Checkpoint),
            {"name": self.name, "tx_id": 0, "seq": 0, "events": 0, "updated_at": utcnow()},
        )
        return Position(0, 0, 0)

    def _save_checkpoint(self, session: Session, position: Position) -> None:
        session.connection().execute(
            _SAVE,
            {
                "checkpoint": self.name,
                "tx_id": position.tx_id,
                "seq": position.seq,
                "events": position.events,
                "updated_at": utcnow(),
            },
        )

    def _read(
        self,
        session: Session,
        tx_id: int,
        seq: int,
        limit: int,
        *,
        operator_id: str | None = None,
        upto: Position | None = None,
    ) -> list[EventRow]:
        """The next ``limit`` events after (tx_id, seq), as driver SQL built once per shape:
        building and compiling the SELECT of 30 columns cost about 0.5 ms a batch."""
        sql = _read_sql(self.engine.dialect.name, operator_id is not None, upto is not None)
        params: list[Any] = [tx_id, seq] if self.postgres else [seq]
        if operator_id is not None:
            params.append(operator_id)
        if upto is not None:
            params += [upto.tx_id, upto.seq] if self.postgres else [upto.seq]
        params.append(limit)
        # The driver's own rows, converted a column at a time: SQLAlchemy's result
        # processors cost Python calls per value.
        result = session.connection().exec_driver_sql(sql, tuple(params))
        try:
            fetched = result.cursor.fetchall()
        finally:
            result.close()
        return decode_events(fetched, self.engine.dialect.name)


class Position(NamedTuple):
    """Where the projector stands in the log: the last event applied, as (tx_id, seq), and
    the live events applied so far (the checkpoint row, ``projection_checkpoints``)."""

    tx_id: int
    seq: int
    events: int


_CHECKPOINT = select(Checkpoint.tx_id, Checkpoint.seq, Checkpoint.events).where(
    Checkpoint.name == bindparam("name")
)
_LOCK = {False: _CHECKPOINT, True: _CHECKPOINT.with_for_update()}
_SAVE = (
    update(Checkpoint)
    .where(Checkpoint.name == bindparam("checkpoint"))
    .values(
        tx_id=bindparam("tx_id"),
        seq=bindparam("seq"),
        events=bindparam("events"),
        updated_at=bindparam("updated_at"),
    )
)


@lru_cache(maxsize=8)
def _read_sql(dialect: str, by_operator: bool, upto: bool) -> str:
    """The log's read in the projector's order. PostgreSQL: (tx_id, seq), only below the
    oldest transaction still in flight (computed in the same statement, from its own
    snapshot: every transaction below that snapshot's xmin has ended, so its rows are all
    visible to it), so a row that commits late is never skipped. SQLite: seq, its one
    writer at a time commits in that order."""
    selected = ", ".join(f"events.{column.name}" for column in COLUMNS)
    if dialect == "postgresql":
        where = [
            "(events.tx_id, events.seq) > (%s, %s)",
            "events.tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            "events.tx_id > 0",
        ]
        if by_operator:
            where.append("events.operator_id = %s")
        if upto:
            where.append("(events.tx_id, events.seq) <= (%s, %s)")
        order, limit = "events.tx_id, events.seq", "%s"
    else:
        where = ["events.seq > ?"]
        if by_operator:
            where.append("events.operator_id = ?")
        if upto:
            where.append("events.seq <= ?")
        order, limit = "events.seq", "?"
    return (
        f"SELECT {selected} FROM events WHERE {' AND '.join(where)} ORDER BY {order} LIMIT {limit}"
    )


def decode_events(fetched: Sequence[Sequence[Any]], dialect: str) -> list[EventRow]:
    """The driver's rows of ``COLUMNS`` as the values SQLAlchemy's column types give."""
    if not fetched:
        return []
    columns: list[Sequence[Any]] = list(zip(*fetched, strict=True))
    for position, convert in _CONVERTERS[dialect]:
        columns[position] = convert(columns[position])
    return list(map(EventRecord._make, zip(*columns, strict=True)))


def _sqlite_moments(values: Sequence[str | None]) -> list[datetime | None]:
    # UtcDateTime stores naive UTC text on SQLite (kit.db.sqlite_utc_text).
    return list(map(sqlite_utc_moment, values))


def _decimals(values: Sequence[str | None]) -> list[Decimal | None]:
    return [None if v is None else Decimal(v) for v in values]


def _booleans(values: Sequence[int | None]) -> list[bool | None]:
    return [None if v is None else bool(v) for v in values]


def _json(values: Sequence[str | None]) -> list[Any]:
    return [None if v is None else jsoncodec.decode_text(v) for v in values]


def _utc_moments(values: Sequence[datetime | None]) -> list[datetime | None]:
    # psycopg gives timestamptz in the session's time zone; UtcDateTime answers in UTC.
    return [None if v is None else v.astimezone(UTC) for v in values]


Converter = Callable[[Any], list[Any]]


def _converters(by_type: dict[type[Any], Converter]) -> list[tuple[int, Converter]]:
    return [
        (position, by_type[type(column.type)])
        for position, column in enumerate(COLUMNS)
        if type(column.type) in by_type
    ]


# Per dialect, the columns whose driver values differ from the column type's (the other
# types' processors are None on that dialect). tests/projections checks them against
# SQLAlchemy's own reading.
_CONVERTERS: dict[str, list[tuple[int, Converter]]] = {
    "sqlite": _converters(
        {UtcDateTime: _sqlite_moments, Money: _decimals, Boolean: _booleans, JSON: _json}
    ),
    "postgresql": _converters({UtcDateTime: _utc_moments}),
}


# On SQLite a projector thread lets go of the write lock between batches for longer than a
# waiting writer naps (kit.db, at most 1 ms): taking it straight back, it kept ingest out
# until the whole backlog was projected (p50 213 ms at 1,000 single events/s beside a
# `croupier worker` of 50-event batches; 53 ms with the pause).
SQLITE_PAUSE_SECONDS = 0.002


class ProjectorThread:
    """Runs the projector on a thread (``croupier worker``): woken by ``notify``, and
    polling every ``poll_seconds`` for commits made by other processes."""

    def __init__(self, projector: Projector, *, poll_seconds: float = 1.0) -> None:
        self.projector = projector
        self.poll_seconds = poll_seconds
        self._pause = SQLITE_PAUSE_SECONDS if projector.engine.dialect.name == "sqlite" else 0.0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def notify(self, *_args: Any) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="croupier-projector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self.projector.run_until_caught_up(pause=self._pause)
                failures = 0
            except Exception as exc:
                failures += 1
                time.sleep(retry_delay(exc, failures))
                self._wake.set()


def retry_delay(exc: Exception, failures: int) -> float:
    """A failed batch is never skipped: log why, and wait longer each time before the same
    events are tried again."""
    delay: float = min(30.0, 0.5 * 2.0**failures)
    if is_unavailable(exc):
        log.warning("projector: store unavailable, retrying in %.1fs", delay)
    else:
        log.exception("projector: batch failed, retrying in %.1fs", delay, exc_info=exc)
    return delay


def run_worker(projector: Projector, *, poll_seconds: float, stop: threading.Event) -> None:
    """``croupier worker``: the projector as its own process, until ``stop`` is set."""
    thread = ProjectorThread(projector, poll_seconds=poll_seconds)
    thread.start()
    try:
        stop.wait()
    finally:
        thread.stop()
