"""Affiliates: player attribution, its audit log, admins' overrides, operator settings.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _player_key() -> list[sa.Column[str]]:
    return [
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
    ]


def upgrade() -> None:
    time = croupier.kit.db.UtcDateTime(timezone=True)
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "attribution_window_days",
                sa.Integer(),
                server_default=sa.text("30"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "attribution_freeze_at_first_deposit",
                sa.Boolean(),
                server_default=sa.true(),
                nullable=False,
            )
        )
    op.create_table(
        "player_attributions",
        *_player_key(),
        sa.Column("affiliate_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("click_id", sa.String(length=255), nullable=True),
        sa.Column("promo_code", sa.String(length=100), nullable=True),
        sa.Column("external_click_id", sa.String(length=255), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("registered_at", time, nullable=False),
        sa.Column("decided_at", time, nullable=False),
        sa.Column("frozen_at", time, nullable=True),
        sa.PrimaryKeyConstraint(
            "operator_id", "brand_id", "player_ref", name=op.f("pk_player_attributions")
        ),
    )
    op.create_index(
        "ix_player_attributions_affiliate",
        "player_attributions",
        ["operator_id", "affiliate_id"],
        unique=False,
    )
    op.create_table(
        "attribution_changes",
        *_player_key(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("changed_at", time, nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=True),
        sa.Column("previous_affiliate_id", sa.String(length=36), nullable=True),
        sa.Column("affiliate_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("changed_by", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("override_id", sa.String(length=36), nullable=True),
        sa.Column("key_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint(
            "operator_id",
            "brand_id",
            "player_ref",
            "position",
            name=op.f("pk_attribution_changes"),
        ),
    )
    op.create_index(
        "ix_attribution_changes_affiliate",
        "attribution_changes",
        ["operator_id", "affiliate_id"],
        unique=False,
    )
    op.create_index(
        "ix_attribution_changes_previous",
        "attribution_changes",
        ["operator_id", "previous_affiliate_id"],
        unique=False,
    )
    op.create_table(
        "attribution_overrides",
        sa.Column("id", sa.String(length=36), nullable=False),
        *_player_key(),
        sa.Column("affiliate_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_overrides")),
    )
    op.create_index(
        "ix_attribution_overrides_player",
        "attribution_overrides",
        ["operator_id", "brand_id", "player_ref"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_attribution_overrides_player", table_name="attribution_overrides")
    op.drop_table("attribution_overrides")
    op.drop_index("ix_attribution_changes_previous", table_name="attribution_changes")
    op.drop_index("ix_attribution_changes_affiliate", table_name="attribution_changes")
    op.drop_table("attribution_changes")
    op.drop_index("ix_player_attributions_affiliate", table_name="player_attributions")
    op.drop_table("player_attributions")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("attribution_freeze_at_first_deposit")
        batch_op.drop_column("attribution_window_days")
