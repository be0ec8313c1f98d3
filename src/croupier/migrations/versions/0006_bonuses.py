"""Projections: Fast Track bonus lifecycles.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from croupier.kit.db import Money, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bonuses",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("bonus_ref", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_at", UtcDateTime(), nullable=True),
        sa.Column("bonus_id", sa.Text(), nullable=True),
        sa.Column("bonus_type", sa.Text(), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("bonus_code", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("bonus_events", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=True),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("amount_awarded", Money(), nullable=True),
        sa.Column("required_wagering", Money(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("closed_status", sa.String(length=32), nullable=True),
        sa.Column("amount_turned_real", Money(), nullable=True),
        sa.Column("amount_forfeited", Money(), nullable=True),
        sa.Column("wagered", Money(), nullable=False),
        sa.Column("bonus_wagered", Money(), nullable=False),
        sa.Column("won", Money(), nullable=False),
        sa.Column("casino_events", sa.Integer(), nullable=False),
        sa.Column("first_casino_at", UtcDateTime(), nullable=True),
        sa.Column("last_casino_at", UtcDateTime(), nullable=True),
        sa.Column("bonus_event_after_closure", sa.Boolean(), nullable=False),
        sa.Column("casino_before_created", sa.Boolean(), nullable=False),
        sa.Column("events_after_closure", sa.Boolean(), nullable=False),
        sa.Column("second_created", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "brand_id", "player_ref", "bonus_ref", name=op.f("pk_bonuses")
        ),
    )
    op.create_table(
        "bonus_events",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("bonus_ref", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("amount", Money(), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("bonus_turned_real", Money(), nullable=True),
        sa.Column("locked_amount", Money(), nullable=True),
        sa.Column("required_wagering", Money(), nullable=True),
        sa.Column("bonus_id", sa.Text(), nullable=True),
        sa.Column("bonus_type", sa.Text(), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("bonus_code", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("operator_id", "seq", name=op.f("pk_bonus_events")),
    )
    op.create_index(
        "ix_bonus_events_bonus",
        "bonus_events",
        ["operator_id", "player_ref", "bonus_ref"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_bonus_events_bonus", table_name="bonus_events")
    op.drop_table("bonus_events")
    op.drop_table("bonuses")
