"""Bulk load and upsert of projection rows by primary key, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Keys per SELECT: well under both engines' parameter limits for 5-column keys.
_CHUNK = 400


def primary_key(table: Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.primary_key.columns)


def load(
    session: Session, table: Table, keys: Iterable[tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The existing rows with these primary keys, as dicts keyed by their primary key."""
    names = primary_key(table)
    pk = [table.c[name] for name in names]
    wanted = sorted(set(keys))
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = select(table).where(tuple_(*pk).in_(chunk))
        for row in session.execute(query).mappings():
            found[tuple(row[name] for name in names)] = dict(row)
    return found


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, or replace every non-key column of those that exist."""
    if not rows:
        return
    session.execute(_upsert_statement(table, session.get_bind().dialect.name), list(rows))


@cache
def _upsert_statement(table: Table, dialect: str) -> Any:
    # Built once per table: constructing ``excluded`` costs more than a small batch's rows.
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    names = primary_key(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(names),
        set_={
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name not in names
        },
    )
    return statement
