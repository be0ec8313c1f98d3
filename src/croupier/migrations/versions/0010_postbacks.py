"""Affiliates: postback templates, the outbox and delivery attempts.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time = croupier.kit.db.UtcDateTime(timezone=True)
    op.create_table(
        "postback_templates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_postback_templates_affiliate_id_affiliates"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_postback_templates_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postback_templates")),
    )
    op.create_index(
        "ix_postback_templates_affiliate",
        "postback_templates",
        ["operator_id", "affiliate_id"],
        unique=False,
    )
    op.create_table(
        "postback_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("template_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.Column("next_attempt_at", time, nullable=True),
        sa.Column("delivered_at", time, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postback_deliveries")),
    )
    op.create_index(
        "ix_postback_deliveries_due",
        "postback_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_postback_deliveries_affiliate",
        "postback_deliveries",
        ["operator_id", "affiliate_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "postback_attempts",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("attempted_at", time, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "number", name=op.f("pk_postback_attempts")),
    )


def downgrade() -> None:
    op.drop_table("postback_attempts")
    op.drop_index("ix_postback_deliveries_affiliate", table_name="postback_deliveries")
    op.drop_index("ix_postback_deliveries_due", table_name="postback_deliveries")
    op.drop_table("postback_deliveries")
    op.drop_index("ix_postback_templates_affiliate", table_name="postback_templates")
    op.drop_table("postback_templates")
