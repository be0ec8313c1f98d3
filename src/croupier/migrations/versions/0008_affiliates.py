"""Affiliates: affiliates, campaigns, tracking links, promo codes, tokens, clicks.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "affiliates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payout_currency", sa.String(length=10), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("postback_secret", sa.String(length=64), nullable=False),
        sa.Column("player_salt", sa.String(length=64), nullable=False),
        sa.Column("created_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_affiliates_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["affiliates.id"], name=op.f("fk_affiliates_parent_id_affiliates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliates")),
        sa.UniqueConstraint("operator_id", "email", name=op.f("uq_affiliates_operator_id_email")),
    )
    op.create_index(op.f("ix_affiliates_operator_id"), "affiliates", ["operator_id"], unique=False)
    op.create_table(
        "affiliate_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_affiliate_tokens_affiliate_id_affiliates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_affiliate_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_affiliate_tokens_affiliate_id"), "affiliate_tokens", ["affiliate_id"], unique=False
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_campaigns_affiliate_id_affiliates")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_campaigns_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_affiliate_id"), "campaigns", ["affiliate_id"], unique=False)
    op.create_index(op.f("ix_campaigns_operator_id"), "campaigns", ["operator_id"], unique=False)
    op.create_table(
        "tracking_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=True),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("landing_url", sa.String(length=2000), nullable=True),
        sa.Column("default_subs", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_tracking_links_affiliate_id_affiliates"),
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_tracking_links_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_tracking_links_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_tracking_links_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_links")),
        sa.UniqueConstraint("code", name=op.f("uq_tracking_links_code")),
    )
    op.create_index(
        op.f("ix_tracking_links_affiliate_id"), "tracking_links", ["affiliate_id"], unique=False
    )
    op.create_index(
        op.f("ix_tracking_links_operator_id"), "tracking_links", ["operator_id"], unique=False
    )
    op.create_table(
        "promo_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("created_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_promo_codes_affiliate_id_affiliates")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_promo_codes_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("operator_id", "code", name=op.f("uq_promo_codes_operator_id_code")),
    )
    op.create_index(
        op.f("ix_promo_codes_affiliate_id"), "promo_codes", ["affiliate_id"], unique=False
    )
    op.create_index(
        op.f("ix_promo_codes_operator_id"), "promo_codes", ["operator_id"], unique=False
    )
    op.create_table(
        "clicks",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("click_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("affiliate_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=True),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("sub1", sa.String(length=255), nullable=True),
        sa.Column("sub2", sa.String(length=255), nullable=True),
        sa.Column("sub3", sa.String(length=255), nullable=True),
        sa.Column("sub4", sa.String(length=255), nullable=True),
        sa.Column("sub5", sa.String(length=255), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("referer", sa.Text(), nullable=True),
        sa.Column("clicked_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("is_unique", sa.Boolean(), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_clicks")),
        sa.UniqueConstraint("click_id", name=op.f("uq_clicks_click_id")),
    )
    op.create_index("ix_clicks_affiliate", "clicks", ["affiliate_id", "clicked_at"], unique=False)
    op.create_index(
        "ix_clicks_ip", "clicks", ["operator_id", "ip_address", "clicked_at"], unique=False
    )
    op.create_index(
        "ix_clicks_unique", "clicks", ["link_id", "ip_address", "clicked_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("clicks")
    op.drop_table("promo_codes")
    op.drop_table("tracking_links")
    op.drop_table("campaigns")
    op.drop_table("affiliate_tokens")
    op.drop_table("affiliates")
