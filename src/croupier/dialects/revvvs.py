"""Revvvs S2S events (specs/001, 002): ``POST /api/v1/events``."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from croupier.dialects.common import Parsed, reader
from croupier.events.model import EventDraft, Format, Kind, extras

KINDS = {
    "registration": Kind.REGISTRATION,
    "first_deposit": Kind.DEPOSIT,
    "deposit": Kind.DEPOSIT,
    "withdrawal": Kind.WITHDRAWAL,
    "ngr_update": Kind.NGR_UPDATE,
    "wager_placed": Kind.BET,
    "wager_settled": Kind.SETTLEMENT,
    "bonus_awarded": Kind.BONUS,
    "bonus_cost": Kind.BONUS_COST,
    "chargeback": Kind.CHARGEBACK,
    "fee_applied": Kind.FEE,
    "account_flag_changed": Kind.ACCOUNT_FLAG,
}
# Amounts that may be negative: a running NGR total and a player's net result.
SIGNED = frozenset({"ngr_update", "wager_settled"})
WITHOUT_MONEY = frozenset({"registration", "account_flag_changed"})
FLAGS = ("self_excluded", "duplicate", "blocked", "closed", "active")
MAX_KEY = 500
ZERO = Decimal(0)
_COUNTRY = re.compile(r"[A-Za-z]{2}")

MAPPED = frozenset({
    "event_type", "event_time", "brand_id", "player_external_ref", "idempotency_key",
    "click_id", "currency", "amount", "country", "is_crypto", "exchange_rate",
})  # fmt: skip


def parse(value: Any, *, future_limit: datetime) -> Parsed:
    fields = reader(value, future_limit=future_limit)
    if isinstance(fields, list):
        return fields
    event_type = fields.string("event_type", required=True, max_length=64)
    if event_type is not None and event_type not in KINDS:
        fields.error(
            "event_type",
            "unknown_event_type",
            f"{event_type!r} is not a Revvvs event type ({', '.join(KINDS)})",
        )
        event_type = None
    occurred_at = fields.iso_time("event_time", required=True)
    brand_ref = fields.string("brand_id", required=True, max_length=64)
    player_ref = fields.string("player_external_ref", required=True)
    key = fields.string("idempotency_key", required=True, max_length=MAX_KEY)
    fields.string("source_system")
    fields.string("event_version", max_length=32)
    click_id = fields.string("click_id")
    is_crypto = fields.boolean("is_crypto") or False
    exchange_rate = fields.amount("exchange_rate", minimum=ZERO)

    money = event_type is not None and event_type not in WITHOUT_MONEY
    currency = fields.currency("currency", required=money, is_crypto=is_crypto)
    amount = fields.amount("amount", required=money, minimum=None if event_type in SIGNED else ZERO)
    country = _country(fields.string("country", max_length=2), fields)
    metadata = fields.nested("metadata")
    game_type = metadata.choice("product", ("casino", "sports", "poker", "other"))
    game_id = metadata.string("game_id", allow_number=True)
    game_name = metadata.string("game_name")
    bonus_ref = metadata.string("bonus_id", allow_number=True)
    if event_type == "account_flag_changed":
        metadata.choice("flag", FLAGS, required=True)
        metadata.choice("previous_flag", FLAGS)
    if event_type == "wager_settled":
        metadata.amount("original_wager_amount", minimum=ZERO)
    if event_type == "deposit":
        metadata.amount("deposit_number", minimum=ZERO)

    if fields.errors:
        return fields.errors
    assert event_type is not None
    assert occurred_at is not None
    assert brand_ref is not None
    assert player_ref is not None
    assert key is not None
    kind = KINDS[event_type]
    stake = ggr_delta = None
    if kind is Kind.BET:
        stake = amount
    elif kind is Kind.SETTLEMENT:
        # wager_settled.amount is the player's net result: the operator's GGR is its opposite.
        assert amount is not None
        ggr_delta = -amount
    attributes = extras(value, MAPPED)
    if event_type != kind.value:
        attributes["event_type"] = event_type
    return EventDraft(
        format=Format.REVVVS,
        kind=kind,
        player_ref=player_ref,
        occurred_at=occurred_at,
        idempotency_key=key,
        raw=value,
        brand_ref=brand_ref,
        amount=amount,
        currency=currency,
        is_crypto=is_crypto,
        exchange_rate=exchange_rate,
        stake=stake,
        ggr_delta=ggr_delta,
        click_id=click_id,
        country=country,
        game_type=game_type,
        game_id=game_id,
        game_name=game_name,
        bonus_ref=bonus_ref,
        attributes=attributes,
    )


def _country(value: str | None, fields: Any) -> str | None:
    if value is None:
        return None
    # Check before upper-casing: "ß".upper() is "SS".
    code = value.upper()
    if not _COUNTRY.fullmatch(value):
        fields.error("country", "invalid_value", f"{value!r} is not an ISO 3166-1 alpha-2 code")
        return None
    return code
