"""Tables of the players projection: one row per player, money per currency, flag history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime


class Player(Base):
    """Per (operator, brand, player_ref). "Earliest"/"latest" choices keep the seq of the
    event they came from, so ties break the same way whatever the arrival order."""

    __tablename__ = "players"

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The earliest registration event; none means the registration is missing.
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    registration_seq: Mapped[int | None] = mapped_column(BigInteger)
    registration_event_id: Mapped[str | None] = mapped_column(String(36))
    country: Mapped[str | None] = mapped_column(String(2))
    device: Mapped[str | None] = mapped_column(String(32))
    click_id: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # The earliest approved deposit by occurred_at.
    first_deposit_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_deposit_seq: Mapped[int | None] = mapped_column(BigInteger)
    first_deposit_event_id: Mapped[str | None] = mapped_column(String(36))
    first_deposit_amount: Mapped[Decimal | None] = mapped_column(Money())
    first_deposit_currency: Mapped[str | None] = mapped_column(String(10))
    # A Revvvs ``first_deposit`` is the sender's claim, checked against the stream when read.
    claimed_first_deposit_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_first_deposit_seq: Mapped[int | None] = mapped_column(BigInteger)
    claimed_first_deposit_event_id: Mapped[str | None] = mapped_column(String(36))
    # The latest account flag by occurred_at; "active" until one arrives.
    account_flag: Mapped[str] = mapped_column(String(32))
    account_flag_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    account_flag_seq: Mapped[int | None] = mapped_column(BigInteger)


class PlayerMoney(Base):
    """Approved deposits, withdrawals and chargebacks of a player, per currency."""

    __tablename__ = "player_money"

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    deposits: Mapped[int] = mapped_column(Integer)
    deposits_amount: Mapped[Decimal] = mapped_column(Money())
    withdrawals: Mapped[int] = mapped_column(Integer)
    withdrawals_amount: Mapped[Decimal] = mapped_column(Money())
    chargebacks: Mapped[int] = mapped_column(Integer)
    chargebacks_amount: Mapped[Decimal] = mapped_column(Money())


class PlayerFlag(Base):
    """Every account flag change, as sent (the history behind ``Player.account_flag``)."""

    __tablename__ = "player_flags"
    __table_args__ = (Index("ix_player_flags_player", "operator_id", "player_ref", "occurred_at"),)

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(36))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    flag: Mapped[str] = mapped_column(String(32))
    previous_flag: Mapped[str | None] = mapped_column(String(32))
