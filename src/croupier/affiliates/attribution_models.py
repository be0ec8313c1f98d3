"""Which affiliate each player is credited to, why, and every change of that decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, UtcDateTime


class PlayerAttribution(Base):
    """A projection row per player. Recomputed from the player's events, the clicks, the
    promo codes and the admins' overrides, so replay and incremental builds agree."""

    __tablename__ = "player_attributions"
    __table_args__ = (Index("ix_player_attributions_affiliate", "operator_id", "affiliate_id"),)

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    # None: organic (or an admin credited nobody).
    affiliate_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(16))  # click_id promo_code last_click organic manual
    click_id: Mapped[str | None] = mapped_column(String(255))
    promo_code: Mapped[str | None] = mapped_column(String(100))
    # A click_id that is none of our clicks (an ad network's): kept, credits nobody.
    external_click_id: Mapped[str | None] = mapped_column(String(255))
    # The signals the decision was made from (click ids, promo codes, IP, user agent, times).
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The registration, or the player's first event when no registration arrived.
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Event time of the signal that decided (an override's time for a manual decision).
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The first approved deposit, when the operator freezes there: later signals are ignored.
    frozen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AttributionChange(Base):
    """The audit log, rebuilt with the player's row: position orders it in time."""

    __tablename__ = "attribution_changes"
    __table_args__ = (
        Index("ix_attribution_changes_affiliate", "operator_id", "affiliate_id"),
        Index("ix_attribution_changes_previous", "operator_id", "previous_affiliate_id"),
    )

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The event that brought the deciding signal (None for a manual change).
    event_seq: Mapped[int | None] = mapped_column(BigInteger)
    previous_affiliate_id: Mapped[str | None] = mapped_column(String(36))
    affiliate_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(16))  # system, admin
    # The admin's stated reason and key, for a manual change.
    note: Mapped[str | None] = mapped_column(Text)
    override_id: Mapped[str | None] = mapped_column(String(36))
    key_id: Mapped[str | None] = mapped_column(String(36))


class AttributionOverride(Base):
    """An admin's reassignment. Not a projection: replay keeps it and applies it again."""

    __tablename__ = "attribution_overrides"
    __table_args__ = (
        Index("ix_attribution_overrides_player", "operator_id", "brand_id", "player_ref"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    affiliate_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
