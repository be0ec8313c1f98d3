"""Postbacks: the affiliates' URL templates, the outbox of postbacks to send, and every
delivery attempt.

The outbox is a side-effect log, not a projection: replay never empties it, and a row is
only ever inserted if absent, so a postback is enqueued once whatever the replays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, UtcDateTime


class PostbackTemplate(Base):
    __tablename__ = "postback_templates"
    __table_args__ = (Index("ix_postback_templates_affiliate", "operator_id", "affiliate_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"))
    # None: every player of the affiliate; else only those who came through this link.
    link_id: Mapped[str | None] = mapped_column(String(36))
    url: Mapped[str] = mapped_column(String(2000))
    # A subset of registration, first_deposit, cpa_qualified.
    events: Mapped[list[Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PostbackDelivery(Base):
    """One postback to send: a (template, player, event), its URL filled at enqueue time."""

    __tablename__ = "postback_deliveries"
    __table_args__ = (
        # what the sender picks
        Index("ix_postback_deliveries_due", "status", "next_attempt_at"),
        Index("ix_postback_deliveries_affiliate", "operator_id", "affiliate_id", "created_at"),
    )

    # A UUID derived from (template, brand, player, event): the natural key, so a second
    # enqueue of the same postback is a no-op.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    affiliate_id: Mapped[str] = mapped_column(String(36))
    template_id: Mapped[str] = mapped_column(String(36))
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(16))  # registration first_deposit cpa_qualified
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending delivered failed cancelled
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # When the sender may next try (also a lease while an attempt is in flight).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class PostbackAttempt(Base):
    __tablename__ = "postback_attempts"

    delivery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    affiliate_id: Mapped[str] = mapped_column(String(36))
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    # timeout, connect_error, refused_private_target, ... (None on a 2xx)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
