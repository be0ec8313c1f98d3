"""Affiliates, what they promote with (campaigns, tracking links, promo codes), the clicks
on their links, and which affiliate each player is credited to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from croupier.events.models import SeqType
from croupier.kit.db import Base, UtcDateTime


class Affiliate(Base):
    __tablename__ = "affiliates"
    __table_args__ = (UniqueConstraint("operator_id", "email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))  # pending, active, suspended
    payout_currency: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("affiliates.id"))
    # Signs postbacks (HMAC-SHA256); shown to the affiliate, never to other affiliates.
    postback_secret: Mapped[str] = mapped_column(String(64))
    # Salt of the per-affiliate player hash ({player} in postbacks, the affiliate API).
    player_salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AffiliateToken(Base):
    """The affiliate-side API's credential: only a hash is kept, like API keys."""

    __tablename__ = "affiliate_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TrackingLink(Base):
    __tablename__ = "tracking_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Short and unguessable: what /t/{code} carries.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"), index=True)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"))
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.id"))
    # None: the brand's landing URL at click time.
    landing_url: Mapped[str | None] = mapped_column(String(2000))
    # Default sub1..sub5, overridden by the click's query string.
    default_subs: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PromoCode(Base):
    __tablename__ = "promo_codes"
    __table_args__ = (UniqueConstraint("operator_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"), index=True)
    # Matched case-insensitively: stored upper-cased.
    code: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Click(Base):
    __tablename__ = "clicks"
    __table_args__ = (
        # last-click attribution: the operator's clicks from one IP, newest first
        Index("ix_clicks_ip", "operator_id", "ip_address", "clicked_at"),
        # uniqueness: same link, IP and user agent within 24 h
        Index("ix_clicks_unique", "link_id", "ip_address", "clicked_at"),
        Index("ix_clicks_affiliate", "affiliate_id", "clicked_at"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    click_id: Mapped[str] = mapped_column(String(36), unique=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    brand_id: Mapped[str] = mapped_column(String(64))
    affiliate_id: Mapped[str] = mapped_column(String(36))
    campaign_id: Mapped[str | None] = mapped_column(String(36))
    link_id: Mapped[str] = mapped_column(String(36))
    sub1: Mapped[str | None] = mapped_column(String(255))
    sub2: Mapped[str | None] = mapped_column(String(255))
    sub3: Mapped[str | None] = mapped_column(String(255))
    sub4: Mapped[str | None] = mapped_column(String(255))
    sub5: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    referer: Mapped[str | None] = mapped_column(Text)
    clicked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    is_unique: Mapped[bool] = mapped_column(Boolean)
    is_bot: Mapped[bool] = mapped_column(Boolean)
