"""Growing tables get fresh planner statistics on PostgreSQL: once they hold rows, then each
time they have doubled since their last ANALYZE."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from conftest import prepared_statements
from croupier.kit.db import StatisticsRefresher, create_db_engine


def _estimated_rows(engine: Engine, table: str) -> float:
    with engine.connect() as conn:
        return _reltuples(conn, table)


def _reltuples(conn: Connection, table: str) -> float:
    value = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}
    ).scalar_one()
    return float(value)


def _insert(engine: Engine, rows: int, *, changed_since_analyze: int) -> None:
    """Insert, then wait until the statistics views count the table's changes (a backend
    reports them within about a second of its commit)."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO grows SELECT generate_series(1, :n)"), {"n": rows})
        if conn.dialect.server_version_info >= (15,):  # report at this commit, not a second on
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
    query = text(
        "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = to_regclass('grows')"
    )
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while conn.execute(query).scalar_one() != changed_since_analyze:
            assert time.monotonic() < deadline, "the table's changes were never reported"
            time.sleep(0.05)
            conn.rollback()  # a fresh snapshot of the statistics views


@pytest.fixture
def grows(pg_schema_url: str) -> Iterator[Engine]:
    """An empty table, never analyzed."""
    engine = create_db_engine(pg_schema_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS grows"))
        conn.execute(text("CREATE TABLE grows (n integer)"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS grows"))
    engine.dispose()


@pytest.mark.integration
def test_tables_are_analyzed_once_they_hold_rows_and_then_each_time_they_have_doubled(
    grows: Engine,
) -> None:
    refresher = StatisticsRefresher(grows, lambda: ["grows"], check_seconds=0)
    refresher.count(1)
    assert _estimated_rows(grows, "grows") == -1  # empty, never analyzed
    _insert(grows, 10, changed_since_analyze=10)
    refresher.count(10)
    assert _estimated_rows(grows, "grows") == 10
    _insert(grows, 59, changed_since_analyze=59)
    refresher.count(59)  # due at 50 + 10 changes
    assert _estimated_rows(grows, "grows") == 10
    _insert(grows, 1, changed_since_analyze=60)
    refresher.count(1)
    assert _estimated_rows(grows, "grows") == 70
    _insert(grows, 119, changed_since_analyze=119)
    refresher.count(119)  # due at 50 + 70
    assert _estimated_rows(grows, "grows") == 70
    _insert(grows, 1, changed_since_analyze=120)
    refresher.count(1)
    assert _estimated_rows(grows, "grows") == 190


@pytest.mark.integration
def test_a_restarted_writer_does_not_analyze_a_large_table_again(grows: Engine) -> None:
    """The schedule is the table's, not the process's: counting from zero again, it
    analyzed the events table (0.5 s each on a large one) at every early threshold."""
    _insert(grows, 1000, changed_since_analyze=1000)
    StatisticsRefresher(grows, lambda: ["grows"], check_seconds=0).count(1000)
    assert _estimated_rows(grows, "grows") == 1000
    restarted = StatisticsRefresher(grows, lambda: ["grows"], check_seconds=0)
    _insert(grows, 100, changed_since_analyze=100)
    restarted.count(100)
    assert _estimated_rows(grows, "grows") == 1000


@pytest.mark.integration
def test_between_looks_the_tables_are_left_alone(grows: Engine) -> None:
    """A look is a catalog query: writers count every commit, and look twice a second."""
    refresher = StatisticsRefresher(grows, lambda: ["grows"], check_seconds=60)
    refresher.count(1)  # nothing to analyze yet; the next look is a minute away
    _insert(grows, 60, changed_since_analyze=60)
    refresher.count(60)
    assert _estimated_rows(grows, "grows") == -1
    StatisticsRefresher(grows, lambda: ["grows"], check_seconds=60).count(1)  # a first look
    assert _estimated_rows(grows, "grows") == 60


def test_sqlite_is_left_alone(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 's.db'}")
    asked: list[str] = []
    refresher = StatisticsRefresher(engine, lambda: asked.append("tables") or [])
    refresher.count(2_000_000)
    assert asked == []  # SQLite plans without statistics: the tables were never even listed
    engine.dispose()


@pytest.mark.integration
def test_a_background_analyze_does_not_hold_up_the_writer(grows: Engine) -> None:
    """The ingest writer's refresher: while ANALYZE waits (here for a lock another session
    holds), ``count`` has returned, and the statistics arrive when ANALYZE can run."""
    _insert(grows, 50, changed_since_analyze=50)
    refresher = StatisticsRefresher(grows, lambda: ["grows"], background=True)
    with grows.connect() as holder:
        holder.execute(text("LOCK TABLE grows IN ACCESS EXCLUSIVE MODE"))
        returned = threading.Event()
        caller = threading.Thread(target=lambda: (refresher.count(50), returned.set()))
        caller.start()
        assert returned.wait(5)  # count() did not wait for the ANALYZE
        assert _reltuples(holder, "grows") == -1
        holder.rollback()  # the lock goes; the ANALYZE runs
    caller.join()
    refresher.wait()
    assert _estimated_rows(grows, "grows") == 50


@pytest.mark.integration
def test_the_check_keeps_the_statements_the_connection_prepared(grows: Engine) -> None:
    # psycopg forgets every statement it prepared on a connection that runs ROLLBACK: the
    # check shares the writer's and the projector's pooled connection, so it commits.
    with grows.begin() as conn:
        for _ in range(10):  # psycopg prepares a statement from its sixth execution
            conn.exec_driver_sql("SELECT count(*) FROM grows WHERE n > %s", (0,))
    refresher = StatisticsRefresher(grows, lambda: ["grows"])

    refresher.count(1)

    statements = prepared_statements(grows)
    assert any("FROM grows WHERE n > $1" in statement for statement in statements), statements
