"""Migration 0014 moves a store's round activities into their rounds' rows, and back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

from conftest import PG_URL, require_server
from croupier.casino import rounds
from croupier.casino.models import ROUNDS, Activity
from croupier.kit import migrate
from croupier.kit.db import create_db_engine

KEY = {"operator_id": "op-1", "brand_id": "b-1", "player_ref": "p-1", "round_ref": "r-1"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store with no schema at all, so the test can stop at an older revision."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    require_server("127.0.0.1", 5432, "PostgreSQL")
    schema = f"croupier_mig_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 1, 10, minute, second, 123456, tzinfo=UTC)


def _activity(ref: str, status: str, seq: int, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        **KEY,
        "activity_ref": ref,
        "status": status,
        "seq": seq,
        "event_id": str(uuid.UUID(int=seq)),
        "occurred_at": at,
        "kind": fields.pop("kind", "bet"),
        "format": "fasttrack",
        "activity_type": fields.pop("activity_type", "Bet"),
        "currency": "EUR",
        "stake": fields.pop("stake", None),
        "ggr_delta": fields.pop("ggr_delta", None),
        "real_amount": fields.pop("real_amount", None),
        "bonus_amount": None,
        "locked_amount": None,
        "closes_round": fields.pop("closes_round", False),
        "game_type": "Slots",
        "game_id": "g-1",
        "game_name": None,
        "vendor": "netent",
    }


# Stored out of time order on purpose: the round keeps them in time order.
ACTIVITIES = [
    _activity(
        "a-2",
        "approved",
        7,
        _at(2),
        kind="settlement",
        activity_type="Win",
        ggr_delta=Decimal("-12.3400"),
        real_amount=Decimal("12.34"),
        closes_round=True,
    ),
    _activity(
        "a-1",
        "approved",
        5,
        _at(1),
        stake=Decimal("10.00"),
        ggr_delta=Decimal("10.00"),
        real_amount=Decimal("10"),
    ),
    _activity("a-2", "rollback", 9, _at(3), kind="settlement", activity_type="Win"),
]


def _round_row() -> dict[str, Any]:
    money = {name: Decimal("0") for name in ("stake", "payout", "ggr")}
    counts = {"bets": 1, "settlements": 1, "rollbacks": 1}
    flags = {"is_closed": False, "is_rolled_back": True}
    return {**KEY, "format": "fasttrack", "started_at": _at(1), "ended_at": _at(3)} | (
        money | counts | flags
    )


def test_activities_move_into_their_round_and_back(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0013")
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_engine))
    old_table = script.get_revision("0014").module._activities_table()
    with empty_engine.begin() as conn:
        conn.execute(old_table.insert(), ACTIVITIES)
        conn.execute(ROUNDS.insert(), [_round_row()])  # the round as 0013 stored it

    migrate.upgrade(empty_engine)

    assert "casino_round_activities" not in inspect(empty_engine).get_table_names()
    assert _key_and_indexes(empty_engine) == (
        ["operator_id", "round_ref", "brand_id", "player_ref"],
        {"ix_casino_rounds_player"},
    )
    with empty_engine.connect() as conn:
        stored = conn.execute(select(ROUNDS)).mappings().one()
    assert stored["bets"] == 1  # the round's own columns untouched
    in_time_order = sorted(ACTIVITIES, key=lambda row: row["occurred_at"])
    fields = Activity.__struct_fields__
    assert rounds.decode(stored["activities"]) == [
        Activity(**{name: row[name] for name in fields}) for row in in_time_order
    ]

    migrate.downgrade(empty_engine, "0013")

    assert "activities" not in {
        c["name"] for c in inspect(empty_engine).get_columns("casino_rounds")
    }
    assert _key_and_indexes(empty_engine) == (
        ["operator_id", "brand_id", "player_ref", "round_ref"],
        {"ix_casino_rounds_player", "ix_casino_rounds_ref"},
    )
    with empty_engine.connect() as conn:
        back = conn.execute(select(old_table)).mappings().all()
    key = ("activity_ref", "status")
    assert sorted(map(dict, back), key=lambda row: [row[name] for name in key]) == sorted(
        ACTIVITIES, key=lambda row: [row[name] for name in key]
    )
    migrate.upgrade(empty_engine)  # and forward again, to head


def _key_and_indexes(engine: Engine) -> tuple[list[str], set[str]]:
    """casino_rounds' primary key columns in order, and its index names."""
    found = inspect(engine)
    key = found.get_pk_constraint("casino_rounds")["constrained_columns"]
    return key, {index["name"] for index in found.get_indexes("casino_rounds")}
