"""Fast Track CRM real-time events (specs/003, 004 and the JSON Schemas).

Each endpoint validates against Fast Track's published schema for that event, then
applies the 004 business rules: ``Loss`` is a valid casino type, and ``amount`` equals
the sum of the wager parts when they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from croupier.dialects.common import Parsed, reader
from croupier.dialects.fields import Fields
from croupier.dialects.schema import Schema
from croupier.events.model import EventDraft, Format, Kind, extras
from croupier.kit.money import is_currency

ZERO = Decimal(0)


class FtType(StrEnum):
    """The event types, as the RabbitMQ ``type`` property / Kafka ``type`` header names them."""

    CASINO = "CASINO"
    BONUS = "BONUS"
    PAYMENT = "PAYMENT"
    USER_CREATE_V2 = "USER_CREATE_V2"
    USER_UPDATE_V2 = "USER_UPDATE_V2"
    USER_BLOCK_V2 = "USER_BLOCK_V2"
    LOGIN_V2 = "LOGIN_V2"


SCHEMAS = {
    FtType.CASINO: Schema.load("casino", extra_enum={"type": ("Loss",)}),
    FtType.BONUS: Schema.load("bonus"),
    FtType.PAYMENT: Schema.load("payment"),
    FtType.USER_CREATE_V2: Schema.load("user_create_v2"),
    FtType.USER_UPDATE_V2: Schema.load("user_update_v2"),
    FtType.USER_BLOCK_V2: Schema.load("user_block_v2"),
    FtType.LOGIN_V2: Schema.load("login_v2"),
}
_WAGER_PARTS = ("wager_amount", "bonus_wager_amount", "locked_wager_amount")
_CASINO_MAPPED = frozenset({
    "activity_id", "amount", "currency", "exchange_rate", "game_id", "game_name", "game_type",
    "round_id", "status", "timestamp", "type", "user_id", "vendor_name", "user_bonus_id",
})  # fmt: skip
_COMMON_MAPPED = frozenset(
    {"user_id", "timestamp", "amount", "currency", "exchange_rate", "status"}
)


def parse(event_type: FtType, value: Any, *, future_limit: datetime) -> Parsed:
    fields = reader(value, future_limit=future_limit)
    if isinstance(fields, list):
        return fields
    checked = SCHEMAS[event_type].check(fields)
    if "currency" in checked:
        _check_currency(fields, checked)
    if event_type is FtType.CASINO:
        _check_wager_parts(fields, checked)
        # 004 lists user_bonus_id on casino events; the schema does not, so check it here.
        checked["user_bonus_id"] = fields.string("user_bonus_id", allow_number=True)
    if fields.errors:
        return fields.errors
    return _BUILDERS[event_type](value, checked)


def _check_currency(fields: Fields, checked: dict[str, Any]) -> None:
    # Fast Track documents ISO 4217; a crypto casino says so with ``is_crypto`` (top level or meta).
    meta = checked.get("meta") or {}
    crypto = fields.data.get("is_crypto") is True or meta.get("is_crypto") is True
    if not is_currency(checked["currency"], is_crypto=crypto):
        fields.error(
            "currency", "invalid_currency", f"{checked['currency']!r} is not an ISO 4217 code"
        )


def _check_wager_parts(fields: Fields, checked: dict[str, Any]) -> None:
    parts = [checked[key] for key in _WAGER_PARTS if key in checked]
    if parts and "amount" in checked and sum(parts, ZERO) != checked["amount"]:
        fields.error(
            "amount",
            "amount_mismatch",
            "must equal wager_amount + bonus_wager_amount + locked_wager_amount",
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _draft(value: dict[str, Any], checked: dict[str, Any], **columns: Any) -> EventDraft:
    return EventDraft(
        format=Format.FASTTRACK,
        player_ref=checked["user_id"],
        occurred_at=checked["timestamp"],
        raw=value,
        amount=checked.get("amount"),
        currency=checked.get("currency"),
        exchange_rate=checked.get("exchange_rate"),
        **columns,
    )


def _casino(value: dict[str, Any], checked: dict[str, Any]) -> EventDraft:
    ft_type, status = checked["type"], checked["status"]
    amount: Decimal = checked["amount"]
    # GGR: a Bet takes the stake in, a Win pays out gross; a Loss only closes the round.
    ggr = amount if ft_type == "Bet" else -amount if ft_type == "Win" else ZERO
    stake = amount if ft_type == "Bet" else None
    rollback = status == "Rollback"
    if rollback:  # reverses the event it repeats
        ggr = -ggr
        stake = -stake if stake is not None else None
    activity = str(checked["activity_id"])
    return _draft(
        value,
        checked,
        kind=Kind.BET if ft_type == "Bet" else Kind.SETTLEMENT,
        idempotency_key=f"casino:{activity}:rollback" if rollback else f"casino:{activity}",
        status=status.lower(),
        stake=stake,
        ggr_delta=ggr,
        round_id=checked.get("round_id"),
        transaction_id=activity,
        game_type=checked.get("game_type"),
        game_id=_text(checked.get("game_id")),
        game_name=checked.get("game_name"),
        vendor=checked.get("vendor_name") or _text(checked.get("vendor_id")),
        bonus_ref=checked["user_bonus_id"],
        attributes={"type": ft_type, **extras(value, _CASINO_MAPPED)},
        key_field="activity_id",
    )


def _bonus(value: dict[str, Any], checked: dict[str, Any]) -> EventDraft:
    status = checked["status"]
    key = f"bonus:{checked['user_bonus_id']}:{status}"
    # Ongoing repeats as wagering progresses. A second Created is a sequence violation
    # (004) that the bonus projection must see and flag, so it is stored, not refused.
    if status in ("Ongoing", "Created"):
        key += f":{value['timestamp']}"
    return _draft(
        value,
        checked,
        kind=Kind.BONUS,
        idempotency_key=key,
        status=status.lower(),
        bonus_ref=checked["user_bonus_id"],
        attributes=extras(value, _COMMON_MAPPED | {"user_bonus_id"}),
        key_field="user_bonus_id",
    )


_PAYMENT_KINDS = {"Credit": Kind.DEPOSIT, "Debit": Kind.WITHDRAWAL}


def _payment(value: dict[str, Any], checked: dict[str, Any]) -> EventDraft:
    payment_type, status = checked["type"], checked["status"]
    kind = _PAYMENT_KINDS.get(payment_type, Kind.CUSTOM)
    if kind is Kind.DEPOSIT and status == "Rollback":
        kind = Kind.CHARGEBACK
    payment_id = str(checked["payment_id"])
    attributes = extras(value, _COMMON_MAPPED | {"payment_id"})
    attributes["type"] = payment_type
    return _draft(
        value,
        checked,
        kind=kind,
        idempotency_key=f"payment:{payment_id}:{status}",
        status=status.lower(),
        transaction_id=payment_id,
        vendor=checked.get("vendor_name") or _text(checked.get("vendor_id")),
        attributes=attributes,
        key_field="payment_id",
    )


def _user(
    kind: Kind, name: str, *, repeated: bool
) -> Callable[[dict[str, Any], dict[str, Any]], EventDraft]:
    def build(value: dict[str, Any], checked: dict[str, Any]) -> EventDraft:
        key = f"{name}:{checked['user_id']}"
        if repeated:
            key += f":{value['timestamp']}"
        return _draft(
            value,
            checked,
            kind=kind,
            idempotency_key=key,
            ip_address=checked.get("ip_address"),
            user_agent=checked.get("user_agent"),
            attributes=extras(value, _COMMON_MAPPED | {"ip_address", "user_agent"}),
            key_field="user_id",
        )

    return build


_BUILDERS: dict[FtType, Callable[[dict[str, Any], dict[str, Any]], EventDraft]] = {
    FtType.CASINO: _casino,
    FtType.BONUS: _bonus,
    FtType.PAYMENT: _payment,
    FtType.USER_CREATE_V2: _user(Kind.REGISTRATION, "user_create", repeated=False),
    FtType.USER_UPDATE_V2: _user(Kind.PLAYER_UPDATE, "user_update", repeated=True),
    FtType.USER_BLOCK_V2: _user(Kind.ACCOUNT_FLAG, "user_block", repeated=True),
    FtType.LOGIN_V2: _user(Kind.LOGIN, "login", repeated=True),
}
