"""Bulk reads, upserts and deletes of projection rows by key, on SQLite and PostgreSQL.

Lookups join the table to the wanted keys: a VALUES list on SQLite, one array per key
column on PostgreSQL. A row-value ``IN`` list would be simpler, but SQLite answers it with
a full table scan, which made every projection batch cost as much as the table was large.

These are the projector's hottest statements, so they skip SQLAlchemy's per-parameter
work (a cache key over thousands of parameters at every execution, a dict per row): the
SQL is built once per shape, values go through the columns' own bind and result
processors, and the driver gets plain tuples (``executemany`` on SQLite, ``unnest`` of
column arrays on PostgreSQL, so one statement whatever the number of rows).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

import msgspec
from sqlalchemy import Date, Dialect, String, Table, Text, TypeDecorator, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from croupier.kit import jsoncodec
from croupier.kit.db import (
    Money,
    UtcDateTime,
    send_without_waiting,
    sqlite_utc_moment,
    sqlite_utc_text,
)
from croupier.kit.money import decimal_text

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
    session: Session,
    table: Table,
    columns: Sequence[str],
    keys: Iterable[tuple[Any, ...]],
    *,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Every row whose ``columns`` equal one of ``keys`` (a prefix of an index, for speed),
    with the ``names`` columns (default: all)."""
    selected = tuple(column.name for column in table.columns) if names is None else tuple(names)
    wanted = sorted(set(keys))
    found: list[dict[str, Any]] = []
    if not wanted:
        return found
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # One array per key column: a short statement psycopg parses once and the server
        # can keep prepared, where thousands of VALUES parameters were parsed every time.
        arrays = {f"k{i}": list(values) for i, values in enumerate(zip(*wanted, strict=True))}
        statement = _unnest_select(table, tuple(columns), selected)
        return [dict(row) for row in connection.execute(statement, arrays).mappings().all()]
    plan = _select_plan(table, tuple(columns), selected, connection.dialect)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        size = bucket(len(chunk), _CHUNK)
        params = [
            value if process is None else process(value)
            for key in chunk
            for value, process in zip(key, plan.key_processors, strict=True)
        ]
        # The unused slots of the bucket are NULL keys, which equal nothing.
        params += [None] * ((size - len(chunk)) * len(columns))
        result = _driver_cursor(connection).execute(plan.render(size), params).fetchall()
        found.extend(plan.dicts(result))
    return found


def values_joined(
    session: Session,
    *,
    head: str,
    tail: str,
    values: Sequence[tuple[Any, ...]],
    types: Sequence[TypeEngine[Any]],
    pad: tuple[Any, ...],
    results: Mapping[str, TypeEngine[Any]],
    limit: int,
) -> list[Any]:
    """SQLite: ``head (VALUES values) tail`` at the driver level, ``limit`` tuples a
    statement, each padded with ``pad`` to a bucket size; rows come back as named tuples,
    the ``results`` columns converted by their types."""
    connection = session.connection()
    dialect = connection.dialect
    processors = [_bind_processor(column_type, dialect) for column_type in types]
    one = "(" + ", ".join(["?"] * len(types)) + ")"
    found: list[Any] = []
    for start in range(0, len(values), limit):
        chunk = list(values[start : start + limit])
        size = bucket(len(chunk), limit)
        chunk += [pad] * (size - len(chunk))
        params = [
            value if process is None else process(value)
            for row in chunk
            for value, process in zip(row, processors, strict=True)
        ]
        sql = head + "(VALUES " + ", ".join([one] * size) + ") " + tail
        cursor = _driver_cursor(connection).execute(sql, params)
        record = _record(tuple(column[0] for column in cursor.description))
        fetched = cursor.fetchall()
        columns = list(zip(*fetched, strict=True)) or [() for _ in record._fields]
        for position, name in enumerate(record._fields):
            if name in results:
                process = _result_processor(results[name], dialect)
                if process is not None:
                    columns[position] = tuple(map(process, columns[position]))
        found.extend(map(record._make, zip(*columns, strict=True)))
    return found


@lru_cache(maxsize=32)
def _record(names: tuple[str, ...]) -> Any:
    return namedtuple("Record", names)


def padded(values: Sequence[Any], *, limit: int = _CHUNK) -> list[Any]:
    """``values`` for an expanding IN, padded to a bucket size by repeating the last one (a
    value twice in an IN list means the same): one statement text per bucket instead of one
    per list length. PostgreSQL's driver keeps 100 prepared statements a connection; with a
    text per length the projector's per-batch lookups crowded its upserts out of them, and
    each was parsed and planned again every batch."""
    found = list(values)
    if found:
        found += found[-1:] * (bucket(len(found), limit) - len(found))
    return found


