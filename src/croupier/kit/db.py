"""Database engine, column types and the declarative base shared by every domain."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import DateTime, Dialect, MetaData, Numeric, String, event, text
from sqlalchemy.engine import Connection, Engine, create_engine, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool

from croupier.kit import jsoncodec
from croupier.kit.errors import StoreUnavailable
from croupier.kit.money import decimal_text
from croupier.kit.wal import BACKSTOP_PAGES, WalCheckpointer

log = logging.getLogger(__name__)
T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Money(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC on PostgreSQL, the decimal as text on SQLite (no decimal type)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return decimal_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the engine stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Both cached: a request's events share received_at and often occurred_at, and a projector
# batch writes and reads the same moments again and again (an activity's time is its
# round's start or end, its session's, its player-day's); formatting one took ~3 µs.
@lru_cache(maxsize=16384)
def sqlite_utc_text(value: datetime | None) -> str | None:
    """The text ``UtcDateTime`` stores on SQLite, in one step (the driver-level writers)."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@lru_cache(maxsize=16384)
def sqlite_utc_moment(text: str | None) -> datetime | None:
    """The aware datetime ``UtcDateTime`` reads back from SQLite's text."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def _json_dumps(value: Any) -> str:
    return jsoncodec.encode(value).decode()


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads that ends its transaction with COMMIT when the work succeeds.
    Closed open, a session rolls back, and psycopg forgets every statement it prepared on
    a connection that runs ROLLBACK: the read API's pooled connections never kept one.
    A failure still rolls back. Objects read stay loaded after the commit, for the caller
    to use once the session is closed, as they did before."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.commit()


def write_session(engine: Engine) -> Session:
    """A session for a unit of work that writes. On SQLite it takes the write lock at BEGIN,
    so it waits its turn behind the ingest writer instead of failing to upgrade a read lock
    ("database is locked")."""
    return Session(engine.execution_options(sqlite_immediate=True))


def derived_session(engine: Engine) -> Session:
    """A write session for data derived from the event log (projections and their
    checkpoint). On SQLite its commit does not wait for the disk: ``synchronous=NORMAL``
    for its transactions, where the WAL is synced at the next durable commit or checkpoint.

    The log itself stays durable (ingest commits with the configured ``synchronous``). A
    power loss can undo only the last such commits, each whole, the checkpoint it moved
    included, so the projector applies those events again; the store stays consistent.
    A projector batch holds SQLite's write lock through its commit, so ingest waits less
    by the flush: 96 fdatasync calls became 36 for 3,000 events in 50-event batches (a
    flush costs 0.2-0.3 ms on the benchmark VM, milliseconds on many disks). PostgreSQL's
    ``synchronous_commit`` is left as configured: turned off, the commit went from 0.3-0.6
    to 0.1 ms, and the extra ``SET LOCAL`` round trip took most of that back.
    """
    return Session(engine.execution_options(sqlite_immediate=True, derived=True))


# Driver errors raised where SQLAlchemy does not wrap them (psycopg's COPY on a raw cursor).
DRIVER_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError)
DRIVER_INTEGRITY = (psycopg.IntegrityError, sqlite3.IntegrityError)


def is_unavailable(exc: BaseException) -> bool:
    """Errors that mean the store cannot be reached or is locked, not that the query is wrong."""
    if isinstance(exc, (OperationalError, InterfaceError, *DRIVER_UNAVAILABLE)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    pool_size: int = 5,
    generic_plans: bool = False,
    background_checkpoints: bool = False,
) -> Engine:
    """``generic_plans``: PostgreSQL plans every statement for any parameter values (see
    _plan_generically); for the ingest writer's engine, whose statements are few and keyed.
    ``background_checkpoints``: a SQLite file's log is checkpointed by a thread of this
    process rather than by its writers' commits (kit.wal); for the long-running processes
    that write (serve, its store process, worker, consume)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_dumps,
            json_deserializer=jsoncodec.decode_text,
        )
        if parsed.database and parsed.database != ":memory:":  # before BEGIN IMMEDIATE
            _queue_writers_on_a_file_lock(engine, f"{parsed.database}-writers.lock")
        _configure_sqlite(engine, sqlite_synchronous)
        if background_checkpoints and parsed.database and parsed.database != ":memory:":
            _checkpoint_in_background(engine, parsed.database, sqlite_synchronous)
        return engine
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        json_serializer=_json_dumps,
        json_deserializer=jsoncodec.decode_text,
    )
    _ping_idle_connections(engine)
    _sync_pipelines(engine)
    if generic_plans:
        _plan_generically(engine)
    return engine


