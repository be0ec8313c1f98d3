"""Projections: players, their money per currency, account flag history.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _key() -> list[sa.Column[str]]:
    return [
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
    ]


def upgrade() -> None:
    money = croupier.kit.db.Money(length=64)
    time = croupier.kit.db.UtcDateTime(timezone=True)
    op.create_table(
        "players",
        *_key(),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", time, nullable=False),
        sa.Column("last_activity_at", time, nullable=False),
        sa.Column("registered_at", time, nullable=True),
        sa.Column("registration_seq", sa.BigInteger(), nullable=True),
        sa.Column("registration_event_id", sa.String(length=36), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("device", sa.String(length=32), nullable=True),
        sa.Column("click_id", sa.String(length=255), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("first_deposit_at", time, nullable=True),
        sa.Column("first_deposit_seq", sa.BigInteger(), nullable=True),
        sa.Column("first_deposit_event_id", sa.String(length=36), nullable=True),
        sa.Column("first_deposit_amount", money, nullable=True),
        sa.Column("first_deposit_currency", sa.String(length=10), nullable=True),
        sa.Column("claimed_first_deposit_at", time, nullable=True),
        sa.Column("claimed_first_deposit_seq", sa.BigInteger(), nullable=True),
        sa.Column("claimed_first_deposit_event_id", sa.String(length=36), nullable=True),
        sa.Column("account_flag", sa.String(length=32), nullable=False),
        sa.Column("account_flag_at", time, nullable=True),
        sa.Column("account_flag_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("operator_id", "brand_id", "player_ref", name=op.f("pk_players")),
    )
    op.create_table(
        "player_money",
        *_key(),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("deposits", sa.Integer(), nullable=False),
        sa.Column("deposits_amount", money, nullable=False),
        sa.Column("withdrawals", sa.Integer(), nullable=False),
        sa.Column("withdrawals_amount", money, nullable=False),
        sa.Column("chargebacks", sa.Integer(), nullable=False),
        sa.Column("chargebacks_amount", money, nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "brand_id", "player_ref", "currency", name=op.f("pk_player_money")
        ),
    )
    op.create_table(
        "player_flags",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", time, nullable=False),
        sa.Column("flag", sa.String(length=32), nullable=False),
        sa.Column("previous_flag", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("operator_id", "seq", name=op.f("pk_player_flags")),
    )
    op.create_index(
        "ix_player_flags_player", "player_flags", ["operator_id", "player_ref", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_player_flags_player", table_name="player_flags")
    op.drop_table("player_flags")
    op.drop_table("player_money")
    op.drop_table("players")
