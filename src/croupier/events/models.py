"""The event log: every accepted event, once, in commit order (``seq``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime

SeqType = BigInteger().with_variant(Integer(), "sqlite")
BET_PREDICATE = "kind = 'bet' AND format = 'datapulse'"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("uq_events_idempotency", "operator_id", "format", "idempotency_key", unique=True),
        Index("ix_events_player", "operator_id", "player_ref", "occurred_at"),
        # Only DataPulse bets are looked up by transaction (one settlement per bet), so only
        # they pay for this index. Queries must repeat the predicate as literals to use it.
        Index(
            "ix_events_bet_transaction",
            "operator_id",
            "transaction_id",
            postgresql_where=text(BET_PREDICATE),
            sqlite_where=text(BET_PREDICATE),
        ),
        # The projector's read order on PostgreSQL; empty on SQLite, where tx_id is 0.
        Index(
            "ix_events_tx_seq",
            "tx_id",
            "seq",
            postgresql_where=text("tx_id > 0"),
            sqlite_where=text("tx_id > 0"),
        ),
        Index(
            "ix_events_parent_transaction",
            "operator_id",
            "parent_transaction_id",
            postgresql_where=text("parent_transaction_id IS NOT NULL"),
            sqlite_where=text("parent_transaction_id IS NOT NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    # PostgreSQL stamps each row with its writing transaction (the migration sets the
    # default to pg_current_xact_id()), so the projector reads only what every older
    # transaction has finished writing (DESIGN.md, "Commit order vs seq"). SQLite has one
    # writer at a time: commit order is seq order, and tx_id stays 0.
    tx_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    idempotency_key: Mapped[str] = mapped_column(String(600))
    content_hash: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(10))
    is_crypto: Mapped[bool] = mapped_column(Boolean)
    exchange_rate: Mapped[Decimal | None] = mapped_column(Money())
    stake: Mapped[Decimal | None] = mapped_column(Money())
    ggr_delta: Mapped[Decimal | None] = mapped_column(Money())
    round_id: Mapped[str | None] = mapped_column(String(255))
    transaction_id: Mapped[str | None] = mapped_column(String(255))
    parent_transaction_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    click_id: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    game_type: Mapped[str | None] = mapped_column(String(255))
    game_id: Mapped[str | None] = mapped_column(String(255))
    game_name: Mapped[str | None] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(255))
    bonus_ref: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    is_test: Mapped[bool] = mapped_column(Boolean)
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    raw: Mapped[str] = mapped_column(Text)


class RejectedEvent(Base):
    """An event (or a whole body) that was not accepted, kept for the inspector, bounded."""

    __tablename__ = "rejected_events"
    __table_args__ = (Index("ix_rejected_operator_time", "operator_id", "received_at"),)

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    format: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(100))
    position: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    payload: Mapped[str] = mapped_column(Text)
