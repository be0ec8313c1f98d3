"""Commissions: the NGR ledger lines and the operator's deduction settings.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = croupier.kit.db.Money(length=64)
    time = croupier.kit.db.UtcDateTime(timezone=True)
    op.create_table(
        "ngr_lines",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("component", sa.String(length=24), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("rated_amount", money, nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("tx_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", time, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("operator_id", "event_id", "component", name=op.f("pk_ngr_lines")),
    )
    with op.batch_alter_table("ngr_lines", schema=None) as batch_op:
        batch_op.create_index("ix_ngr_lines_operator_day", ["operator_id", "day"], unique=False)
        batch_op.create_index(
            "ix_ngr_lines_operator_player", ["operator_id", "player_ref", "day"], unique=False
        )
    op.create_table(
        "ngr_deductions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("gaming_tax_pct", money, nullable=True),
        sa.Column("admin_fee_pct", money, nullable=True),
        sa.Column("payment_fee_pct", money, nullable=True),
        sa.Column("created_at", time, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_ngr_deductions_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ngr_deductions")),
    )
    with op.batch_alter_table("ngr_deductions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ngr_deductions_operator", ["operator_id", "effective_from"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ngr_deductions", schema=None) as batch_op:
        batch_op.drop_index("ix_ngr_deductions_operator")
    op.drop_table("ngr_deductions")
    with op.batch_alter_table("ngr_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_ngr_lines_operator_player")
        batch_op.drop_index("ix_ngr_lines_operator_day")
    op.drop_table("ngr_lines")
