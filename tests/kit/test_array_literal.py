"""PostgreSQL's upserts send text, integer and boolean columns as array literals written by
msgspec (kit.rows.array_literal): whatever the values, the server reads back exactly the
list, and a value the literal cannot carry keeps psycopg's own array."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from croupier.kit import rows
from croupier.players.projection import MONEY

pytestmark = pytest.mark.integration

# PostgreSQL's text holds any character but NUL; a lone surrogate never reaches a projection
# (the JSON decoder refuses one, and neither psycopg nor UTF-8 can carry it).
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
_EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def pg(pg_engine: Engine) -> Iterator[Connection]:
    with pg_engine.connect() as connection:
        yield connection


def _read_back(connection: Connection, values: Any, element: str) -> list[Any]:
    cursor = connection.connection.cursor()
    row = cursor.execute(f"SELECT %b::{element}[]", [values]).fetchone()
    assert row is not None
    return list(row[0])


@_EXAMPLES
@given(values=st.lists(st.none() | _TEXT, max_size=8))
def test_any_text_reads_back_as_sent(pg: Connection, values: list[str | None]) -> None:
    assert _read_back(pg, rows.array_literal(values), "TEXT") == values


@_EXAMPLES
@given(values=st.lists(st.none() | st.integers(-(2**63), 2**63 - 1) | st.booleans(), max_size=8))
def test_integers_and_booleans_read_back_as_sent(
    pg: Connection, values: list[int | bool | None]
) -> None:
    ints = [None if v is None else int(v) for v in values]
    bools = [None if v is None else bool(v) for v in values]
    assert _read_back(pg, rows.array_literal(ints), "BIGINT") == ints
    assert _read_back(pg, rows.array_literal(bools), "BOOLEAN") == bools


@_EXAMPLES
@given(
    values=st.lists(
        st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=6), max_size=8
    )
)
def test_amounts_read_back_with_their_digits(pg: Connection, values: list[Decimal | None]) -> None:
    read = _read_back(pg, rows.array_literal(values), "NUMERIC")
    # Equal, with as many decimal places (NUMERIC has no negative zero: -0.000000 is 0).
    assert read == values
    assert [_places(v) for v in read] == [_places(v) for v in values]


def _places(value: Decimal | None) -> int | str | None:
    return None if value is None else value.as_tuple().exponent


def test_the_literal_is_taken_unless_a_string_needs_an_escape_arrays_lack() -> None:
    # Quotes and backslashes escape alike in JSON and in arrays; control characters do not.
    assert rows.array_literal(['say "hi"', "C:\\dir", "NULL", "", None, "é{,}"]) == (
        '{"say \\"hi\\"","C:\\\\dir","NULL","",null,"é{,}"}'
    )
    assert rows.array_literal([1, None, -2]) == "{1,null,-2}"
    assert rows.array_literal([Decimal("1.50"), Decimal("-0.000001")]) == "{1.50,-0.000001}"
    nan = [Decimal("NaN")]
    assert rows.array_literal(nan) is nan
    for kept in (["line\nbreak"], ["bell\x07"], ["back\\slash and tab\t"]):
        assert rows.array_literal(kept) is kept


def test_lookups_bind_string_keys_as_one_literal(pg_engine: Engine) -> None:
    bind = rows.TEXT_KEYS.bind_processor(pg_engine.dialect)
    assert bind(("a", None)) == '{"a",null}'
    kept = bind(["new\nline"])
    assert kept == ["new\nline"]  # psycopg's own array: the statement casts either to text[]


def test_an_upsert_stores_awkward_strings_exactly(pg_engine: Engine) -> None:
    refs = ['quote"d', "back\\slash", "new\nline", "NULL", "", "ünï{cøde}, ok", "\\\\"]
    money = [
        {
            "operator_id": "op",
            "brand_id": "brand",
            "player_ref": ref,
            "currency": "EUR",
            "deposits": index,
            "deposits_amount": Decimal(index),
            "withdrawals": 0,
            "withdrawals_amount": Decimal(0),
            "chargebacks": 0,
            "chargebacks_amount": Decimal(0),
        }
        for index, ref in enumerate(refs)
    ]
    with Session(pg_engine) as session, session.begin():
        rows.upsert(session, MONEY, money[:2] + money[3:])  # the refs as one literal
        rows.upsert(session, MONEY, money[2:3])  # a newline: psycopg's array

    with Session(pg_engine) as session:
        stored = rows.load(session, MONEY, [("op", "brand", ref, "EUR") for ref in refs])
    assert {key[2]: row["deposits"] for key, row in stored.items()} == {
        ref: index for index, ref in enumerate(refs)
    }