def in_chunks(values: Sequence[Any], *, size: int = _CHUNK) -> Iterator[list[Any]]:
    """``values`` for an expanding IN, a statement's worth at a time, each ``padded``."""
    for start in range(0, len(values), size):
        yield padded(values[start : start + size], limit=size)


def bucket(count: int, limit: int) -> int:
    """``count`` rounded up to a power of two (at most ``limit``): statements sized by
    bucket are compiled once each, not once per batch for every new count."""
    size = 1
    while size < count:
        size *= 2
    return min(size, limit)


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, or replace every non-key column of those that exist."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    plan = _upsert_plan(table, dialect, tuple(rows[0]))
    if plan is None:  # keys that are not plain columns: SQLAlchemy's statement decides
        connection.execute(_upsert_statement(table, dialect.name), list(rows))
        return
    columns = _bound_columns(map(plan.getter, rows), plan.processed)
    if plan.unnest is not None:
        arrays = _arrays(columns, plan.key_positions)
        if arrays is not None:
            send_without_waiting(connection, plan.unnest, arrays)
            return
    values = list(zip(*columns, strict=True))
    if dialect.name == "sqlite":
        _driver_cursor(connection).executemany(plan.single, values)
    else:
        connection.exec_driver_sql(plan.single, values)


def _driver_cursor(connection: Connection) -> Any:
    """SQLite: a cursor of the driver's connection, in the connection's transaction. A
    statement through SQLAlchemy (its execution context and result) cost more than
    SQLite's own work for most of the projector's ~40 statements a batch. Not for
    PostgreSQL, whose connections may have statements in flight that only SQLAlchemy's
    execution waits for (kit.db.send_without_waiting)."""
    return connection.connection.cursor()


def _arrays(
    columns: list[tuple[Any, ...]], key_positions: tuple[int, ...]
) -> tuple[list[Any] | str, ...] | None:
    """The rows as one array per column for PostgreSQL's ``unnest`` (see array_literal);
    None when a column mixes Python types (psycopg cannot dump such an array; one row at a
    time can)."""
    literal = []
    for column in columns:
        kinds = set(map(type, column))
        kinds.discard(type(None))
        if len(kinds) > 1:
            return None
        literal.append(kinds <= _LITERAL_ELEMENTS)
    keys = list(zip(*(columns[i] for i in key_positions), strict=True))
    if len(set(keys)) == len(keys):
        arrays = [list(column) for column in columns]
    else:
        # One statement may not touch a row twice: keep each key's last row, as running
        # the upserts one after another would.
        last = {key: index for index, key in enumerate(keys)}
        kept = sorted(last.values())
        arrays = [[column[i] for i in kept] for column in columns]
    return tuple(
        array_literal(array) if fits else array for array, fits in zip(arrays, literal, strict=True)
    )


# What a column may hold to travel as an array literal: msgspec writes these as PostgreSQL
# reads them (a float's NaN would become null; a decimal's fails, and keeps the list).
# 4,000 amounts: 3.3 ms of client CPU as psycopg's array, 0.6 as a literal, which the
# server reads in under 1 ms. Times stay binary: 4,000 cost the client 1.0 ms as an array
# and 0.2 as a literal, but the server 0.8 and 2.6 ms to read them.
_LITERAL_ELEMENTS = frozenset({str, int, bool, Decimal})


def array_literal(values: list[Any]) -> list[Any] | str:
    """A column's values (of the types above, or None) for an ``unnest`` parameter cast to
    its array type: PostgreSQL's array literal text when msgspec can write it (a JSON
    array is one but for its brackets, as long as no string needs an escape other than
    ``\\"`` and ``\\\\``, which both read alike), else the list itself. psycopg dumps a list
    element by element in Python (a sixth of the projector's CPU on PostgreSQL went to
    it); this is one C call."""
    try:
        body = jsoncodec.encode(values)  # decimals as numbers, their digits kept
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return values
    if b"\\" in body and b"\\" in body.replace(b"\\\\", b"").replace(b'\\"', b""):
        return values  # a control character: JSON escapes it as arrays do not
    return "{" + body[1:-1].decode() + "}"


class TextKeys(TypeDecorator[list[Any]]):
    """A bound list of strings (``unnest`` keys on PostgreSQL) sent as one array literal
    (array_literal), cast to text[] in the statement. Text, not VARCHAR(n): that cast would
    cut a longer key short, and find another."""

    impl = postgresql.ARRAY(Text())
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        # The array type's own processor would take the literal for a list of characters.
        return _text_keys


def _text_keys(value: Sequence[Any] | None) -> list[Any] | str | None:
    return None if value is None else array_literal(list(value))


TEXT_KEYS = TextKeys()


