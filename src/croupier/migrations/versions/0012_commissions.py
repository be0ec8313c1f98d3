"""Commissions: plans, versions, assignments, CPA qualifications, statements.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = croupier.kit.db.Money(length=64)
    time = croupier.kit.db.UtcDateTime(timezone=True)
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "commission_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_commission_plans_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_plans")),
        sa.UniqueConstraint(
            "operator_id", "name", name=op.f("uq_commission_plans_operator_id_name")
        ),
    )
    op.create_index(
        op.f("ix_commission_plans_operator_id"), "commission_plans", ["operator_id"], unique=False
    )
    op.create_table(
        "commission_plan_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["commission_plans.id"],
            name=op.f("fk_commission_plan_versions_plan_id_commission_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_plan_versions")),
        sa.UniqueConstraint(
            "plan_id",
            "effective_from",
            name=op.f("uq_commission_plan_versions_plan_id_effective_from"),
        ),
    )
    op.create_index(
        op.f("ix_commission_plan_versions_plan_id"),
        "commission_plan_versions",
        ["plan_id"],
        unique=False,
    )
    op.create_table(
        "commission_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=True),
        sa.Column("brand_id", sa.String(length=64), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_commission_assignments_affiliate_id_affiliates"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["commission_plans.id"],
            name=op.f("fk_commission_assignments_plan_id_commission_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_assignments")),
    )
    op.create_index(
        "ix_commission_assignments_affiliate",
        "commission_assignments",
        ["operator_id", "affiliate_id"],
        unique=False,
    )
    op.create_table(
        "cpa_qualifications",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("qualified_at", time, nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_received_at", time, nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "operator_id", "brand_id", "player_ref", name=op.f("pk_cpa_qualifications")
        ),
    )
    op.create_index(
        "ix_cpa_qualifications_affiliate",
        "cpa_qualifications",
        ["operator_id", "affiliate_id", "qualified_at"],
        unique=False,
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reporting_currency", sa.String(length=10), nullable=False),
        sa.Column("payout_currency", sa.String(length=10), nullable=False),
        sa.Column("fx_rate", money, nullable=True),
        sa.Column("fx_rate_day", sa.Date(), nullable=False),
        sa.Column("covered_tx_id", sa.BigInteger(), nullable=False),
        sa.Column("covered_seq", sa.BigInteger(), nullable=False),
        sa.Column("players", sa.Integer(), nullable=False),
        sa.Column("ngr", money, nullable=False),
        sa.Column("adjustments_ngr", money, nullable=False),
        sa.Column("carry_in", money, nullable=False),
        sa.Column("carry_out", money, nullable=False),
        sa.Column("revshare", money, nullable=False),
        sa.Column("cpa", money, nullable=False),
        sa.Column("sub_affiliate", money, nullable=False),
        sa.Column("total", money, nullable=False),
        sa.Column("payable", money, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("computed_at", time, nullable=False),
        sa.Column("closed_at", time, nullable=True),
        sa.Column("closed_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_statements_affiliate_id_affiliates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint(
            "operator_id",
            "affiliate_id",
            "period",
            name=op.f("uq_statements_operator_id_affiliate_id_period"),
        ),
    )
    op.create_index(
        "ix_statements_period", "statements", ["operator_id", "period", "status"], unique=False
    )
    op.create_table(
        "statement_lines",
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("deposits", money, nullable=False),
        sa.Column("ggr", money, nullable=False),
        sa.Column("bonus_cost", money, nullable=False),
        sa.Column("chargeback", money, nullable=False),
        sa.Column("fee", money, nullable=False),
        sa.Column("gaming_tax", money, nullable=False),
        sa.Column("admin_fee", money, nullable=False),
        sa.Column("payment_fee", money, nullable=False),
        sa.Column("ngr_computed", money, nullable=False),
        sa.Column("ngr_reported", money, nullable=True),
        sa.Column("ngr", money, nullable=False),
        sa.Column("revshare", money, nullable=True),
        sa.Column("cpa", money, nullable=False),
        sa.Column("cpa_rule", sa.String(length=32), nullable=True),
        sa.Column("cpa_qualified_at", time, nullable=True),
        sa.Column("unvalued", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint(
            "statement_id", "brand_id", "player_ref", name=op.f("pk_statement_lines")
        ),
    )
    op.create_table(
        "statement_adjustments",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("for_period", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("player_ref", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=24), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("received_at", time, nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("native_amount", money, nullable=True),
        sa.Column("amount", money, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_adjustments")),
    )
    op.create_index(
        "ix_statement_adjustments_statement",
        "statement_adjustments",
        ["statement_id"],
        unique=False,
    )
    op.create_index(
        "ix_statement_adjustments_item",
        "statement_adjustments",
        ["operator_id", "affiliate_id", "event_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_statement_adjustments_item", table_name="statement_adjustments")
    op.drop_index("ix_statement_adjustments_statement", table_name="statement_adjustments")
    op.drop_table("statement_adjustments")
    op.drop_table("statement_lines")
    op.drop_index("ix_statements_period", table_name="statements")
    op.drop_table("statements")
    op.drop_index("ix_cpa_qualifications_affiliate", table_name="cpa_qualifications")
    op.drop_table("cpa_qualifications")
    op.drop_index("ix_commission_assignments_affiliate", table_name="commission_assignments")
    op.drop_table("commission_assignments")
    op.drop_index(
        op.f("ix_commission_plan_versions_plan_id"), table_name="commission_plan_versions"
    )
    op.drop_table("commission_plan_versions")
    op.drop_index(op.f("ix_commission_plans_operator_id"), table_name="commission_plans")
    op.drop_table("commission_plans")
