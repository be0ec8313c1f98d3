"""Tables of the reports projection: exchange rates and player-day facts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money

# The money measures of a player-day; each is kept in three parts (see PlayerDay).
MEASURES = ("turnover", "ggr", "deposits_amount", "withdrawals_amount")


class FxRate(Base):
    """1 unit of ``currency`` = ``rate`` units of ``quote_currency`` on ``day``.

    Loaded by the operator (CLI or API), not derived from the log: replay leaves it alone,
    so it is not among the projection handler's tables."""

    __tablename__ = "fx_rates"

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    quote_currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Money())


class PlayerDay(Base):
    """One player's activity on one UTC day, per event currency and game (type, vendor).

    Each money measure ``m`` is kept as ``m`` (the total in the event currency),
    ``m_rated`` (the reporting-currency value of the part whose events carried their own
    exchange rate) and ``m_unrated`` (the event-currency part that did not). Reports value
    ``m_unrated`` with the fx_rates table when read, so rates loaded later revalue past
    days without a replay, and every part is a plain sum: the fold is commutative."""

    __tablename__ = "player_days"
    __table_args__ = (
        Index("ix_player_days_operator_day", "operator_id", "day"),
        Index("ix_player_days_operator_player", "operator_id", "player_ref", "day"),
    )

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    # '' when the event has none, so the key holds no NULLs.
    game_type: Mapped[str] = mapped_column(String(255), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(255), primary_key=True)
    bets: Mapped[int] = mapped_column(Integer)
    deposits: Mapped[int] = mapped_column(Integer)
    withdrawals: Mapped[int] = mapped_column(Integer)
    turnover: Mapped[Decimal] = mapped_column(Money())
    turnover_rated: Mapped[Decimal] = mapped_column(Money())
    turnover_unrated: Mapped[Decimal] = mapped_column(Money())
    ggr: Mapped[Decimal] = mapped_column(Money())
    ggr_rated: Mapped[Decimal] = mapped_column(Money())
    ggr_unrated: Mapped[Decimal] = mapped_column(Money())
    deposits_amount: Mapped[Decimal] = mapped_column(Money())
    deposits_amount_rated: Mapped[Decimal] = mapped_column(Money())
    deposits_amount_unrated: Mapped[Decimal] = mapped_column(Money())
    withdrawals_amount: Mapped[Decimal] = mapped_column(Money())
    withdrawals_amount_rated: Mapped[Decimal] = mapped_column(Money())
    withdrawals_amount_unrated: Mapped[Decimal] = mapped_column(Money())
