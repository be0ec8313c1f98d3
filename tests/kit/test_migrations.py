"""Migrations build the schema from empty, and agree with the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from croupier.kit import migrate
from croupier.kit.db import create_db_engine
from croupier.models import metadata


def test_upgrade_from_empty_then_models_match(
    tmp_path: object, database_url: str, request: pytest.FixtureRequest
) -> None:
    # ``database_url`` hands a migrated store; SQLite also gets a truly empty file here.
    if database_url.startswith("sqlite"):
        engine = create_db_engine(f"sqlite:///{tmp_path}/empty.db")
        migrate.upgrade(engine)
    else:
        engine = create_db_engine(database_url)
    try:
        _assert_matches(engine)
        migrate.upgrade(engine)  # idempotent at head
    finally:
        engine.dispose()


def _assert_matches(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"operators", "brands", "api_keys", "events", "rejected_events"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
