"""Tables of the bonuses projection: Fast Track bonus lifecycles and their status history.

Both are keyed by natural keys only, so an incremental build equals a replay row for row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime


class Bonus(Base):
    """One ``user_bonus_id`` of one player: where its lifecycle stands, what it paid out,
    how much was wagered with it and whether its events broke 004's sequence."""

    __tablename__ = "bonuses"

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    bonus_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    # From the latest bonus event by (occurred_at, seq); 'unknown' while only casino
    # events have named this bonus.
    status: Mapped[str] = mapped_column(String(32))
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    bonus_id: Mapped[str | None] = mapped_column(Text)
    bonus_type: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(String(32))
    bonus_code: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(String(10))
    bonus_events: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_count: Mapped[int] = mapped_column(Integer)
    amount_awarded: Mapped[Decimal | None] = mapped_column(Money())
    required_wagering: Mapped[Decimal | None] = mapped_column(Money())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_status: Mapped[str | None] = mapped_column(String(32))
    amount_turned_real: Mapped[Decimal | None] = mapped_column(Money())
    amount_forfeited: Mapped[Decimal | None] = mapped_column(Money())
    # Casino events carrying this user_bonus_id: commutative sums, counts and bounds.
    wagered: Mapped[Decimal] = mapped_column(Money())
    bonus_wagered: Mapped[Decimal] = mapped_column(Money())
    won: Mapped[Decimal] = mapped_column(Money())
    casino_events: Mapped[int] = mapped_column(Integer)
    first_casino_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_casino_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 004 sequence violations, derived from the folded fields above.
    bonus_event_after_closure: Mapped[bool] = mapped_column(Boolean)
    casino_before_created: Mapped[bool] = mapped_column(Boolean)
    events_after_closure: Mapped[bool] = mapped_column(Boolean)
    second_created: Mapped[bool] = mapped_column(Boolean)


class BonusEvent(Base):
    """Every Fast Track bonus status event, once: the lifecycle's history."""

    __tablename__ = "bonus_events"
    __table_args__ = (Index("ix_bonus_events_bonus", "operator_id", "player_ref", "bonus_ref"),)

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    bonus_ref: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    amount: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(10))
    bonus_turned_real: Mapped[Decimal | None] = mapped_column(Money())
    locked_amount: Mapped[Decimal | None] = mapped_column(Money())
    required_wagering: Mapped[Decimal | None] = mapped_column(Money())
    bonus_id: Mapped[str | None] = mapped_column(Text)
    bonus_type: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(String(32))
    bonus_code: Mapped[str | None] = mapped_column(Text)