def delete(session: Session, table: Table, keys: Iterable[tuple[Any, ...]]) -> None:
    """Delete the rows with these primary keys (one indexed delete per key, batched)."""
    names = primary_key(table)
    wanted = sorted(set(keys))
    if not wanted:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # One statement of key arrays, sent without waiting as the upserts are: as an
        # executemany it first waited for every write sent before it (the casino
        # projection's session deletes waited ~10 µs an event for the rounds' upsert).
        plan = _unnest_delete(table, connection.dialect)
        arrays = _arrays(_bound_columns(wanted, plan.processed), tuple(range(len(names))))
        if arrays is not None:
            send_without_waiting(connection, plan.sql, arrays)
            return
    params = [dict(zip(names, key, strict=True)) for key in wanted]
    connection.execute(_delete_statement(table), params)


@dataclass(frozen=True)
class DeletePlan:
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # bind processors by position
    sql: str


@lru_cache(maxsize=64)
def _unnest_delete(table: Table, dialect: Dialect) -> DeletePlan:
    """PostgreSQL: ``DELETE ... USING unnest(one array per key column)``."""
    names = primary_key(table)
    quote = dialect.identifier_preparer.quote
    keys = ", ".join(quote(name) for name in names)
    where = " AND ".join(f"t.{quote(name)} = k.{quote(name)}" for name in names)
    return DeletePlan(
        processed=_processed(table, names, dialect),
        sql=(
            f"DELETE FROM {dialect.identifier_preparer.format_table(table)} t "
            f"USING unnest({_unnest_arrays(table, names, dialect)}) AS k ({keys}) WHERE {where}"
        ),
    )


