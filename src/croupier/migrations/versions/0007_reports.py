"""Projections: exchange rates and player-day facts.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("quote_currency", sa.String(length=10), nullable=False),
        sa.Column("rate", croupier.kit.db.Money(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "day", "currency", "quote_currency", name=op.f("pk_fx_rates")
        ),
    )
    op.create_table(
        "player_days",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("game_type", sa.String(length=255), nullable=False),
        sa.Column("vendor", sa.String(length=255), nullable=False),
        sa.Column("bets", sa.Integer(), nullable=False),
        sa.Column("deposits", sa.Integer(), nullable=False),
        sa.Column("withdrawals", sa.Integer(), nullable=False),
        sa.Column("turnover", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("turnover_rated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("turnover_unrated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("ggr", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("ggr_rated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("ggr_unrated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("deposits_amount", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("deposits_amount_rated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("deposits_amount_unrated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("withdrawals_amount", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("withdrawals_amount_rated", croupier.kit.db.Money(length=64), nullable=False),
        sa.Column("withdrawals_amount_unrated", croupier.kit.db.Money(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id",
            "brand_id",
            "player_ref",
            "day",
            "currency",
            "game_type",
            "vendor",
            name=op.f("pk_player_days"),
        ),
    )
    with op.batch_alter_table("player_days", schema=None) as batch_op:
        batch_op.create_index("ix_player_days_operator_day", ["operator_id", "day"], unique=False)
        batch_op.create_index(
            "ix_player_days_operator_player", ["operator_id", "player_ref", "day"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("player_days", schema=None) as batch_op:
        batch_op.drop_index("ix_player_days_operator_player")
        batch_op.drop_index("ix_player_days_operator_day")
    op.drop_table("player_days")
    op.drop_table("fx_rates")
