"""Projections: game round activities, game rounds and game sessions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _player() -> list[sa.Column[str]]:
    return [
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
    ]


def _game() -> list[sa.Column[str]]:
    return [
        sa.Column("game_type", sa.String(length=255), nullable=True),
        sa.Column("game_id", sa.String(length=255), nullable=True),
        sa.Column("game_name", sa.String(length=255), nullable=True),
        sa.Column("vendor", sa.String(length=255), nullable=True),
    ]


def upgrade() -> None:
    money = croupier.kit.db.Money(length=64)
    time = croupier.kit.db.UtcDateTime(timezone=True)
    op.create_table(
        "casino_round_activities",
        *_player(),
        sa.Column("round_ref", sa.String(length=255), nullable=False),
        sa.Column("activity_ref", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
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
        *_game(),
        sa.PrimaryKeyConstraint(
            "operator_id",
            "brand_id",
            "player_ref",
            "round_ref",
            "activity_ref",
            "status",
            name=op.f("pk_casino_round_activities"),
        ),
    )
    op.create_table(
        "casino_rounds",
        *_player(),
        sa.Column("round_ref", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=True),
        *_game(),
        sa.Column("started_at", time, nullable=False),
        sa.Column("ended_at", time, nullable=False),
        sa.Column("stake", money, nullable=False),
        sa.Column("payout", money, nullable=False),
        sa.Column("ggr", money, nullable=False),
        sa.Column("real_stake", money, nullable=True),
        sa.Column("bonus_stake", money, nullable=True),
        sa.Column("locked_stake", money, nullable=True),
        sa.Column("real_payout", money, nullable=True),
        sa.Column("bonus_payout", money, nullable=True),
        sa.Column("locked_payout", money, nullable=True),
        sa.Column("bets", sa.Integer(), nullable=False),
        sa.Column("settlements", sa.Integer(), nullable=False),
        sa.Column("rollbacks", sa.Integer(), nullable=False),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("is_rolled_back", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "brand_id", "player_ref", "round_ref", name=op.f("pk_casino_rounds")
        ),
    )
    op.create_index(
        "ix_casino_rounds_player",
        "casino_rounds",
        ["operator_id", "player_ref", "started_at"],
        unique=False,
    )
    op.create_index(
        "ix_casino_rounds_ref", "casino_rounds", ["operator_id", "round_ref"], unique=False
    )
    op.create_table(
        "casino_sessions",
        *_player(),
        sa.Column("started_at", time, nullable=False),
        sa.Column("ended_at", time, nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("games", sa.Integer(), nullable=False),
        sa.Column("turnover", sa.JSON(), nullable=False),
        sa.Column("ggr", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "brand_id", "player_ref", "started_at", name=op.f("pk_casino_sessions")
        ),
    )
    op.create_index(
        "ix_casino_sessions_player",
        "casino_sessions",
        ["operator_id", "player_ref", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_casino_sessions_player", table_name="casino_sessions")
    op.drop_table("casino_sessions")
    op.drop_index("ix_casino_rounds_ref", table_name="casino_rounds")
    op.drop_index("ix_casino_rounds_player", table_name="casino_rounds")
    op.drop_table("casino_rounds")
    op.drop_table("casino_round_activities")
