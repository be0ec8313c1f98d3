"""Tables of the casino projection: round activities, game rounds, game sessions.

Every table is keyed by natural keys, so an incremental build and a replay write the same
rows whatever the arrival order.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime


class RoundActivity(Base):
    """One bet or settlement event of a round, as the round needs it. A rollback is its own
    row (status 'rollback') next to the activity it names (same ``activity_ref``), so the
    round can reverse exactly the named event's amounts and never reverse twice."""

    __tablename__ = "casino_round_activities"

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    round_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The event's transaction_id (Fast Track activity_id), else its event_id.
    activity_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    # Fast Track's Bet / Win / Loss; DataPulse's bet_result for a pattern A bet.
    activity_type: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(10))
    stake: Mapped[Decimal | None] = mapped_column(Money())
    ggr_delta: Mapped[Decimal | None] = mapped_column(Money())
    # Fast Track's wager parts as sent (a Bet's stake parts, a Win's payout parts).
    real_amount: Mapped[Decimal | None] = mapped_column(Money())
    bonus_amount: Mapped[Decimal | None] = mapped_column(Money())
    locked_amount: Mapped[Decimal | None] = mapped_column(Money())
    closes_round: Mapped[bool] = mapped_column(Boolean)
    game_type: Mapped[str | None] = mapped_column(String(255))
    game_id: Mapped[str | None] = mapped_column(String(255))
    game_name: Mapped[str | None] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(255))


class GameRound(Base):
    """A round, recomputed from its activities whenever one of them arrives."""

    __tablename__ = "casino_rounds"
    __table_args__ = (
        Index("ix_casino_rounds_player", "operator_id", "player_ref", "started_at"),
        Index("ix_casino_rounds_ref", "operator_id", "round_ref"),
    )

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    round_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    format: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str | None] = mapped_column(String(10))
    game_type: Mapped[str | None] = mapped_column(String(255))
    game_id: Mapped[str | None] = mapped_column(String(255))
    game_name: Mapped[str | None] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    stake: Mapped[Decimal] = mapped_column(Money())
    payout: Mapped[Decimal] = mapped_column(Money())
    ggr: Mapped[Decimal] = mapped_column(Money())
    # Null when no activity of the round carried wager parts (every format but Fast Track).
    real_stake: Mapped[Decimal | None] = mapped_column(Money())
    bonus_stake: Mapped[Decimal | None] = mapped_column(Money())
    locked_stake: Mapped[Decimal | None] = mapped_column(Money())
    real_payout: Mapped[Decimal | None] = mapped_column(Money())
    bonus_payout: Mapped[Decimal | None] = mapped_column(Money())
    locked_payout: Mapped[Decimal | None] = mapped_column(Money())
    bets: Mapped[int] = mapped_column(Integer)
    settlements: Mapped[int] = mapped_column(Integer)
    rollbacks: Mapped[int] = mapped_column(Integer)
    is_closed: Mapped[bool] = mapped_column(Boolean)
    is_rolled_back: Mapped[bool] = mapped_column(Boolean)


class GameSession(Base):
    """A player's casino activity on one brand, split by the operator's inactivity gap.
    Money may mix currencies, so turnover and GGR are maps currency → exact decimal string."""

    __tablename__ = "casino_sessions"
    __table_args__ = (
        Index("ix_casino_sessions_player", "operator_id", "player_ref", "started_at"),
    )

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_seconds: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    # Distinct round_ids, plus each bet that has no round (Revvvs wager_placed).
    rounds: Mapped[int] = mapped_column(Integer)
    games: Mapped[int] = mapped_column(Integer)
    turnover: Mapped[dict[str, Any]] = mapped_column(JSON)
    ggr: Mapped[dict[str, Any]] = mapped_column(JSON)


# The tables as Core tables, for bulk statements (the ORM types them as FromClause).
ROUND_ACTIVITIES: Table = RoundActivity.__table__  # type: ignore[assignment]
ROUNDS: Table = GameRound.__table__  # type: ignore[assignment]
SESSIONS: Table = GameSession.__table__  # type: ignore[assignment]
