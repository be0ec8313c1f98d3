"""DataPulse Server Events API (specs/000): ``/v2/s2s/event`` and ``/v2/s2s/batch``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from croupier.dialects.common import Parsed, reader
from croupier.dialects.fields import Fields
from croupier.events.model import EventDraft, Format, Kind, extras

KINDS = {
    "register": Kind.REGISTRATION,
    "login": Kind.LOGIN,
    "deposit": Kind.DEPOSIT,
    "withdraw": Kind.WITHDRAWAL,
    "bet": Kind.BET,
    "win": Kind.SETTLEMENT,
    "loss": Kind.SETTLEMENT,
}
FINANCIAL = frozenset({"deposit", "withdraw", "bet", "win", "loss"})
ZERO = Decimal(0)

MAPPED = frozenset({
    "client_user_id", "click_id", "event_name", "timestamp", "ip_address", "user_agent",
    "game_type", "game_provider", "transaction_id", "amount", "currency", "is_crypto",
    "parent_transaction_id",
})  # fmt: skip


def parse(value: Any, *, future_limit: datetime) -> Parsed:
    fields = reader(value, future_limit=future_limit)
    if isinstance(fields, list):
        return fields
    player_ref = fields.string("client_user_id", required=True)
    event_name = fields.string("event_name", required=True, max_length=100)
    occurred_at = fields.unix_time("timestamp", required=True)
    # The field table marks click_id and ip_address required, but the spec's own bet,
    # win/loss and withdraw examples omit them: they are optional, checked when present.
    click_id = fields.string("click_id")
    ip_address = fields.ip("ip_address")
    user_agent = fields.string("user_agent", max_length=1000)
    game_type = fields.string("game_type")
    vendor = fields.string("game_provider")
    is_crypto = fields.boolean("is_crypto") or False

    name = (event_name or "").strip().lower()
    financial = name in FINANCIAL
    transaction_id = fields.string("transaction_id", required=financial, allow_number=True)
    currency = fields.currency("currency", required=financial, is_crypto=is_crypto)
    amount = _amount(fields, name, financial)
    parent = fields.string(
        "parent_transaction_id", required=name in ("win", "loss"), allow_number=True
    )
    net_result = _embedded_result(fields, name)

    if fields.errors:
        return fields.errors
    assert player_ref is not None
    assert event_name is not None
    assert occurred_at is not None

    kind = KINDS.get(name, Kind.CUSTOM)
    stake = ggr_delta = None
    round_id = None
    if kind is Kind.BET:
        stake, round_id = amount, transaction_id
        # DataPulse results are the player's net: the operator's GGR moves by the opposite.
        ggr_delta = -net_result if net_result is not None else ZERO
    elif kind is Kind.SETTLEMENT:
        assert amount is not None
        ggr_delta, round_id = -amount, parent

    attributes = extras(value, MAPPED)
    if kind is Kind.CUSTOM:
        attributes["event_name"] = event_name
    if financial:
        assert transaction_id is not None
        key = transaction_id
    else:
        key = f"{event_name}:{player_ref}:{value['timestamp']}"
    return EventDraft(
        format=Format.DATAPULSE,
        kind=kind,
        player_ref=player_ref,
        occurred_at=occurred_at,
        idempotency_key=key,
        raw=value,
        amount=amount,
        currency=currency,
        is_crypto=is_crypto,
        stake=stake,
        ggr_delta=ggr_delta,
        round_id=round_id,
        transaction_id=transaction_id,
        parent_transaction_id=parent,
        click_id=click_id,
        ip_address=ip_address,
        user_agent=user_agent,
        game_type=game_type,
        vendor=vendor,
        attributes=attributes,
        key_field="transaction_id" if financial else "timestamp",
    )


def _amount(fields: Fields, name: str, financial: bool) -> Decimal | None:
    # win/loss amounts are the player's net result: positive for a win, negative for a loss.
    if name == "win":
        return fields.amount("amount", required=True, minimum=ZERO)
    if name == "loss":
        return fields.amount("amount", required=True, maximum=ZERO)
    minimum = ZERO if financial else None
    return fields.amount("amount", required=financial, minimum=minimum)


def _embedded_result(fields: Fields, name: str) -> Decimal | None:
    """Pattern A: a bet that carries ``bet_result`` and ``bet_result_amount``, which stay in
    ``attributes``; the store checks them against pattern B settlements of the same bet."""
    has_result = fields.data.get("bet_result") is not None
    has_amount = fields.data.get("bet_result_amount") is not None
    if not (has_result or has_amount):
        return None
    if name != "bet":
        fields.error("bet_result", "invalid_value", "only a bet event may carry bet_result")
        return None
    bet_result = fields.choice("bet_result", ("win", "loss"), required=True)
    if bet_result is None:
        fields.amount("bet_result_amount", required=True)
        return None
    if bet_result == "win":
        net = fields.amount("bet_result_amount", required=True, minimum=ZERO)
    else:
        net = fields.amount("bet_result_amount", required=True, maximum=ZERO)
    return net
