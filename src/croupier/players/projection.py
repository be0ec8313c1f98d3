"""The players projection: registration, first deposit, money per currency, account flag.

Every field is a commutative fold over the player's events — a sum, or the earliest /
latest event by (occurred_at, seq) — so any arrival order gives the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from croupier.events.model import Kind
from croupier.kit import rows
from croupier.players.models import Player, PlayerFlag, PlayerMoney
from croupier.projections.engine import Context, EventRow

ZERO = Decimal(0)
PLAYERS: Table = Player.__table__  # type: ignore[assignment]
MONEY: Table = PlayerMoney.__table__  # type: ignore[assignment]
FLAGS: Table = PlayerFlag.__table__  # type: ignore[assignment]
_PLAYER_COLUMNS = tuple(column.name for column in PLAYERS.columns)
# Fast Track's user block event says only that the account is blocked.
_BLOCK_FLAG = "blocked"
_MONEY_KINDS = {
    Kind.DEPOSIT.value: "deposits",
    Kind.WITHDRAWAL.value: "withdrawals",
    Kind.CHARGEBACK.value: "chargebacks",
}


class Handler:
    tables: tuple[Table, ...] = (PLAYERS, MONEY, FLAGS)

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        keys = {(e.operator_id, e.brand_id, e.player_ref) for e in events}
        players = rows.load(session, PLAYERS, keys)
        money_keys = {
            (e.operator_id, e.brand_id, e.player_ref, e.currency)
            for e in events
            if e.kind in _MONEY_KINDS and e.currency is not None
        }
        money = rows.load(session, MONEY, money_keys)
        flags: list[dict[str, Any]] = []
        for event in events:
            key = (event.operator_id, event.brand_id, event.player_ref)
            player = players.get(key)
            if player is None:
                player = players[key] = _new_player(event)
            _fold(player, event)
            if event.kind in _MONEY_KINDS and event.currency is not None:
                _count_money(money, event)
            if event.kind == Kind.ACCOUNT_FLAG:
                flags.append(_flag_row(event))
        rows.upsert(session, PLAYERS, [players[key] for key in sorted(keys)])
        rows.upsert(session, MONEY, [money[key] for key in sorted(money)])
        rows.upsert(session, FLAGS, flags)


def _new_player(event: EventRow) -> dict[str, Any]:
    player: dict[str, Any] = dict.fromkeys(_PLAYER_COLUMNS)
    player.update(
        operator_id=event.operator_id,
        brand_id=event.brand_id,
        player_ref=event.player_ref,
        events=0,
        first_seen_at=event.occurred_at,
        last_activity_at=event.occurred_at,
        account_flag="active",
    )
    return player


def _earlier(at: datetime, seq: int, than_at: datetime | None, than_seq: int | None) -> bool:
    return than_at is None or (at, seq) < (than_at, than_seq or 0)


def _fold(player: dict[str, Any], event: EventRow) -> None:
    player["events"] += 1
    player["first_seen_at"] = min(player["first_seen_at"], event.occurred_at)
    player["last_activity_at"] = max(player["last_activity_at"], event.occurred_at)
    at, seq = event.occurred_at, event.seq
    kind = event.kind
    if kind == Kind.REGISTRATION:
        if _earlier(at, seq, player["registered_at"], player["registration_seq"]):
            player.update(
                registered_at=at,
                registration_seq=seq,
                registration_event_id=event.event_id,
                country=event.country,
                device=_device(event),
                click_id=event.click_id,
                ip_address=event.ip_address,
                user_agent=event.user_agent,
            )
    elif kind == Kind.DEPOSIT and event.status == "approved":
        if _earlier(at, seq, player["first_deposit_at"], player["first_deposit_seq"]):
            player.update(
                first_deposit_at=at,
                first_deposit_seq=seq,
                first_deposit_event_id=event.event_id,
                first_deposit_amount=event.amount,
                first_deposit_currency=event.currency,
            )
        claimed = event.attributes.get("event_type") == "first_deposit"
        claim_at = player["claimed_first_deposit_at"]
        if claimed and _earlier(at, seq, claim_at, player["claimed_first_deposit_seq"]):
            player.update(
                claimed_first_deposit_at=at,
                claimed_first_deposit_seq=seq,
                claimed_first_deposit_event_id=event.event_id,
            )
    elif kind == Kind.ACCOUNT_FLAG:
        latest_at, latest_seq = player["account_flag_at"], player["account_flag_seq"]
        if latest_at is None or (at, seq) > (latest_at, latest_seq or 0):
            player.update(account_flag=_flag(event), account_flag_at=at, account_flag_seq=seq)


def _count_money(money: dict[tuple[Any, ...], dict[str, Any]], event: EventRow) -> None:
    if event.status != "approved" and event.kind != Kind.CHARGEBACK:
        return  # requested, rejected or cancelled payments move no money
    key = (event.operator_id, event.brand_id, event.player_ref, event.currency)
    row = money.get(key)
    if row is None:
        row = money[key] = {
            "operator_id": event.operator_id,
            "brand_id": event.brand_id,
            "player_ref": event.player_ref,
            "currency": event.currency,
            **dict.fromkeys(_MONEY_KINDS.values(), 0),
            **{f"{name}_amount": ZERO for name in _MONEY_KINDS.values()},
        }
    measure = _MONEY_KINDS[event.kind]
    row[measure] += 1
    row[f"{measure}_amount"] += event.amount or ZERO


def _flag(event: EventRow) -> str:
    metadata = event.attributes.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("flag"), str):
        return str(metadata["flag"])
    return _BLOCK_FLAG


def _flag_row(event: EventRow) -> dict[str, Any]:
    metadata = event.attributes.get("metadata")
    previous = metadata.get("previous_flag") if isinstance(metadata, dict) else None
    return {
        "operator_id": event.operator_id,
        "seq": event.seq,
        "brand_id": event.brand_id,
        "player_ref": event.player_ref,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "flag": _flag(event),
        "previous_flag": previous if isinstance(previous, str) else None,
    }


def _device(event: EventRow) -> str | None:
    """The device the sender names (a ``device`` field, top level or in Revvvs metadata),
    else a coarse class read from the user agent."""
    metadata = event.attributes.get("metadata")
    for source in (event.attributes, metadata if isinstance(metadata, dict) else {}):
        named = source.get("device")
        if isinstance(named, str) and named:
            return named[:32]
    agent = (event.user_agent or "").lower()
    if not agent:
        return None
    if "ipad" in agent or "tablet" in agent:
        return "tablet"
    if "mobi" in agent or "android" in agent or "iphone" in agent:
        return "mobile"
    return "desktop"
