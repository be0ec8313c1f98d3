"""A round's activities live in its own row (casino_rounds.activities, a JSON array) instead
of a table of their own: the projector then writes one row per round a batch touches, not
one more, wider row per bet and settlement. The rounds' key leads with the round id, and
their index by round id goes: one B-tree fewer to write per round.

Existing activities move into their rounds; the table goes.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import op

import croupier.kit.db
from croupier.casino import rounds
from croupier.casino.models import Activity

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ROUND_KEY = ("operator_id", "brand_id", "player_ref", "round_ref")
_FIELDS = Activity.__struct_fields__
_BATCH = 1000


def _activities_table() -> sa.Table:
    money = croupier.kit.db.Money(length=64)
    time = croupier.kit.db.UtcDateTime(timezone=True)
    return sa.Table(
        "casino_round_activities",
        sa.MetaData(),
        sa.Column("operator_id", sa.String(length=36), primary_key=True),
        sa.Column("brand_id", sa.String(length=64), primary_key=True),
        sa.Column("player_ref", sa.String(length=255), primary_key=True),
        sa.Column("round_ref", sa.String(length=255), primary_key=True),
        sa.Column("activity_ref", sa.String(length=255), primary_key=True),
        sa.Column("status", sa.String(length=32), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", time, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("activity_type", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("stake", money, nullable=True),
        sa.Column("ggr_delta", money, nullable=True),
        sa.Column("real_amount", money, nullable=True),
        sa.Column("bonus_amount", money, nullable=True),
        sa.Column("locked_amount", money, nullable=True),
        sa.Column("closes_round", sa.Boolean(), nullable=False),
        sa.Column("game_type", sa.String(length=255), nullable=True),
        sa.Column("game_id", sa.String(length=255), nullable=True),
        sa.Column("game_name", sa.String(length=255), nullable=True),
        sa.Column("vendor", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint(*_ROUND_KEY, "activity_ref", "status"),
    )


def _rounds_table() -> sa.Table:
    return sa.Table(
        "casino_rounds",
        sa.MetaData(),
        *(sa.Column(name, sa.String(length=255), primary_key=True) for name in _ROUND_KEY),
        sa.Column("activities", sa.Text(), nullable=False),
    )


def upgrade() -> None:
    op.add_column(
        "casino_rounds",
        sa.Column("activities", sa.Text(), nullable=False, server_default="[]"),
    )
    activities, rounds_table = _activities_table(), _rounds_table()
    update = (
        rounds_table.update()
        .where(*(rounds_table.c[name] == sa.bindparam(f"key_{name}") for name in _ROUND_KEY))
        .values(activities=sa.bindparam("stored"))
    )
    connection = op.get_bind()
    ordered = activities.select().order_by(
        *(activities.c[name] for name in _ROUND_KEY), activities.c.occurred_at, activities.c.seq
    )
    # Streamed (a server-side cursor on PostgreSQL): a store's activities may not fit in
    # memory at once.
    found = connection.execute(ordered.execution_options(stream_results=True)).mappings()
    pending: list[dict[str, Any]] = []
    for key, group in groupby(found, key=lambda row: tuple(row[name] for name in _ROUND_KEY)):
        stored = rounds.encode([Activity(**{name: row[name] for name in _FIELDS}) for row in group])
        pending.append(
            {
                **{f"key_{name}": value for name, value in zip(_ROUND_KEY, key, strict=True)},
                "stored": stored,
            }
        )
        if len(pending) >= _BATCH:
            connection.execute(update, pending)
            pending = []
    if pending:
        connection.execute(update, pending)
    op.drop_table("casino_round_activities")
    # Round ids lead the key, which then serves lookups by round id (no index of its own).
    op.drop_index("ix_casino_rounds_ref", table_name="casino_rounds")
    with op.batch_alter_table("casino_rounds", schema=None) as batch_op:
        batch_op.drop_constraint("pk_casino_rounds", type_="primary")
        batch_op.create_primary_key(
            "pk_casino_rounds", ["operator_id", "round_ref", "brand_id", "player_ref"]
        )


def downgrade() -> None:
    with op.batch_alter_table("casino_rounds", schema=None) as batch_op:
        batch_op.drop_constraint("pk_casino_rounds", type_="primary")
        batch_op.create_primary_key("pk_casino_rounds", list(_ROUND_KEY))
    op.create_index(
        "ix_casino_rounds_ref", "casino_rounds", ["operator_id", "round_ref"], unique=False
    )
    activities, rounds_table = _activities_table(), _rounds_table()
    activities.create(op.get_bind())
    connection = op.get_bind()
    pending: list[dict[str, Any]] = []
    stored = sa.select(*(rounds_table.c[name] for name in _ROUND_KEY), rounds_table.c.activities)
    for row in connection.execute(stored).mappings():
        key = {name: row[name] for name in _ROUND_KEY}
        pending.extend(
            {**key, **msgspec.structs.asdict(activity)}
            for activity in rounds.decode(row["activities"])
        )
        if len(pending) >= _BATCH:
            connection.execute(activities.insert(), pending)
            pending = []
    if pending:
        connection.execute(activities.insert(), pending)
    with op.batch_alter_table("casino_rounds", schema=None) as batch_op:
        batch_op.drop_column("activities")
