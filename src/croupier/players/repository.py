"""Reads of the players projection and of a player's timeline in the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.players.models import Player, PlayerFlag, PlayerMoney

_HIDDEN = frozenset({"registration_seq", "first_deposit_seq", "claimed_first_deposit_seq"})
_HIDDEN |= {"account_flag_seq"}


def find_players(
    session: Session, *, operator_id: str, player_ref: str, brand_id: str | None
) -> list[Player]:
    query = select(Player).where(Player.operator_id == operator_id, Player.player_ref == player_ref)
    if brand_id is not None:
        query = query.where(Player.brand_id == brand_id)
    return list(session.scalars(query.order_by(Player.brand_id)))


def profile(session: Session, player: Player) -> dict[str, Any]:
    """The player's row, its money per currency and its account flag history."""
    body = {
        column.name: getattr(player, column.name)
        for column in Player.__table__.columns
        if column.name not in _HIDDEN and column.name != "operator_id"
    }
    body["registration_missing"] = player.registered_at is None
    # A claimed first deposit (Revvvs) that is not the earliest approved one in the stream.
    claimed = player.claimed_first_deposit_event_id
    body["first_deposit_mismatch"] = (
        claimed is not None and claimed != player.first_deposit_event_id
    )
    money = session.scalars(
        select(PlayerMoney)
        .where(
            PlayerMoney.operator_id == player.operator_id,
            PlayerMoney.brand_id == player.brand_id,
            PlayerMoney.player_ref == player.player_ref,
        )
        .order_by(PlayerMoney.currency)
    )
    body["totals"] = [
        {
            "currency": row.currency,
            "deposits": row.deposits,
            "deposits_amount": row.deposits_amount,
            "withdrawals": row.withdrawals,
            "withdrawals_amount": row.withdrawals_amount,
            "chargebacks": row.chargebacks,
            "chargebacks_amount": row.chargebacks_amount,
        }
        for row in money
    ]
    flags = session.scalars(
        select(PlayerFlag)
        .where(
            PlayerFlag.operator_id == player.operator_id,
            PlayerFlag.player_ref == player.player_ref,
            PlayerFlag.brand_id == player.brand_id,
        )
        .order_by(PlayerFlag.occurred_at, PlayerFlag.seq)
    )
    body["account_flag_history"] = [
        {
            "flag": flag.flag,
            "previous_flag": flag.previous_flag,
            "occurred_at": flag.occurred_at,
            "event_id": flag.event_id,
        }
        for flag in flags
    ]
    return body


def timeline(
    session: Session,
    *,
    operator_id: str,
    player_ref: str,
    brand_id: str | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[Event]:
    """The player's events, newest first by occurred_at (then seq); test events left out."""
    query = select(Event).where(
        Event.operator_id == operator_id,
        Event.player_ref == player_ref,
        Event.is_test.is_(False),
    )
    if brand_id is not None:
        query = query.where(Event.brand_id == brand_id)
    if before is not None:
        at, seq = before
        query = query.where(
            or_(Event.occurred_at < at, and_(Event.occurred_at == at, Event.seq < seq))
        )
    query = query.order_by(Event.occurred_at.desc(), Event.seq.desc()).limit(limit)
    return list(session.scalars(query))
