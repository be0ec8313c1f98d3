"""Reads of the casino projection for the API: rounds, their activities, sessions."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from croupier.casino import rounds
from croupier.casino.models import ROUNDS, SESSIONS
from croupier.kit.money import decimal_text
from croupier.kit.timeparse import parse_iso

# A page position: the last row's (started_at, brand_id[, round_ref]), newest first.
Position = tuple[Any, ...]


# A page of rounds shows no activities: their column stays unread.
_ROUND_SUMMARY = tuple(column for column in ROUNDS.columns if column.name != "activities")


def player_rounds(
    session: Session,
    *,
    operator_id: str,
    player_ref: str,
    brand_id: str | None,
    after: Position | None,
    limit: int,
) -> list[dict[str, Any]]:
    order = (ROUNDS.c.started_at, ROUNDS.c.brand_id, ROUNDS.c.round_ref)
    query = select(*_ROUND_SUMMARY).where(
        ROUNDS.c.operator_id == operator_id, ROUNDS.c.player_ref == player_ref
    )
    if brand_id is not None:
        query = query.where(ROUNDS.c.brand_id == brand_id)
    if after is not None:
        query = query.where(tuple_(*order) < after)
    query = query.order_by(*(column.desc() for column in order)).limit(limit)
    return [dict(row) for row in session.execute(query).mappings()]


def player_sessions(
    session: Session,
    *,
    operator_id: str,
    player_ref: str,
    brand_id: str | None,
    after: Position | None,
    limit: int,
) -> list[dict[str, Any]]:
    order = (SESSIONS.c.started_at, SESSIONS.c.brand_id)
    query = select(SESSIONS).where(
        SESSIONS.c.operator_id == operator_id, SESSIONS.c.player_ref == player_ref
    )
    if brand_id is not None:
        query = query.where(SESSIONS.c.brand_id == brand_id)
    if after is not None:
        query = query.where(tuple_(*order) < after)
    query = query.order_by(*(column.desc() for column in order)).limit(limit)
    return [dict(row) for row in session.execute(query).mappings()]


def find_rounds(
    session: Session,
    *,
    operator_id: str,
    round_ref: str,
    brand_id: str | None,
    player_ref: str | None,
) -> list[dict[str, Any]]:
    """Every round of this operator with this round_id: round ids are the operator's, so
    two brands or players may share one (the caller narrows by brand or player)."""
    query = select(ROUNDS).where(
        ROUNDS.c.operator_id == operator_id, ROUNDS.c.round_ref == round_ref
    )
    if brand_id is not None:
        query = query.where(ROUNDS.c.brand_id == brand_id)
    if player_ref is not None:
        query = query.where(ROUNDS.c.player_ref == player_ref)
    query = query.order_by(ROUNDS.c.brand_id, ROUNDS.c.player_ref).limit(20)
    return [dict(row) for row in session.execute(query).mappings()]


def round_activities(game_round: dict[str, Any]) -> list[dict[str, Any]]:
    """The round's activities in time order (stored with it: casino.rounds)."""
    return [msgspec.structs.asdict(row) for row in rounds.decode(game_round["activities"])]


# -- JSON shapes: exact amounts as strings, times in UTC ISO 8601 ----------------------------


def round_json(row: dict[str, Any]) -> dict[str, Any]:
    return _plain(
        {
            "round_id": row["round_ref"],
            "brand_id": row["brand_id"],
            "player_ref": row["player_ref"],
            "format": row["format"],
            "status": "closed" if row["is_closed"] else "open",
            "is_rolled_back": row["is_rolled_back"],
            "currency": row["currency"],
            "game_type": row["game_type"],
            "game_id": row["game_id"],
            "game_name": row["game_name"],
            "vendor": row["vendor"],
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "stake": row["stake"],
            "payout": row["payout"],
            "ggr": row["ggr"],
            "real_stake": row["real_stake"],
            "bonus_stake": row["bonus_stake"],
            "locked_stake": row["locked_stake"],
            "real_payout": row["real_payout"],
            "bonus_payout": row["bonus_payout"],
            "locked_payout": row["locked_payout"],
            "bets": row["bets"],
            "settlements": row["settlements"],
            "rollbacks": row["rollbacks"],
        }
    )


def activity_json(row: dict[str, Any]) -> dict[str, Any]:
    return _plain(
        {
            "event_id": row["event_id"],
            "activity_id": row["activity_ref"],
            "seq": row["seq"],
            "kind": row["kind"],
            "type": row["activity_type"],
            "status": row["status"],
            "occurred_at": row["occurred_at"],
            "currency": row["currency"],
            "stake": row["stake"],
            "ggr_delta": row["ggr_delta"],
            "closes_round": row["closes_round"],
        }
    )


def session_json(row: dict[str, Any]) -> dict[str, Any]:
    return _plain(
        {
            "brand_id": row["brand_id"],
            "player_ref": row["player_ref"],
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "duration_seconds": row["duration_seconds"],
            "events": row["events"],
            "rounds": row["rounds"],
            "games": row["games"],
            "turnover": row["turnover"],
            "ggr": row["ggr"],
        }
    )


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Decimal):
            out[name] = decimal_text(value)
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        else:
            out[name] = value
    return out


# -- cursors: opaque to clients, the last row's sort key inside -------------------------------


def make_cursor(position: Position) -> str:
    at, *rest = position
    text = json.dumps([at.isoformat(), *rest], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(cursor: str, *, size: int) -> Position | None:
    """The position a cursor holds, or None when it is not one this API gave."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        values = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(values, list) or len(values) != size:
        return None
    if not all(isinstance(value, str) for value in values):
        return None
    at = parse_iso(values[0])
    return None if at is None else (at, *values[1:])
