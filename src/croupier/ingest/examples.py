"""Request examples for the OpenAPI document, taken from the specs (placeholders filled in)."""

from __future__ import annotations

from typing import Any

BRAND = "5b1f8a4e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"

DATAPULSE_DEPOSIT = {
    "client_user_id": "user_001",
    "click_id": "clk_998877",
    "ip_address": "203.0.113.1",
    "event_name": "deposit",
    "transaction_id": "tx_554433",
    "timestamp": 1702963200,
    "amount": 50.00,
    "currency": "USD",
}
DATAPULSE_BET_PATTERN_A = {
    "client_user_id": "user_001",
    "event_name": "bet",
    "game_type": "slot",
    "game_provider": "GGP",
    "currency": "USD",
    "amount": 5.00,
    "transaction_id": "tx_bet_1",
    "timestamp": 1702963260000,
    "is_crypto": False,
    "bet_result": "win",
    "bet_result_amount": 1.00,
}
REVVVS_REGISTRATION = {
    "event_type": "registration",
    "event_time": "2026-03-15T10:00:00Z",
    "brand_id": BRAND,
    "player_external_ref": "player_001",
    "idempotency_key": "reg_player_001_20260315",
    "click_id": "abc-123-def",
    "country": "GB",
}
REVVVS_BATCH = {
    "events": [
        {
            "event_type": "registration",
            "event_time": "2026-03-15T10:00:00Z",
            "brand_id": BRAND,
            "player_external_ref": "player_001",
            "idempotency_key": "reg_player_001",
        },
        {
            "event_type": "first_deposit",
            "event_time": "2026-03-15T10:30:00Z",
            "brand_id": BRAND,
            "player_external_ref": "player_001",
            "idempotency_key": "ftd_player_001",
            "currency": "EUR",
            "amount": 50.00,
        },
    ]
}
FASTTRACK = {
    "CASINO": {
        "activity_id": "act-1001",
        "amount": 5.0,
        "wager_amount": 5.0,
        "bonus_wager_amount": 0,
        "currency": "EUR",
        "exchange_rate": 1.0,
        "game_id": "1234",
        "game_name": "Dead or Alive",
        "game_type": "Slots",
        "is_round_end": False,
        "origin": "www.brand.com",
        "round_id": "12345",
        "status": "Approved",
        "timestamp": "2015-03-02T8:27:58.10Z",
        "type": "Bet",
        "user_id": "7865",
        "vendor_id": "NE",
        "vendor_name": "NetEnt",
    },
    "BONUS": {
        "amount": 10,
        "bonus_id": "b-1",
        "currency": "EUR",
        "exchange_rate": 1,
        "origin": "www.brand.com",
        "product": "Casino",
        "status": "Created",
        "timestamp": "2026-03-15T10:00:00Z",
        "type": "FreeMoney",
        "user_bonus_id": "ABCD",
        "user_id": "7865",
    },
    "PAYMENT": {
        "amount": 50,
        "currency": "EUR",
        "exchange_rate": 1,
        "fee_amount": 0,
        "origin": "www.brand.com",
        "payment_id": "pay-1",
        "status": "Approved",
        "timestamp": "2026-03-15T10:30:00Z",
        "type": "Credit",
        "user_id": "7865",
        "vendor_id": "visa",
        "vendor_name": "Visa",
    },
    "USER_CREATE_V2": {
        "user_id": "7865",
        "timestamp": "2026-03-15T10:00:00Z",
        "origin": "www.brand.com",
        "ip_address": "203.0.113.1",
    },
    "USER_UPDATE_V2": {
        "user_id": "7865",
        "timestamp": "2026-03-15T11:00:00Z",
        "origin": "www.brand.com",
    },
    "USER_BLOCK_V2": {
        "user_id": "7865",
        "timestamp": "2026-03-15T12:00:00Z",
        "origin": "www.brand.com",
    },
    "LOGIN_V2": {
        "user_id": "7865",
        "timestamp": "2026-03-15T10:05:00Z",
        "origin": "www.brand.com",
        "ip_address": "203.0.113.1",
    },
}


def body(*examples: tuple[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint that reads its JSON body itself."""
    content: dict[str, Any] = {
        "schema": schema or {"type": "object"},
        "examples": {name: {"value": value} for name, value in examples},
    }
    return {
        "requestBody": {"required": True, "content": {"application/json": content}},
        "security": [{"ApiKey": []}],
    }


_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}},
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RESPONSES: dict[str, Any] = {
    "200": _json("Stored (or a duplicate): each event's id and status", {"type": "object"}),
    "400": _json("Invalid event(s), malformed JSON, or nothing in the batch accepted", _ERROR),
    "401": _json("Missing, unknown or revoked API key", _ERROR),
    "403": _json("The key's scope may not send events", _ERROR),
    "413": _json("Body or batch too large", _ERROR),
    "415": _json("Not JSON", _ERROR),
    "429": _json("Rate limit exceeded; see Retry-After", _ERROR),
    "503": _json("Store unavailable or writer overloaded; nothing stored; see Retry-After", _ERROR),
}

_ERROR_DESCRIPTIONS = {
    "400": "Invalid query parameters",
    "401": "Missing, unknown or revoked API key",
    "403": "The key's scope may not call this",
    "404": "Not found for this operator",
    "429": "Rate limit exceeded; see Retry-After",
    "503": "Store unavailable; see Retry-After",
}


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers an endpoint can give, in the error model."""
    return {code: _json(_ERROR_DESCRIPTIONS[code], _ERROR) for code in codes}
