"""Operators, their brands, and the API keys that act for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, UtcDateTime


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Casino sessions end after this much inactivity (a change applies from the next replay).
    session_gap_minutes: Mapped[int] = mapped_column(Integer, server_default=text("30"), default=30)
    # Last-click attribution looks this many days back from a registration.
    attribution_window_days: Mapped[int] = mapped_column(
        Integer, server_default=text("30"), default=30
    )
    # From the first approved deposit on, only an admin changes a player's affiliate.
    attribution_freeze_at_first_deposit: Mapped[bool] = mapped_column(
        Boolean, server_default=sa_true(), default=True
    )


class Brand(Base):
    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("operator_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    landing_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.id"))
    # Only a hash is kept; the prefix lets a human recognise a key in a listing.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    rate_limit: Mapped[str | None] = mapped_column(String(64))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
