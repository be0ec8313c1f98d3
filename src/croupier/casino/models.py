"""Tables of the casino projection: game rounds (with their activities), game sessions.

Every table is keyed by natural keys, so an incremental build and a replay write the same
rows whatever the arrival order.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import JSON, Boolean, Index, Integer, PrimaryKeyConstraint, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime


class Activity(msgspec.Struct, array_like=True, frozen=True):
    """One bet or settlement event of a round, as the round needs it, kept in the round's
    ``activities`` column. A rollback is its own activity (status 'rollback') next to the
    one it names (same ``activity_ref``), so the round can reverse exactly the named
    event's amounts and never reverse twice. Stored as a JSON array of the fields in this
    order (amounts as exact decimal strings, times in UTC): a field added later goes last,
    with a default, so stored rounds still read."""

    # The event's transaction_id (Fast Track activity_id), else its event_id.
    activity_ref: str
    status: str
    seq: int
    event_id: str
    occurred_at: datetime
    kind: str
    format: str
    # Fast Track's Bet / Win / Loss; DataPulse's bet_result for a pattern A bet.
    activity_type: str | None
    currency: str | None
    stake: Decimal | None
    ggr_delta: Decimal | None
    # Fast Track's wager parts as sent (a Bet's stake parts, a Win's payout parts).
    real_amount: Decimal | None
    bonus_amount: Decimal | None
    locked_amount: Decimal | None
    closes_round: bool
    game_type: str | None
    game_id: str | None
    game_name: str | None
    vendor: str | None


class GameRound(Base):
    """A round, recomputed from its activities whenever one of them arrives. The activities
    live in the round's own row: one write per round a batch touches, where a table of
    activities cost a second, wider write per event (~10 µs an event on SQLite)."""

    __tablename__ = "casino_rounds"
    __table_args__ = (
        # Round ids are the operator's: the key leads with them, so `GET /rounds/{id}`
        # finds a round by the key's prefix, without an index of its own to write.
        PrimaryKeyConstraint("operator_id", "round_ref", "brand_id", "player_ref"),
        Index("ix_casino_rounds_player", "operator_id", "player_ref", "started_at"),
    )

    operator_id: Mapped[str] = mapped_column(String(36))
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    round_ref: Mapped[str] = mapped_column(String(255))
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
    # JSON array of Activity arrays, in time order (casino.rounds encodes and decodes it).
    activities: Mapped[str] = mapped_column(Text, server_default="[]")


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
ROUNDS: Table = GameRound.__table__  # type: ignore[assignment]
SESSIONS: Table = GameSession.__table__  # type: ignore[assignment]
