"""Bulk projection rows (kit/rows): the driver-level upserts and lookups behave as the
SQLAlchemy statements they replace, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from croupier.kit import rows
from croupier.kit.db import create_db_engine
from croupier.players.projection import MONEY


def _money(player_ref: str, amount: Any, *, currency: str = "EUR") -> dict[str, Any]:
    return {
        "operator_id": "op",
        "brand_id": "brand",
        "player_ref": player_ref,
        "currency": currency,
        "deposits": 1,
        "deposits_amount": amount,
        "withdrawals": 0,
        "withdrawals_amount": Decimal(0),
        "chargebacks": 0,
        "chargebacks_amount": Decimal(0),
    }


def _stored(engine: Engine, player_refs: list[str]) -> dict[str, dict[str, Any]]:
    keys = [("op", "brand", ref, "EUR") for ref in player_refs]
    with Session(engine) as session:
        return {key[2]: row for key, row in rows.load(session, MONEY, keys).items()}


def test_an_upsert_keeps_a_keys_last_row_and_replaces_stored_ones(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        rows.upsert(session, MONEY, [_money("alice", Decimal("1")), _money("alice", Decimal(2))])
    assert _stored(engine, ["alice"])["alice"]["deposits_amount"] == Decimal(2)
    with Session(engine) as session, session.begin():
        rows.upsert(session, MONEY, [_money("alice", Decimal("3.50")), _money("bob", Decimal(4))])

    stored = _stored(engine, ["alice", "bob"])

    assert str(stored["alice"]["deposits_amount"]) == "3.50"
    assert stored["bob"]["deposits_amount"] == Decimal(4)


def test_a_column_mixing_ints_and_decimals_is_stored_exactly(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        rows.upsert(session, MONEY, [_money("alice", Decimal("1.25")), _money("bob", 0)])

    stored = _stored(engine, ["alice", "bob"])

    assert str(stored["alice"]["deposits_amount"]) == "1.25"
    assert stored["bob"]["deposits_amount"] == 0


def test_a_lookup_finds_every_stored_key_across_statements(engine: Engine) -> None:
    # More keys than one statement takes, and a count that is no bucket size.
    refs = [f"p{number:04d}" for number in range(437)]
    with Session(engine) as session, session.begin():
        rows.upsert(
            session, MONEY, [_money(ref, Decimal(number)) for number, ref in enumerate(refs)]
        )

    stored = _stored(engine, [*refs, "nobody", "nor-her"])

    assert sorted(stored) == refs
    assert all(stored[ref]["deposits_amount"] == Decimal(int(ref[1:])) for ref in refs)


@pytest.mark.integration
def test_an_overlong_value_is_refused_not_cut_short(pg_schema_url: str) -> None:
    """PostgreSQL only: SQLite does not enforce VARCHAR lengths."""
    engine = create_db_engine(pg_schema_url)
    try:
        with pytest.raises(DBAPIError), Session(engine) as session, session.begin():
            rows.upsert(session, MONEY, [_money("alice", Decimal(1), currency="EURO-DOLLARS")])
    finally:
        engine.dispose()
