"""Pooled PostgreSQL connections: idle ones are pinged before use, busy ones are trusted."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from conftest import PG_URL, prepared_statements, require_server
from croupier.kit import db
from croupier.kit.db import create_db_engine, read_session

pytestmark = pytest.mark.integration


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_db_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_killed_by_the_server_is_replaced_unseen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_server("127.0.0.1", 5432, "PostgreSQL")
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = create_db_engine(PG_URL, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        # Idle for longer than the threshold: the checkout pings, finds it dead, reconnects.
        second = _backend_pid(engine)
        assert second != first
    finally:
        engine.dispose()


def test_a_recently_used_connection_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    require_server("127.0.0.1", 5432, "PostgreSQL")
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = create_db_engine(PG_URL, pool_size=1)
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    try:
        _backend_pid(engine)  # a new connection is pinged once: it has never been used
        _backend_pid(engine)
        _backend_pid(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_read_session_keeps_the_statements_its_connection_prepared(pg_engine: Engine) -> None:
    # psycopg forgets every statement it prepared on a connection that runs ROLLBACK, which
    # is how a session closed with its transaction open ends.
    with read_session(pg_engine) as session:
        for _ in range(10):  # psycopg prepares a statement from its sixth execution
            session.execute(text("SELECT count(*) FROM operators WHERE id <> :id"), {"id": "x"})

    assert any("FROM operators WHERE id <> $1" in sql for sql in prepared_statements(pg_engine))


def _create_then_fail(engine: Engine) -> None:
    with read_session(engine) as session:
        session.execute(text("CREATE TABLE made_in_a_read (n int)"))
        raise RuntimeError("the work failed")


def test_a_failed_read_session_rolls_back(pg_engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        _create_then_fail(pg_engine)

    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('made_in_a_read')")).scalar() is None