# -- PostgreSQL: statements whose results nobody reads, sent without waiting -------------

_PIPELINE = "croupier_pipeline"


def send_without_waiting(connection: Connection, sql: str, params: Any) -> None:
    """PostgreSQL: send a statement whose result nobody reads (a projection's upsert) in
    psycopg's pipeline mode and return at once, so the server writes while the caller
    computes what comes next; the connection's next statement, commit or rollback waits
    for it first (``_sync_pipelines``), and its error is raised there, as a DBAPIError.

    The projector's client and server otherwise took turns: ~75 µs an event of Python,
    then ~65 of PostgreSQL. Sent like this, projecting 30k events in 4,000-event batches
    was faster in 12 of 13 back-to-back pairs (median -16%), in 50-event batches in 6 of 6
    (median -10%)."""
    record = connection.connection
    raw = record.driver_connection
    assert isinstance(raw, psycopg.Connection)
    if _PIPELINE not in record.info:
        pipeline = raw.pipeline()
        pipeline.__enter__()
        record.info[_PIPELINE] = pipeline
    try:
        raw.cursor().execute(sql, params)
    except psycopg.Error as exc:  # could not even send it (a lost connection)
        with contextlib.suppress(psycopg.Error):
            record.info.pop(_PIPELINE).__exit__(None, None, None)
        raise _failed(connection, exc) from exc