def _processed(
    table: Table, names: Sequence[str], dialect: Dialect
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The bind processors of these columns, by position, where the type has one."""
    processors = (
        (position, _bind_processor(table.c[name].type, dialect))
        for position, name in enumerate(names)
    )
    return tuple((position, process) for position, process in processors if process)


def _bound_columns(
    values: Iterable[tuple[Any, ...]], processed: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> list[tuple[Any, ...]]:
    """Rows of values turned into bound columns: one C-level pass per column instead of a
    Python call per value."""
    columns = list(zip(*values, strict=True))
    for position, process in processed:
        columns[position] = tuple(map(process, columns[position]))
    return columns


def _unnest_arrays(table: Table, names: Sequence[str], dialect: Dialect) -> str:
    """PostgreSQL: one cast array parameter per column, for ``unnest``."""
    return ", ".join(f"%b::{_element_type(table.c[name].type, dialect)}[]" for name in names)


@dataclass(frozen=True)
class SelectPlan:
    """SQLite's ``SELECT t.* FROM (VALUES keys) k JOIN t ON t.c = k.c ...`` at the driver
    level: SQLAlchemy would rebuild a cache key over every one of the statement's
    parameters at each execution, which cost more than the query."""

    names: tuple[str, ...]
    key_processors: tuple[Callable[[Any], Any] | None, ...]
    result_processors: tuple[Callable[[Any], Any] | None, ...]
    head: str
    tail: str
    one: str

    def render(self, keys: int) -> str:
        return self.head + ", ".join([self.one] * keys) + self.tail

    def dicts(self, result: Sequence[Any]) -> list[dict[str, Any]]:
        columns = list(zip(*result, strict=True)) or [() for _ in self.names]
        for position, process in enumerate(self.result_processors):
            if process is not None:
                columns[position] = tuple(map(process, columns[position]))
        return [dict(zip(self.names, values, strict=True)) for values in zip(*columns, strict=True)]


@lru_cache(maxsize=256)
def _select_plan(
    table: Table, columns: tuple[str, ...], names: tuple[str, ...], dialect: Dialect
) -> SelectPlan:
    on = " AND ".join(f"t.{name} = k.{name}" for name in columns)
    selected = ", ".join(f"t.{name}" for name in names)
    return SelectPlan(
        names=names,
        key_processors=tuple(_bind_processor(table.c[name].type, dialect) for name in columns),
        result_processors=tuple(_result_processor(table.c[name].type, dialect) for name in names),
        head=f"WITH k ({', '.join(columns)}) AS (VALUES ",
        tail=f") SELECT {selected} FROM k JOIN {table.name} t ON {on}",
        one="(" + ", ".join(["?"] * len(columns)) + ")",
    )


@cache
def _unnest_select(table: Table, columns: tuple[str, ...], names: tuple[str, ...]) -> Any:
    """PostgreSQL's ``SELECT t.* FROM unnest(key arrays) k, LATERAL (SELECT ... FROM t
    WHERE t.c = k.c ...)``: an index lookup per key. As a plain join, a table the planner
    has no statistics for yet (one being rebuilt) was sorted whole for every batch."""
    arrays = ", ".join(f":k{i}" for i in range(len(columns)))
    where = " AND ".join(f"t.{name} = k.{name}" for name in columns)
    selected = ", ".join(f"t.{name}" for name in names)
    statement = text(
        f"SELECT {selected} FROM unnest({arrays}) AS k ({', '.join(columns)}) "
        # OFFSET 0 keeps the subquery from being flattened back into a join.
        f"CROSS JOIN LATERAL (SELECT * FROM {table.name} t WHERE {where} OFFSET 0) t"
    ).bindparams(
        *(bindparam(f"k{i}", type_=_key_array(table, name)) for i, name in enumerate(columns))
    )
    return statement.columns(*(table.c[name] for name in names))


def _key_array(table: Table, name: str) -> TypeEngine[Any]:
    column_type = table.c[name].type
    return TEXT_KEYS if isinstance(column_type, String) else postgresql.ARRAY(column_type)


@dataclass(frozen=True)
class UpsertPlan:
    getter: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values, in column order
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # bind processors by position
    key_positions: tuple[int, ...]
    single: str  # one row, for executemany
    unnest: str | None  # every row at once, from one array per column (PostgreSQL)


@lru_cache(maxsize=256)  # keyed by dialect too: engines differ in their JSON serializer
def _upsert_plan(table: Table, dialect: Dialect, names: tuple[str, ...]) -> UpsertPlan | None:
    """The driver-level upsert of rows with these keys: None unless every key is a column
    and the omitted columns have no client-side defaults (SQLAlchemy would compute those)."""
    keys = primary_key(table)
    if not set(keys) <= set(names) or any(name not in table.c for name in names):
        return None
    if any(column.default is not None or column.onupdate is not None for column in table.c):
        return None
    updated = [column.name for column in table.columns if column.name not in keys]
    if not updated:
        return None
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    head = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(name) for name in names)}) "
    )
    tail = f" ON CONFLICT ({', '.join(quote(name) for name in keys)}) DO UPDATE SET " + ", ".join(
        f"{quote(name)} = excluded.{quote(name)}" for name in updated
    )
    single = head + "VALUES (" + ", ".join([mark] * len(names)) + ")" + tail
    unnest = None
    if dialect.name == "postgresql":
        unnest = head + f"SELECT * FROM unnest({_unnest_arrays(table, names, dialect)})" + tail
    positions = tuple(names.index(name) for name in keys)
    return UpsertPlan(
        itemgetter(*names), _processed(table, names, dialect), positions, single, unnest
    )


def _element_type(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    # Strings travel as text: the insert's own cast to VARCHAR(n) then rejects an
    # overlong value, where an explicit cast of the array would cut it short.
    if isinstance(column_type.dialect_impl(dialect), String):
        return "TEXT"
    return column_type.compile(dialect=dialect)


# Cached: the checks of _faster cost more than a small batch's lookup (the sessions'
# windowed reads built them at every call). Types and dialects hash by identity.
@lru_cache(maxsize=256)
def _bind_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return _faster(process, _FAST_BINDS, column_type, dialect)


@lru_cache(maxsize=256)
def _result_processor(
    column_type: TypeEngine[Any], dialect: Dialect
) -> Callable[[Any], Any] | None:
    process = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return _faster(process, _FAST_RESULTS, column_type, dialect)


_Fast = tuple[type, Callable[[Any], Any], tuple[Any, ...]]


def _faster(
    process: Callable[[Any], Any] | None,
    fast: tuple[_Fast, ...],
    column_type: TypeEngine[Any],
    dialect: Dialect,
) -> Callable[[Any], Any] | None:
    """SQLite: the column type's conversion in one call instead of its chain of Python ones
    (SQLAlchemy's own, then the type's), when it gives the same value for every sample:
    checked, not assumed."""
    if process is None or dialect.name != "sqlite":
        return process
    for kind, convert, samples in fast:
        if isinstance(column_type, kind):
            ok = all(convert(sample) == process(sample) for sample in samples)
            return convert if ok else process
    return process


def _none_or(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def converted(value: Any) -> Any:
        return None if value is None else convert(value)

    return converted


_FAST_BINDS: tuple[_Fast, ...] = (
    (
        UtcDateTime,
        sqlite_utc_text,
        (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime.min.replace(tzinfo=UTC)),
    ),
    (Money, decimal_text, (Decimal("-12.3400"), Decimal("1E+3"), Decimal("0.000001"))),
    (Date, _none_or(date.isoformat), (date(2026, 1, 2), date.min)),
)
_FAST_RESULTS: tuple[_Fast, ...] = (
    (UtcDateTime, sqlite_utc_moment, ("2026-01-02 03:04:05.000006", "2026-01-02 03:04:05")),
    (Money, _none_or(Decimal), ("-12.3400", "1000", "0.000001")),
)


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
