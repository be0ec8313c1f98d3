"""PostgreSQL: the idempotency lookup descends the unique index once per key, whatever the
planner's statistics say about the operator. An operator that came after the last ANALYZE is
believed to have no rows: with ``idempotency_key = ANY(keys)`` the plan filtered every one
of its events on the index's first two columns (4 ms a lookup at 8,000 events), and planned
for the values at hand, a lookup per key went through another index that starts with
operator_id (100-200 ms a group)."""

from __future__ import annotations

import pytest
from helpers import pending_event
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine

from croupier.ingest.store import EVENT_INSERTS, _existing_sql
from croupier.kit.db import create_db_engine
from factories import Tenant, make_tenant


def _deposits(engine: Engine, tenant: Tenant, prefix: str, count: int) -> None:
    encoder = EVENT_INSERTS["postgresql"]
    rows = [encoder.params(pending_event(tenant, f"{prefix}-{n}").row) for n in range(count)]
    with engine.begin() as conn:
        for start in range(0, count, 500):
            chunk = rows[start : start + 500]
            conn.exec_driver_sql(encoder.sql(len(chunk)), tuple(v for r in chunk for v in r))


@pytest.mark.integration
def test_a_new_operators_keys_are_each_looked_up_through_the_whole_unique_index(
    pg_engine: Engine, pg_schema_url: str
) -> None:
    """Long keys make the unique index a level taller than (operator, player, time), which
    then won the tie between two indexes believed to hold no row of the operator."""
    seasoned, newcomer = make_tenant(pg_engine, name="seasoned"), make_tenant(pg_engine, name="new")
    _deposits(pg_engine, seasoned, "old" + "-" * 150, 20_000)
    with pg_engine.begin() as conn:
        conn.execute(text("ANALYZE events"))
    _deposits(pg_engine, newcomer, "new", 2000)  # after the statistics: the planner never saw it
    keys = [f"new-{number}" for number in range(1995, 2005)]
    store_engine = create_db_engine(pg_schema_url, generic_plans=True)  # as the store process's
    lookup = _existing_sql("postgresql", len(keys))
    numbered = lookup.replace("%s", "$1", 1).replace("%s", "$2", 1).replace("%s", "$3", 1)
    try:
        with store_engine.connect() as conn:
            # The plan the lookup gets: EXPLAIN of the statement itself would plan for the values.
            conn.exec_driver_sql(f"PREPARE lookup (text[], text, text) AS {numbered}")
            values = (keys, newcomer.operator_id, "datapulse")
            explain = sql.SQL("EXPLAIN EXECUTE lookup ({}, {}, {})").format(
                *map(sql.Literal, values)
            )
            raw = conn.connection.dbapi_connection
            plan = "\n".join(conn.exec_driver_sql(explain.as_string(raw)).scalars())
            found = conn.exec_driver_sql(lookup, (keys, newcomer.operator_id, "datapulse")).all()
    finally:
        store_engine.dispose()
    assert "uq_events_idempotency" in plan
    assert "Filter" not in plan, plan  # every key column is an index condition
    assert sorted(key for key, _event_id, _hash in found) == [
        f"new-{number}" for number in range(1995, 2000)
    ]
