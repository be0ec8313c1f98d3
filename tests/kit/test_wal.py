"""SQLite's write-ahead log checkpointed by a background thread instead of the commits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from croupier.kit.db import create_db_engine, wal_checkpointer
from croupier.kit.wal import BACKSTOP_PAGES, INTERVAL_SECONDS, WalCheckpointer

_ROWS = 2_000  # ~2,000 pages of log: past SQLite's own checkpoint threshold (1,000)


def _write(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE filler (n integer, body text)"))
    for start in range(0, _ROWS, 200):
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO filler VALUES (:n, :body)"),
                [{"n": n, "body": "x" * 4000} for n in range(start, start + 200)],
            )


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def checkpointed(tmp_path: Path) -> Iterator[tuple[Engine, WalCheckpointer, Path]]:
    """A SQLite store whose log a background thread checkpoints, and that thread."""
    path = tmp_path / "store.db"
    engine = create_db_engine(f"sqlite:///{path}", background_checkpoints=True)
    checkpointer = wal_checkpointer(engine)
    assert checkpointer is not None
    yield engine, checkpointer, path
    engine.dispose()


def test_the_log_is_copied_back_by_the_thread_not_by_the_commits(
    checkpointed: tuple[Engine, WalCheckpointer, Path],
) -> None:
    engine, checkpointer, path = checkpointed
    assert checkpointer.running
    with engine.connect() as conn:  # the writers' own checkpoint is only a backstop
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES

    _write(engine)

    # The database file itself holds the rows once the log is copied back into it.
    assert _until(lambda: os.path.getsize(path) > _ROWS * 4000), os.path.getsize(path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == _ROWS
    engine.dispose()
    assert not checkpointer.running  # stopped with its engine


def test_a_commit_slower_than_the_round_is_copied_back_too(
    checkpointed: tuple[Engine, WalCheckpointer, Path],
) -> None:
    # The engine's commit event comes before the commit: the round it starts can run before
    # the commit lands (a loaded machine's fsync). The last commit must not stay in the log.
    engine, _checkpointer, path = checkpointed
    _write(engine)
    assert _until(lambda: os.path.getsize(path) > _ROWS * 4000)
    size = os.path.getsize(path)

    @event.listens_for(engine, "commit")
    def slow_commit(_connection: Any) -> None:
        time.sleep(INTERVAL_SECONDS * 4)

    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO filler VALUES (:n, :body)"),
            [{"n": n, "body": "y" * 4000} for n in range(_ROWS, _ROWS + 200)],
        )
    assert _until(lambda: os.path.getsize(path) >= size + 200 * 4000), os.path.getsize(path)


def test_without_the_thread_the_commits_stop_short_of_the_backstop(tmp_path: Path) -> None:
    # The counterpart: with the backstop raised and nobody checkpointing, the log keeps the
    # rows and the database file stays small (so the test above measures the thread).
    path = tmp_path / "store.db"
    engine = create_db_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def backstop_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

    try:
        assert wal_checkpointer(engine) is None
        _write(engine)
        time.sleep(0.2)
        assert os.path.getsize(path) < _ROWS * 4000 / 4
    finally:
        engine.dispose()


def test_writes_go_on_while_the_thread_checkpoints(
    checkpointed: tuple[Engine, WalCheckpointer, Path],
) -> None:
    engine, _checkpointer, path = checkpointed
    _write(engine)
    assert _until(lambda: os.path.getsize(path) > _ROWS * 4000)  # copied back
    with engine.begin() as conn:  # the log restarts under the writer, rows intact
        conn.execute(text("DELETE FROM filler WHERE n % 2 = 0"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == _ROWS // 2
