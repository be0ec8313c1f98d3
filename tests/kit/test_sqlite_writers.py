"""SQLite writers of several processes queue on a file lock instead of SQLite's busy naps."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.kit import db
from croupier.kit.db import create_db_engine, write_session
from croupier.kit.errors import StoreUnavailable


def _engine(path: Path, *, busy_wait: bool = True) -> Engine:
    engine = create_db_engine(f"sqlite:///{path}")
    if not busy_wait:
        _no_busy_wait(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return engine


def _no_busy_wait(engine: Engine) -> None:
    """Without the file lock, a second writer would now fail at once ("database is locked")."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]


def test_a_second_writer_waits_for_the_first_and_then_writes(tmp_path: Path) -> None:
    first, second = _engine(tmp_path / "s.db"), _engine(tmp_path / "s.db", busy_wait=False)
    holding, released = threading.Event(), threading.Event()

    def hold() -> None:
        with write_session(first) as session, session.begin():
            session.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    threading.Timer(0.3, released.set).start()
    started = time.monotonic()
    with write_session(second) as session, session.begin():
        session.execute(text("INSERT INTO t VALUES (2)"))  # the session begins here
        waited = time.monotonic() - started
    holder.join()
    assert 0.2 < waited < 2.0
    with second.connect() as conn:
        assert sorted(n for (n,) in conn.execute(text("SELECT n FROM t"))) == [1, 2]


def test_the_lock_is_let_go_after_a_rollback(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "r.db", busy_wait=False)

    def fail() -> None:
        with write_session(engine) as session, session.begin():
            session.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the unit of work failed")

    with pytest.raises(RuntimeError):
        fail()
    with write_session(engine) as session, session.begin():
        session.execute(text("INSERT INTO t VALUES (2)"))
    with engine.connect() as conn:
        assert [n for (n,) in conn.execute(text("SELECT n FROM t"))] == [2]


def test_a_writer_gives_up_after_the_wait_and_is_answered_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "WRITER_WAIT_SECONDS", 0.2)
    first, second = _engine(tmp_path / "w.db"), _engine(tmp_path / "w.db", busy_wait=False)
    with write_session(first) as session, session.begin():
        session.execute(text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        with (
            pytest.raises(StoreUnavailable),
            db.unavailable_as_503(),
            write_session(second) as other,
            other.begin(),
        ):
            other.execute(text("INSERT INTO t VALUES (2)"))
        # It waited its turn for the whole wait first (SQLite alone, with no busy wait,
        # would have refused at once).
        assert time.monotonic() - started >= 0.2


def _write_many(path: str, worker: int, count: int) -> None:
    engine = _engine(Path(path), busy_wait=False)  # a write bypassing the lock would fail
    for number in range(count):
        with write_session(engine) as session, session.begin():
            session.execute(text("INSERT INTO t VALUES (:n)"), {"n": worker * 10_000 + number})
    engine.dispose()


def test_processes_writing_one_file_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    _engine(path).dispose()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_many, args=(str(path), worker, 200)) for worker in range(3)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [process.exitcode for process in workers] == [0, 0, 0]
    with _engine(path).connect() as conn:
        assert conn.execute(text("SELECT count(*), count(DISTINCT n) FROM t")).one() == (600, 600)


def _levels(engine: Engine, sessions: list[Callable[[Engine], Session]]) -> list[int]:
    """PRAGMA synchronous inside each session's transaction, one after another."""
    levels = []
    for make in sessions:
        with make(engine) as session, session.begin():
            session.execute(text("INSERT INTO t VALUES (1)"))
            levels.append(session.execute(text("PRAGMA synchronous")).scalar_one())
    return levels


def test_derived_data_commits_without_fsync_and_every_other_write_keeps_its_own(
    tmp_path: Path,
) -> None:
    """One pooled connection serves both: the level is set before each BEGIN that wants
    another than the last (SQLite refuses to change it inside a transaction)."""
    engine = _engine(tmp_path / "d.db")  # synchronous=FULL, the default
    sessions = [db.derived_session, write_session, db.derived_session, db.derived_session]
    assert _levels(engine, [*sessions, write_session]) == [1, 2, 1, 1, 2]  # NORMAL, FULL
    engine.dispose()


def test_a_store_configured_without_fsync_stays_without(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'o.db'}", sqlite_synchronous="OFF")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    assert _levels(engine, [db.derived_session, write_session]) == [0, 0]  # OFF
    engine.dispose()
