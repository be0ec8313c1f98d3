"""Growing tables get fresh planner statistics on PostgreSQL: after 250, 500, 1,000 ... rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from croupier.kit.db import FIRST_ANALYZE_AFTER, StatisticsRefresher, create_db_engine


def _estimated_rows(engine: Engine, table: str) -> float:
    with engine.connect() as conn:
        return _reltuples(conn, table)


def _reltuples(conn: Connection, table: str) -> float:
    value = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}
    ).scalar_one()
    return float(value)


@pytest.fixture
def grows(pg_schema_url: str) -> Iterator[Engine]:
    """A table of 50 rows, never analyzed."""
    engine = create_db_engine(pg_schema_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS grows"))
        conn.execute(text("CREATE TABLE grows (n integer)"))
        conn.execute(text("INSERT INTO grows SELECT generate_series(1, 50)"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS grows"))
    engine.dispose()


@pytest.mark.integration
def test_tables_are_analyzed_at_doubling_row_counts(grows: Engine) -> None:
    refresher = StatisticsRefresher(grows, lambda: ["grows"])
    assert _estimated_rows(grows, "grows") == -1  # never analyzed
    refresher.count(FIRST_ANALYZE_AFTER - 1)
    assert _estimated_rows(grows, "grows") == -1
    refresher.count(1)  # 250 rows: analyzed
    assert _estimated_rows(grows, "grows") == 50
    with grows.begin() as conn:
        conn.execute(text("INSERT INTO grows SELECT generate_series(1, 50)"))
    refresher.count(2 * FIRST_ANALYZE_AFTER - 1)  # the next one is due after 500 more
    assert _estimated_rows(grows, "grows") == 50
    refresher.count(1)
    assert _estimated_rows(grows, "grows") == 100


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
    refresher = StatisticsRefresher(grows, lambda: ["grows"], background=True)
    with grows.connect() as holder:
        holder.execute(text("LOCK TABLE grows IN ACCESS EXCLUSIVE MODE"))
        returned = threading.Event()
        caller = threading.Thread(
            target=lambda: (refresher.count(FIRST_ANALYZE_AFTER), returned.set())
        )
        caller.start()
        assert returned.wait(5)  # count() did not wait for the ANALYZE
        assert _reltuples(holder, "grows") == -1
        holder.rollback()  # the lock goes; the ANALYZE runs
    caller.join()
    refresher.wait()
    assert _estimated_rows(grows, "grows") == 50