def _sync_pipelines(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def before_statement(conn: Connection, *_args: Any) -> None:
        _wait_for_sent(conn)

    @event.listens_for(engine, "commit")
    def before_commit(conn: Connection) -> None:
        _wait_for_sent(conn)

    @event.listens_for(engine, "rollback")
    def before_rollback(conn: Connection) -> None:
        with contextlib.suppress(StatementError):  # rolled back anyway
            _wait_for_sent(conn)


def _wait_for_sent(conn: Connection) -> None:
    # An invalidated connection is gone, and its pipeline with it.
    pipeline = None if conn.invalidated else conn.connection.info.pop(_PIPELINE, None)
    if pipeline is None:
        return
    try:
        pipeline.__exit__(None, None, None)
    except psycopg.Error as exc:
        raise _failed(conn, exc) from exc


def _failed(conn: Connection, exc: psycopg.Error) -> StatementError:
    """What SQLAlchemy would have raised for ``exc``, the connection left as it would have
    left it: invalidated when the server is gone, else rolled back (raised from the commit
    event, SQLAlchemy counts the transaction as ended and pools the connection without a
    rollback of its own)."""
    raw = conn.connection.dbapi_connection
    gone = conn.dialect.is_disconnect(exc, raw, None)  # type: ignore[arg-type]
    if gone:
        conn.invalidate(exc)
    else:
        with contextlib.suppress(psycopg.Error):
            raw.rollback()  # type: ignore[union-attr]
    return DBAPIError.instance(None, None, exc, psycopg.Error, connection_invalidated=gone)


def _plan_generically(engine: Engine) -> None:
    """Plan statements for any parameter values, never for the values at hand.

    A plan for the values at hand reads the operator's frequency from the statistics, and
    an operator that came after the last ANALYZE has none: it is believed to have no rows.
    Every index that starts with operator_id then looks alike, and the shorter one wins the
    tie: the idempotency lookup went through (operator, player, time) and filtered each key
    through all of the new operator's events (100-200 ms a group once it had a few thousand;
    single events' p50 at 1,000 req/s reached 4 s in one run). A generic plan takes an
    operator's rows as the average one's, and the unique index's key column decides."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
        dbapi_connection.commit()


# A pooled connection idle longer than this is pinged before use; one used more recently is
# trusted (a ping on every checkout was a whole extra round trip per commit group).
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling, for idle connections only. A server that went away
    under a busy connection fails that one unit of work (answered 503, the client retries);
    SQLAlchemy then invalidates it, and the pool reconnects."""

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get("last_used")
        if last_used is not None and time.monotonic() - last_used < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except DRIVER_UNAVAILABLE as exc:
            # The pool discards this connection and checks out (connects) another.
            raise DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so the writer can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    # A derived session's transaction (see derived_session) skips the commit's fsync,
    # unless the store is configured to skip it always.
    relaxed = "OFF" if synchronous.upper() == "OFF" else "NORMAL"

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        # The level is the connection's, and may not change inside a transaction: set it
        # before BEGIN whenever this transaction wants another than the last one had.
        wanted = relaxed if options.get("derived", False) else synchronous
        pooled = connection.connection
        # On the driver's cursor: SQLAlchemy's execution of a statement (its context, its
        # result) cost more than SQLite's BEGIN itself.
        cursor = pooled.cursor()
        if pooled.info.get("synchronous", synchronous) != wanted:
            cursor.execute(f"PRAGMA synchronous={wanted}")
            pooled.info["synchronous"] = wanted
        immediate = options.get("sqlite_immediate", False)
        cursor.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _checkpoint_in_background(engine: Engine, path: str, synchronous: str) -> None:
    checkpointer = WalCheckpointer(path, synchronous=synchronous)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

    # The commit event comes before the commit: a round it starts may run before the commit
    # lands. The connection's return to the pool comes after, and starts another round, so
    # the last commit of a burst is copied back too, however long it took.
    @event.listens_for(engine, "commit")
    def on_commit(connection: Connection) -> None:
        connection.connection.info["wal_committed"] = True
        checkpointer.committed()

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record.info.pop("wal_committed", False):
            checkpointer.committed()

    @event.listens_for(engine, "engine_disposed")
    def on_disposed(_engine: Engine) -> None:
        checkpointer.stop()

    _CHECKPOINTERS[engine] = checkpointer


_CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


def wal_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """The engine's background checkpointer, if it has one."""
    return _CHECKPOINTERS.get(engine)


# How long a writer waits for another to finish: SQLite's own busy timeout, kept.
WRITER_WAIT_SECONDS = 30.0
_FIRST_NAP, _LONGEST_NAP = 0.00005, 0.001


def _queue_writers_on_a_file_lock(engine: Engine, path: str) -> None:
    """Writers (``BEGIN IMMEDIATE``) of every process take an OS file lock first.

    SQLite's own busy handler backs off to 100 ms naps: two server processes writing one
    file spent much of their time asleep while the file was free (p95 over a second). Here
    a writer retries the lock after at most 1 ms, and still gives up after the same 30 s
    (a "database is locked" error, answered 503). Each pooled connection opens the lock
    file itself, so the threads of one process exclude each other as processes do; the
    lock is let go when the connection returns to the pool, after commit or rollback.
    """

    @event.listens_for(engine, "close")
    def on_close(_dbapi_connection: Any, record: Any) -> None:
        descriptor = record.info.pop("writer_lock", None)
        record.info.pop("writer_locked", None)
        if descriptor is not None:
            os.close(descriptor)  # closing lets go of the lock too

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        if not connection.get_execution_options().get("sqlite_immediate", False):
            return
        info = connection.connection.info  # the pooled connection's, kept across checkouts
        if info.get("writer_locked"):
            return
        if "writer_lock" not in info:  # opened by the first write: readers never create it
            info["writer_lock"] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        _take(info["writer_lock"])
        info["writer_locked"] = True

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record.info.pop("writer_locked", False):
            fcntl.flock(record.info["writer_lock"], fcntl.LOCK_UN)


def _take(descriptor: int) -> None:
    deadline = time.monotonic() + WRITER_WAIT_SECONDS
    nap = _FIRST_NAP
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked") from None
            time.sleep(nap)
            nap = min(nap * 2, _LONGEST_NAP)


class StatisticsRefresher:
    """ANALYZE, on PostgreSQL, of the tables that have about doubled since their last one.

    A table that grows faster than autovacuum looks at it (once a minute) keeps statistics
    saying "empty", or has none: a new deployment, a backfill, a replay. Planned blind,
    the projector's lookups by primary key took the (operator, affiliate) index instead
    and filtered every row of the operator: a fresh deployment's 50-event batches slowed
    by ~0.01 ms per stored player (11 ms a lookup at 1,000 players).

    So after a write (``count``), at most once per ``check_seconds``, the tables whose rows
    changed since their last ANALYZE number at least 50 plus the rows it counted are
    analyzed, and those never analyzed that changed at all: a new table at once, then
    each time it has doubled. Measured from the table's own statistics, so a restart does not
    analyze a large table again. Autovacuum keeps the steady state. SQLite plans without
    statistics: nothing to do.

    ``background``: ANALYZE on a thread of its own, for a caller that must not wait for it
    (an ANALYZE of a large events table took 0.5 s, and the ingest writer stalled as long).
    ANALYZE does not block inserts; one runs at a time, and a second one due meanwhile
    follows it."""

    def __init__(
        self,
        engine: Engine,
        tables: Callable[[], Iterable[str]],
        *,
        background: bool = False,
        check_seconds: float = 0.5,
    ) -> None:
        self._engine = engine
        self._tables = tables
        self._enabled = engine.dialect.name == "postgresql"
        # ANALYZE on connections of its own, each closed when done: one still running when
        # the caller's engine is disposed (a test's, a stopping worker's) leaves no pooled
        # connection behind unclosed. Rare: once per doubling of a table.
        self._analyzer = create_engine(engine.url, poolclass=NullPool) if self._enabled else None
        self._check_seconds = check_seconds
        self._next_check = 0.0
        self._background = background
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._due: set[str] = set()

    def count(self, rows: int) -> None:
        """``rows`` were written: analyze what has doubled, if it is time to look. The look
        is one catalog query on the caller's engine; it takes no lock on the tables."""
        if not self._enabled or rows <= 0:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self._check_seconds
        try:
            # Committed, not rolled back: psycopg forgets every statement it prepared on a
            # connection that runs ROLLBACK, and this shares the writer's or the projector's
            # pooled connection (at 50-event batches, 40% of the projector's statements were
            # parsed and planned again).
            with self._engine.begin() as conn:
                due = set(conn.execute(_DOUBLED, {"tables": list(self._tables())}).scalars())
        except DBAPIError as exc:  # statistics are an optimisation; the rows are stored
            log.warning("could not look at the tables' statistics: %s", exc)
            return
        if not due:
            return
        if not self._background:
            self._analyze(due)
            return
        with self._lock:
            self._due |= due
            if self._thread is not None:
                return  # it takes these tables too before it stops
            self._thread = threading.Thread(
                target=self._analyze_until_done, name="croupier-analyze", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        """Until a background ANALYZE (and any due after it) has finished."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def _analyze_until_done(self) -> None:
        try:
            while True:
                with self._lock:
                    due, self._due = self._due, set()
                    if not due:
                        self._thread = None
                        return
                self._analyze(due)
        except BaseException:  # the next one due may still start
            with self._lock:
                self._thread = None
            raise

    def _analyze(self, tables: set[str]) -> None:
        assert self._analyzer is not None
        try:
            with self._analyzer.begin() as conn:
                for table in sorted(tables):
                    conn.exec_driver_sql(f'ANALYZE "{table}"')
        except DBAPIError as exc:  # statistics are an optimisation; the rows are stored
            log.warning("could not analyze %s: %s", ", ".join(sorted(tables)), exc)


# Tables (found on the search path) whose rows changed since their last ANALYZE number at
# least 50 plus the rows it counted, and those never analyzed (reltuples -1) that changed
# at all. The statistics views count a commit's changes up to a second after it.
_DOUBLED = text(
    "SELECT c.relname FROM unnest(CAST(:tables AS text[])) AS t (name) "
    "JOIN pg_class c ON c.oid = to_regclass(t.name) "
    # The function under pg_stat_user_tables.n_mod_since_analyze: the view computes every
    # table's row first (5 ms on a database of many schemas).
    "CROSS JOIN LATERAL pg_stat_get_mod_since_analyze(c.oid) AS m (changed) "
    "WHERE m.changed >= 50 + greatest(c.reltuples, 0) OR (c.reltuples < 0 AND m.changed > 0)"
)


@contextmanager
def unavailable_as_503() -> Iterator[None]:
    """Store errors that mean "cannot reach or lock the store" become StoreUnavailable
    (answered 503 + Retry-After); any other error stays what it is."""
    try:
        yield
    except (DBAPIError, *DRIVER_UNAVAILABLE) as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(str(exc)) from exc
        raise


async def in_db_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking store work off the event loop; an unreachable store is a StoreUnavailable."""
    with unavailable_as_503():
        return await run_in_threadpool(fn, *args)
