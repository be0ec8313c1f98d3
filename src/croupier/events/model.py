"""The canonical event: one shape for every wire format (see DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    REGISTRATION = "registration"
    LOGIN = "login"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BET = "bet"
    SETTLEMENT = "settlement"
    NGR_UPDATE = "ngr_update"
    BONUS = "bonus"
    BONUS_COST = "bonus_cost"
    CHARGEBACK = "chargeback"
    FEE = "fee"
    ACCOUNT_FLAG = "account_flag"
    PLAYER_UPDATE = "player_update"
    CUSTOM = "custom"


class Format(StrEnum):
    DATAPULSE = "datapulse"
    REVVVS = "revvvs"
    FASTTRACK = "fasttrack"


@dataclass
class EventDraft:
    """What a format makes of one wire event, before tenancy and ids are attached.

    No ``slots``: ingest copies ``__dict__`` (one C call) to start the stored row."""

    format: Format
    kind: Kind
    player_ref: str
    occurred_at: datetime
    idempotency_key: str
    raw: dict[str, Any]
    brand_ref: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    is_crypto: bool = False
    exchange_rate: Decimal | None = None
    stake: Decimal | None = None
    ggr_delta: Decimal | None = None
    round_id: str | None = None
    transaction_id: str | None = None
    parent_transaction_id: str | None = None
    status: str = "approved"
    click_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    country: str | None = None
    game_type: str | None = None
    game_id: str | None = None
    game_name: str | None = None
    vendor: str | None = None
    bonus_ref: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # The payload field that carries (or makes) the idempotency key, named in conflict errors.
    key_field: str = "idempotency_key"


def extras(raw: dict[str, Any], mapped: frozenset[str]) -> dict[str, Any]:
    """The fields of a payload that no column holds: they go to ``attributes``."""
    return {key: value for key, value in raw.items() if key not in mapped}
