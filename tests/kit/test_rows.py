"""Bulk projection rows (kit/rows): the driver-level upserts and lookups behave as the
SQLAlchemy statements they replace, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Date, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from croupier.casino.models import ROUNDS, SESSIONS
from croupier.kit import rows
from croupier.kit.db import Money, UtcDateTime
from croupier.players.projection import MONEY
from croupier.reports.fx import FX_RATES


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
def test_an_overlong_value_is_refused_not_cut_short(pg_engine: Engine) -> None:
    """PostgreSQL only: SQLite does not enforce VARCHAR lengths."""
    with pytest.raises(DBAPIError), Session(pg_engine) as session, session.begin():
        rows.upsert(session, MONEY, [_money("alice", Decimal(1), currency="EURO-DOLLARS")])


@pytest.mark.integration
def test_an_upsert_sent_without_waiting_is_read_back_in_its_transaction(pg_engine: Engine) -> None:
    # PostgreSQL sends the upsert in pipeline mode and returns: the next statement (this
    # lookup) must wait for it and see its rows.
    with Session(pg_engine) as session, session.begin():
        rows.upsert(session, MONEY, [_money("carol", Decimal("7.25"))])
        rows.upsert(session, MONEY, [_money("carol", Decimal("8.50"))])
        found = rows.load(session, MONEY, [("op", "brand", "carol", "EUR")])

    assert [str(row["deposits_amount"]) for row in found.values()] == ["8.50"]


@pytest.mark.integration
def test_a_failed_upsert_sent_without_waiting_fails_its_transaction_only(
    pg_engine: Engine,
) -> None:
    with Session(pg_engine) as session:
        session.begin()
        rows.upsert(session, MONEY, [_money("dave", Decimal(1))])
        rows.upsert(session, MONEY, [_money("dave", Decimal(2), currency="EURO-DOLLARS")])
        with pytest.raises(DBAPIError):  # sent without waiting: it fails at the commit
            session.commit()
    with Session(pg_engine) as session, session.begin():  # the connection is fine after
        rows.upsert(session, MONEY, [_money("erin", Decimal(3))])

    with Session(pg_engine) as session:
        keys = [("op", "brand", ref, "EUR") for ref in ("dave", "erin")]
        stored = {key[2] for key in rows.load(session, MONEY, keys)}
    assert stored == {"erin"}  # dave's first upsert went with his transaction


@pytest.mark.integration
def test_a_rollback_discards_an_upsert_sent_without_waiting(pg_engine: Engine) -> None:
    with Session(pg_engine) as session:
        session.begin()
        rows.upsert(session, MONEY, [_money("frank", Decimal(1))])
        session.rollback()

        assert rows.load(session, MONEY, [("op", "brand", "frank", "EUR")]) == {}


def _session(player_ref: str, started_at: datetime) -> dict[str, Any]:
    return {
        "operator_id": "op",
        "brand_id": "brand",
        "player_ref": player_ref,
        "started_at": started_at,
        "ended_at": started_at + timedelta(minutes=5),
        "duration_seconds": 300,
        "events": 2,
        "rounds": 1,
        "games": 1,
        "turnover": {"EUR": "1"},
        "ggr": {"EUR": "0.5"},
    }


def test_a_delete_by_key_removes_exactly_those_rows(engine: Engine) -> None:
    # Keys of text (with a quote and a backslash, which PostgreSQL's array text escapes)
    # and times (given in another zone: the same moments); read back in the transaction,
    # after PostgreSQL's delete was sent without waiting.
    noon = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
    players = ['ann "a" \\ b', "bob"]
    stored = [_session(ref, noon + timedelta(hours=h)) for ref in players for h in range(3)]
    with Session(engine) as session, session.begin():
        rows.upsert(session, SESSIONS, stored)
    zone = timezone(timedelta(hours=-5))
    doomed = [("op", "brand", ref, (noon + timedelta(hours=1)).astimezone(zone)) for ref in players]
    doomed.append(("op", "brand", "bob", noon + timedelta(hours=9)))  # no such row
    with Session(engine) as session, session.begin():
        rows.delete(session, SESSIONS, [*doomed, doomed[0]])  # a key twice deletes once
        left = rows.matching(
            session,
            SESSIONS,
            ("operator_id", "brand_id"),
            [("op", "brand")],
            names=("player_ref", "started_at"),
        )

    assert sorted((row["player_ref"], row["started_at"]) for row in left) == sorted(
        (ref, noon + timedelta(hours=h)) for ref in players for h in (0, 2)
    )
    assert all(set(row) == {"player_ref", "started_at"} for row in left)


def test_times_and_amounts_read_back_as_sqlalchemys_own_reading(engine: Engine) -> None:
    # The upsert and the lookup convert times and amounts themselves (cached, one call a
    # value): what they store and read must be what the column types store and read.
    paris = timezone(timedelta(hours=2))
    started = [
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 4, 0, tzinfo=paris),  # another zone, no microseconds
    ]
    written = [
        _round(f"r{number}", moment, Decimal(amount))
        for number, (moment, amount) in enumerate(zip(started, ["-0.10", "1E+2"], strict=True))
    ]
    with Session(engine) as session, session.begin():
        rows.upsert(session, ROUNDS, written)
    key_names = rows.primary_key(ROUNDS)  # keys in the primary key's order
    keys = [tuple(row[name] for name in key_names) for row in written]

    with Session(engine) as session:
        ours = rows.load(session, ROUNDS, keys)
        theirs = {
            tuple(row._mapping[name] for name in key_names): dict(row._mapping)
            for row in session.execute(select(ROUNDS).order_by(ROUNDS.c.round_ref))
        }

    assert ours == theirs
    for key, moment in zip(keys, started, strict=True):
        assert ours[key]["started_at"] == moment
        assert ours[key]["started_at"].tzinfo is UTC
    assert [str(ours[key]["stake"]) for key in keys] == ["-0.10", "100"]


def _round(round_ref: str, started_at: datetime, stake: Decimal) -> dict[str, Any]:
    return {
        "operator_id": "op",
        "brand_id": "brand",
        "player_ref": "alice",
        "round_ref": round_ref,
        "format": "fasttrack",
        "currency": "EUR",
        "game_type": None,
        "game_id": None,
        "game_name": None,
        "vendor": None,
        "started_at": started_at,
        "ended_at": started_at,
        "stake": stake,
        "payout": Decimal(0),
        "ggr": stake,
        "real_stake": None,
        "bonus_stake": None,
        "locked_stake": None,
        "real_payout": None,
        "bonus_payout": None,
        "locked_payout": None,
        "bets": 1,
        "settlements": 0,
        "rollbacks": 0,
        "is_closed": False,
        "is_rolled_back": False,
    }


def test_days_read_back_as_sqlalchemys_own_reading(engine: Engine) -> None:
    days = [date(2026, 2, 28), date(1, 1, 1)]
    with Session(engine) as session, session.begin():
        rows.upsert(session, FX_RATES, [_rate(day) for day in days])
    keys = [("op", day, "USD", "EUR") for day in days]

    with Session(engine) as session:
        ours = rows.load(session, FX_RATES, keys)
        theirs = {tuple(row[:4]): dict(row._mapping) for row in session.execute(select(FX_RATES))}

    assert ours == theirs
    assert sorted(key[1] for key in ours) == sorted(days)


def _rate(day: date) -> dict[str, Any]:
    return {"operator_id": "op", "day": day, "currency": "USD", "quote_currency": "EUR", "rate": 1}


@pytest.mark.parametrize(
    ("count", "size"),
    [(0, 0), (1, 1), (2, 2), (3, 4), (5, 8), (50, 64), (257, 400), (400, 400), (401, 401)],
)
def test_an_in_list_is_padded_to_a_bucket_with_the_same_values(count: int, size: int) -> None:
    values = [f"p{number}" for number in range(count)]

    padded = rows.padded(values, limit=400)

    assert len(padded) == size
    assert padded[:count] == values
    assert set(padded) == set(values)


def test_sqlite_rows_convert_times_amounts_and_days_in_one_call() -> None:
    # The equivalence test above passes on SQLAlchemy's own conversions too (a fast one
    # that disagrees with them is dropped): this one fails if the fast ones are not used.
    dialect = sqlite.dialect()
    fast_binds = {kind: convert for kind, convert, _ in rows._FAST_BINDS}
    fast_reads = {kind: convert for kind, convert, _ in rows._FAST_RESULTS}

    for column, kind in ((ROUNDS.c.started_at, UtcDateTime), (ROUNDS.c.stake, Money)):
        assert rows._bind_processor(column.type, dialect) is fast_binds[kind]
        assert rows._result_processor(column.type, dialect) is fast_reads[kind]
    assert rows._bind_processor(FX_RATES.c.day.type, dialect) is fast_binds[Date]
