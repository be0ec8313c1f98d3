"""Bulk reads, upserts and deletes of projection rows by key, on SQLite and PostgreSQL.

Lookups join the table to a VALUES list of the wanted keys. A row-value ``IN`` list would
be simpler, but SQLite answers it with a full table scan, which made every projection
batch cost as much as the table was large.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Keys per statement: under both engines' parameter limits for keys of up to 8 columns.
_CHUNK = 400


def primary_key(table: Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.primary_key.columns)


def load(
    session: Session, table: Table, keys: Iterable[tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The existing rows with these primary keys, as dicts keyed by their primary key."""
    names = primary_key(table)
    return {
        tuple(row[name] for name in names): row for row in matching(session, table, names, keys)
    }


def matching(
    session: Session, table: Table, columns: Sequence[str], keys: Iterable[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Every row whose ``columns`` equal one of ``keys`` (a prefix of an index, for speed)."""
    wanted = sorted(set(keys))
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        params = {f"k{n}_{i}": value for n, key in enumerate(chunk) for i, value in enumerate(key)}
        statement = _joined_select(table, tuple(columns), len(chunk))
        found.extend(dict(row) for row in session.execute(statement, params).mappings())
    return found


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, or replace every non-key column of those that exist."""
    if not rows:
        return
    session.execute(_upsert_statement(table, session.get_bind().dialect.name), list(rows))


def delete(session: Session, table: Table, keys: Iterable[tuple[Any, ...]]) -> None:
    """Delete the rows with these primary keys (one indexed delete per key, batched)."""
    names = primary_key(table)
    params = [dict(zip(names, key, strict=True)) for key in sorted(set(keys))]
    if params:
        session.execute(_delete_statement(table), params)


@cache
def _joined_select(table: Table, columns: tuple[str, ...], keys: int) -> Any:
    """``SELECT t.* FROM (VALUES keys) k JOIN t ON t.c = k.c ...``, typed like the table."""
    names = ", ".join(columns)
    tuples = ", ".join(
        "(" + ", ".join(f":k{n}_{i}" for i in range(len(columns))) + ")" for n in range(keys)
    )
    on = " AND ".join(f"t.{name} = k.{name}" for name in columns)
    selected = ", ".join(f"t.{column.name}" for column in table.columns)
    statement = text(
        f"WITH k ({names}) AS (VALUES {tuples}) "
        f"SELECT {selected} FROM k JOIN {table.name} t ON {on}"
    ).bindparams(
        *(
            bindparam(f"k{n}_{i}", type_=table.c[name].type)
            for n in range(keys)
            for i, name in enumerate(columns)
        )
    )
    return statement.columns(*table.columns)


@cache
def _upsert_statement(table: Table, dialect: str) -> Any:
    # Built once per table: constructing ``excluded`` costs more than a small batch's rows.
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    names = primary_key(table)
    return statement.on_conflict_do_update(
        index_elements=list(names),
        set_={
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name not in names
        },
    )


@cache
def _delete_statement(table: Table) -> Any:
    condition = [table.c[name] == bindparam(name) for name in primary_key(table)]
    return table.delete().where(*condition)
