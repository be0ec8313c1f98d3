"""Every JSON example in the wire-format specs (``/work/shared/specs``), as JSON text.

The examples are kept as text, not dicts, and turned into Python values with
``croupier.kit.jsoncodec.decode`` (see :func:`load`), so numbers such as ``50.00`` become
``Decimal("50.00")`` exactly as they do in production.

Where the spec's example is not valid JSON (placeholders such as ``<<THE UNIQUE USER ID>>``,
``UTC milliseconds``, ``true | false``, ``"win | loss"``), the verbatim text is kept as a
comment above a filled-in variant that makes the fewest substitutions needed:

=================================================  ==========================================
placeholder                                        substitution
=================================================  ==========================================
``<<THE UNIQUE USER ID>>``                         ``"user_001"``
``<<THE UNIQUE CLICK ID>>``                        ``"clk_998877"``
``<<THE END USER IP>>``                            ``"203.0.113.1"``
``<<THE USER AGENT STRING>>``                      ``"Mozilla/5.0 (X11; Linux x86_64)"``
``UTC milliseconds``                               ``1702963200000``
``<<THE CURRENCY, eg: USD | EUR | BTC>>``          ``"USD"`` (and ``"BTC"`` in a crypto variant)
``true | false``                                   ``false`` (``true`` in the crypto variant)
``<<THE UNIQUE TRANSACTION ID>>``                  a distinct ``"tx_..."`` per example
``<<THE PARENT BET TRANSACTION ID>>``              the pattern-B bet's ``transaction_id``
``<<THE GAME TYPE>>`` / ``<<THE GAME PROVIDER>>``  ``"slot"`` / ``"GGP"`` (the spec's own e.g.)
``"win | loss"``                                   ``"win"``, and a ``"loss"`` variant
``"your-brand-uuid"`` (Revvvs)                     :data:`BRAND`, a real UUID
=================================================  ==========================================

Fast Track's pages (specs/003, 004) show no literal JSON, only field tables; the Fast Track
payloads below are built from those tables and from ``fasttrack-schemas/*.schema.json``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from croupier.kit.jsoncodec import decode

# The clock the dialect tests run against. The Revvvs examples are dated 2026-03-15, so a
# fixed "now" after them keeps the tests independent of the real date.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FUTURE_LIMIT = NOW + timedelta(hours=24)


def load(text: str) -> Any:
    """Decode an example as the ingest path does (fractional numbers become ``Decimal``)."""
    return decode(text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# DataPulse Server Events API (specs/000)
# ---------------------------------------------------------------------------------------------

# 1.2 Example Request (curl): the body of ``-d '...'``, byte for byte (trailing spaces and
# all; the HTTP test sends it with the header spelled X-API-KEY, as the example does).
# Note the seconds timestamp here, while the use-case examples below use milliseconds.
DATAPULSE_CURL_DEPOSIT = """{
        "client_user_id": "user_001", 
        "click_id": "clk_998877",
        "ip_address": "203.0.113.1", 
        "event_name":"deposit",      
        "transaction_id": "tx_554433",   
        "timestamp": 1702963200,   
        "amount": 50.00,          
        "currency": "USD"  
        }"""  # noqa: W291


# User Register, verbatim:
# {
#   "client_user_id": "<<THE UNIQUE USER ID>>",
#   "click_id": "<<THE UNIQUE CLICK ID>>",
#   "event_name": "register",
#   "timestamp": UTC milliseconds,
#   "ip_address": "<<THE END USER IP>>",
#   "user_agent": "<<THE USER AGENT STRING>>"
# }
DATAPULSE_REGISTER = """{
  "client_user_id": "user_001",
  "click_id": "clk_998877",
  "event_name": "register",
  "timestamp": 1702963200000,
  "ip_address": "203.0.113.1",
  "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"
}"""

# User Login, verbatim:
# {
#   "client_user_id": "<<THE UNIQUE USER ID>>",
#   "click_id": "<<THE UNIQUE CLICK ID>>",
#   "event_name": "login",
#   "timestamp": UTC milliseconds,
#   "ip_address": "<<THE END USER IP>>",
#   "user_agent": "<<THE USER AGENT STRING>>"
# }
DATAPULSE_LOGIN = """{
  "client_user_id": "user_001",
  "click_id": "clk_998877",
  "event_name": "login",
  "timestamp": 1702963200000,
  "ip_address": "203.0.113.1",
  "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"
}"""

# User Deposit, verbatim:
# {
#   "client_user_id": "<<THE UNIQUE USER ID>>",
#   "click_id": "<<THE UNIQUE CLICK ID>>",
#   "event_name": "deposit",
#   "currency": "<<THE CURRENCY, eg: USD | EUR | BTC>>",
#   "amount": 5.00,
#   "transaction_id": "<<THE UNIQUE TRANSACTION ID>>",
#   "timestamp": UTC milliseconds,
#   "ip_address": "<<THE END USER IP>>",
#   "is_crypto": true | false
# }
DATAPULSE_DEPOSIT = """{
  "client_user_id": "user_001",
  "click_id": "clk_998877",
  "event_name": "deposit",
  "currency": "USD",
  "amount": 5.00,
  "transaction_id": "tx_dep_001",
  "timestamp": 1702963200000,
  "ip_address": "203.0.113.1",
  "is_crypto": false
}"""
# The same example, crypto variant (``BTC`` is one of the spec's own e.g. currencies).
DATAPULSE_DEPOSIT_CRYPTO = """{
  "client_user_id": "user_001",
  "click_id": "clk_998877",
  "event_name": "deposit",
  "currency": "BTC",
  "amount": 5.00,
  "transaction_id": "tx_dep_002",
  "timestamp": 1702963200000,
  "ip_address": "203.0.113.1",
  "is_crypto": true
}"""

# Pattern A: bet event with embedded result, verbatim:
# {
#   "client_user_id": "<<THE UNIQUE USER ID>>",
#   "event_name": "bet",
#   "game_type": "<<THE GAME TYPE>>",
#   "game_provider": "<<THE GAME PROVIDER>>",
#   "currency": "<<THE CURRENCY, eg: USD | EUR | BTC>>",
#   "amount": 5.00,
#   "transaction_id": "<<THE UNIQUE TRANSACTION ID>>",
#   "timestamp": UTC milliseconds,
#   "is_crypto": true | false,
#
#   "bet_result": "win | loss",
#   "bet_result_amount": 1.00
# }
DATAPULSE_BET_PATTERN_A_WIN = """{
  "client_user_id": "user_001",
  "event_name": "bet",
  "game_type": "slot",
  "game_provider": "GGP",
  "currency": "USD",
  "amount": 5.00,
  "transaction_id": "tx_bet_001",
  "timestamp": 1702963200000,
  "is_crypto": false,

  "bet_result": "win",
  "bet_result_amount": 1.00
}"""
# The "loss" variant. The spec's note says: "Send a positive value when bet_result is win,
# and a negative value when bet_result is loss (e.g. -5.00)", so 1.00 becomes -1.00.
DATAPULSE_BET_PATTERN_A_LOSS = """{
  "client_user_id": "user_001",
  "event_name": "bet",
  "game_type": "slot",
  "game_provider": "GGP",
  "currency": "USD",
  "amount": 5.00,
  "transaction_id": "tx_bet_002",
  "timestamp": 1702963200000,
  "is_crypto": false,

  "bet_result": "loss",
  "bet_result_amount": -1.00
}"""

# Pattern B first step, as the spec describes it in prose: "Send a bet event without
# bet_result / bet_result_amount first (recording only the stake)". The pattern A example
# without its last two fields.
DATAPULSE_BET_PATTERN_B = """{
  "client_user_id": "user_001",
  "event_name": "bet",
  "game_type": "slot",
  "game_provider": "GGP",
  "currency": "USD",
  "amount": 5.00,
  "transaction_id": "tx_bet_003",
  "timestamp": 1702963200000,
  "is_crypto": false
}"""

# Pattern B: standalone win / loss event, verbatim:
# {
#   "client_user_id": "<<THE UNIQUE USER ID>>",
#   "event_name": "win | loss",
#   "game_type": "<<THE GAME TYPE>>",
#   "game_provider": "<<THE GAME PROVIDER>>",
#   "currency": "<<THE CURRENCY, eg: USD | EUR | BTC>>",
#   "amount": 5.00,
#   "transaction_id": "<<THE UNIQUE TRANSACTION ID>>",
#   "parent_transaction_id": "<<THE PARENT BET TRANSACTION ID>>",
#   "timestamp": UTC milliseconds,
#   "is_crypto": true | false
# }
DATAPULSE_WIN_PATTERN_B = """{
  "client_user_id": "user_001",
  "event_name": "win",
  "game_type": "slot",
  "game_provider": "GGP",
  "currency": "USD",
  "amount": 5.00,
  "transaction_id": "tx_set_003",
  "parent_transaction_id": "tx_bet_003",
  "timestamp": 1702963200000,
  "is_crypto": false
}"""
# The "loss" variant: "a negative value when event_name is loss (e.g. -5.00)".
DATAPULSE_LOSS_PATTERN_B = """{
  "client_user_id": "user_001",
  "event_name": "loss",
  "game_type": "slot",
  "game_provider": "GGP",
  "currency": "USD",
  "amount": -5.00,
  "transaction_id": "tx_set_004",
  "parent_transaction_id": "tx_bet_003",
  "timestamp": 1702963200000,
  "is_crypto": false
}"""

# User Withdraw, verbatim:
# {
#   "client_user_id": "<<THE UNIQUE USER ID>>",
#   "event_name": "withdraw",
#   "currency": "<<THE CURRENCY, eg: USD | EUR | BTC>>",
#   "amount": 5.00,
#   "transaction_id": "<<THE UNIQUE TRANSACTION ID>>",
#   "timestamp": UTC milliseconds,
#   "ip_address": "<<THE END USER IP>>",
#   "is_crypto": true | false
# }
DATAPULSE_WITHDRAW = """{
  "client_user_id": "user_001",
  "event_name": "withdraw",
  "currency": "USD",
  "amount": 5.00,
  "transaction_id": "tx_wd_001",
  "timestamp": 1702963200000,
  "ip_address": "203.0.113.1",
  "is_crypto": false
}"""

DATAPULSE_EXAMPLES: dict[str, str] = {
    "curl_deposit": DATAPULSE_CURL_DEPOSIT,
    "register": DATAPULSE_REGISTER,
    "login": DATAPULSE_LOGIN,
    "deposit": DATAPULSE_DEPOSIT,
    "deposit_crypto": DATAPULSE_DEPOSIT_CRYPTO,
    "bet_pattern_a_win": DATAPULSE_BET_PATTERN_A_WIN,
    "bet_pattern_a_loss": DATAPULSE_BET_PATTERN_A_LOSS,
    "bet_pattern_b": DATAPULSE_BET_PATTERN_B,
    "win_pattern_b": DATAPULSE_WIN_PATTERN_B,
    "loss_pattern_b": DATAPULSE_LOSS_PATTERN_B,
    "withdraw": DATAPULSE_WITHDRAW,
}


# ---------------------------------------------------------------------------------------------
# Revvvs (specs/001 integration guide, specs/002 event reference)
# ---------------------------------------------------------------------------------------------
# The Revvvs examples are valid JSON; their only placeholder is the brand. Each is kept
# verbatim (``*_VERBATIM``) and filled in by replacing ``"your-brand-uuid"`` with BRAND.

BRAND = "5b1f8a4e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
BRAND_PLACEHOLDER = '"your-brand-uuid"'


def with_brand(text: str) -> str:
    """The example with its brand placeholder replaced by :data:`BRAND`."""
    assert BRAND_PLACEHOLDER in text
    return text.replace(BRAND_PLACEHOLDER, f'"{BRAND}"')


# 001, "Important: NGR and commission data".
REVVVS_GUIDE_NGR_UPDATE_VERBATIM = """{
"event_type": "ngr_update",
"event_time": "2026-03-15T23:59:00Z",
"brand_id": "your-brand-uuid",
"player_external_ref": "player_001",
"idempotency_key": "ngr_player_001_20260315",
"currency": "EUR",
"amount": 500.00
}"""
REVVVS_GUIDE_NGR_UPDATE = with_brand(REVVVS_GUIDE_NGR_UPDATE_VERBATIM)

# 001, "Single event".
REVVVS_GUIDE_SINGLE_REGISTRATION_VERBATIM = """{
"event_type": "registration",
"event_time": "2026-03-15T10:00:00Z",
"brand_id": "your-brand-uuid",
"player_external_ref": "player_001",
"idempotency_key": "reg_player_001_20260315"
}"""
REVVVS_GUIDE_SINGLE_REGISTRATION = with_brand(REVVVS_GUIDE_SINGLE_REGISTRATION_VERBATIM)

# 001, "Batch (up to 100 events)": the envelope; each item is one event.
REVVVS_GUIDE_BATCH_VERBATIM = """{
"events": [
{
"event_type": "registration",
"event_time": "2026-03-15T10:00:00Z",
"brand_id": "your-brand-uuid",
"player_external_ref": "player_001",
"idempotency_key": "reg_player_001"
},
{
"event_type": "first_deposit",
"event_time": "2026-03-15T10:30:00Z",
"brand_id": "your-brand-uuid",
"player_external_ref": "player_001",
"idempotency_key": "ftd_player_001",
"currency": "EUR",
"amount": 50.00
}
]
}"""
REVVVS_GUIDE_BATCH = with_brand(REVVVS_GUIDE_BATCH_VERBATIM)

# 001, the batch response (an answer, not an event; no placeholder).
REVVVS_GUIDE_BATCH_RESPONSE = """{
"summary": { "total": 2, "accepted": 2, "duplicates": 0, "errors": 0 },
"results": [
{ "event_id": "...", "idempotency_key": "reg_player_001", "status": "accepted" },
{ "event_id": "...", "idempotency_key": "ftd_player_001", "status": "accepted" }
]
}"""

# 001, "Click ID passthrough".
REVVVS_GUIDE_CLICK_REGISTRATION_VERBATIM = """{
"event_type": "registration",
"event_time": "2026-03-15T10:00:00Z",
"brand_id": "your-brand-uuid",
"player_external_ref": "player_001",
"idempotency_key": "reg_player_001",
"click_id": "abc-123-def",
"country": "GB"
}"""
REVVVS_GUIDE_CLICK_REGISTRATION = with_brand(REVVVS_GUIDE_CLICK_REGISTRATION_VERBATIM)

# 002, registration.
REVVVS_REF_REGISTRATION_VERBATIM = """{
  "event_type": "registration",
  "event_time": "2026-03-15T10:00:00Z",
  "brand_id": "your-brand-uuid",
  "player_external_ref": "player_001",
  "idempotency_key": "reg_player_001_20260315",
  "click_id": "abc-123-def",
  "country": "GB"
}"""
REVVVS_REF_REGISTRATION = with_brand(REVVVS_REF_REGISTRATION_VERBATIM)

# 002, first_deposit.
REVVVS_REF_FIRST_DEPOSIT_VERBATIM = """{
  "event_type": "first_deposit",
  "event_time": "2026-03-15T10:30:00Z",
  "brand_id": "your-brand-uuid",
  "player_external_ref": "player_001",
  "idempotency_key": "ftd_player_001_20260315",
  "currency": "EUR",
  "amount": 50.00,
  "metadata": { "payment_method": "visa" }
}"""
REVVVS_REF_FIRST_DEPOSIT = with_brand(REVVVS_REF_FIRST_DEPOSIT_VERBATIM)

# 002, ngr_update.
REVVVS_REF_NGR_UPDATE_VERBATIM = """{
  "event_type": "ngr_update",
  "event_time": "2026-03-15T23:59:00Z",
  "brand_id": "your-brand-uuid",
  "player_external_ref": "player_001",
  "idempotency_key": "ngr_player_001_20260315",
  "currency": "EUR",
  "amount": 500.00,
  "metadata": {
    "period_start": "2026-03-01T00:00:00Z",
    "period_end": "2026-03-15T23:59:59Z"
  }
}"""
REVVVS_REF_NGR_UPDATE = with_brand(REVVVS_REF_NGR_UPDATE_VERBATIM)

# 002, account_flag_changed.
REVVVS_REF_ACCOUNT_FLAG_VERBATIM = """{
  "event_type": "account_flag_changed",
  "event_time": "2026-03-15T14:00:00Z",
  "brand_id": "your-brand-uuid",
  "player_external_ref": "player_001",
  "idempotency_key": "flag_player_001_selfex",
  "metadata": {
    "flag": "self_excluded",
    "reason": "Player requested self-exclusion"
  }
}"""
REVVVS_REF_ACCOUNT_FLAG = with_brand(REVVVS_REF_ACCOUNT_FLAG_VERBATIM)

REVVVS_VERBATIM: dict[str, str] = {
    "guide_ngr_update": REVVVS_GUIDE_NGR_UPDATE_VERBATIM,
    "guide_single_registration": REVVVS_GUIDE_SINGLE_REGISTRATION_VERBATIM,
    "guide_batch": REVVVS_GUIDE_BATCH_VERBATIM,
    "guide_click_registration": REVVVS_GUIDE_CLICK_REGISTRATION_VERBATIM,
    "ref_registration": REVVVS_REF_REGISTRATION_VERBATIM,
    "ref_first_deposit": REVVVS_REF_FIRST_DEPOSIT_VERBATIM,
    "ref_ngr_update": REVVVS_REF_NGR_UPDATE_VERBATIM,
    "ref_account_flag": REVVVS_REF_ACCOUNT_FLAG_VERBATIM,
}

# Every single-event example (the batch's items are listed separately).
REVVVS_EXAMPLES: dict[str, str] = {
    "guide_ngr_update": REVVVS_GUIDE_NGR_UPDATE,
    "guide_single_registration": REVVVS_GUIDE_SINGLE_REGISTRATION,
    "guide_click_registration": REVVVS_GUIDE_CLICK_REGISTRATION,
    "ref_registration": REVVVS_REF_REGISTRATION,
    "ref_first_deposit": REVVVS_REF_FIRST_DEPOSIT,
    "ref_ngr_update": REVVVS_REF_NGR_UPDATE,
    "ref_account_flag": REVVVS_REF_ACCOUNT_FLAG,
}

# The event types 002 documents without an example, built from their field tables (the
# common fields plus ``currency`` and ``amount``, and some documented ``metadata``).
REVVVS_TABLE_DEPOSIT = f"""{{
  "event_type": "deposit",
  "event_time": "2026-03-16T09:00:00Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "dep_player_001_2",
  "currency": "EUR",
  "amount": 25.50,
  "metadata": {{ "payment_method": "visa", "deposit_number": 2 }}
}}"""
REVVVS_TABLE_WITHDRAWAL = f"""{{
  "event_type": "withdrawal",
  "event_time": "2026-03-16T10:00:00Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "wd_player_001_1",
  "currency": "EUR",
  "amount": 40.00
}}"""
REVVVS_TABLE_WAGER_PLACED = f"""{{
  "event_type": "wager_placed",
  "event_time": "2026-03-16T11:00:00Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "wager_player_001_1",
  "currency": "EUR",
  "amount": 2.50,
  "metadata": {{ "product": "casino", "game_id": "starburst", "game_name": "Starburst" }}
}}"""
REVVVS_TABLE_WAGER_SETTLED = f"""{{
  "event_type": "wager_settled",
  "event_time": "2026-03-16T11:00:05Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "settle_player_001_1",
  "currency": "EUR",
  "amount": 7.50,
  "metadata": {{ "product": "casino", "original_wager_amount": 2.50 }}
}}"""
REVVVS_TABLE_BONUS_AWARDED = f"""{{
  "event_type": "bonus_awarded",
  "event_time": "2026-03-16T12:00:00Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "bonus_player_001_1",
  "currency": "EUR",
  "amount": 10.00,
  "metadata": {{ "bonus_id": "welcome_100", "bonus_type": "deposit_match" }}
}}"""
REVVVS_TABLE_BONUS_COST = f"""{{
  "event_type": "bonus_cost",
  "event_time": "2026-03-16T12:00:01Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "bonuscost_player_001_1",
  "currency": "EUR",
  "amount": 3.00
}}"""
REVVVS_TABLE_CHARGEBACK = f"""{{
  "event_type": "chargeback",
  "event_time": "2026-03-20T08:00:00Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "cb_player_001_1",
  "currency": "EUR",
  "amount": 50.00,
  "metadata": {{ "original_deposit_ref": "ftd_player_001_20260315", "reason": "fraud" }}
}}"""
REVVVS_TABLE_FEE_APPLIED = f"""{{
  "event_type": "fee_applied",
  "event_time": "2026-03-20T08:00:01Z",
  "brand_id": "{BRAND}",
  "player_external_ref": "player_001",
  "idempotency_key": "fee_player_001_1",
  "currency": "EUR",
  "amount": 1.25,
  "metadata": {{ "fee_type": "payment_processing" }}
}}"""

REVVVS_TABLE_EXAMPLES: dict[str, str] = {
    "deposit": REVVVS_TABLE_DEPOSIT,
    "withdrawal": REVVVS_TABLE_WITHDRAWAL,
    "wager_placed": REVVVS_TABLE_WAGER_PLACED,
    "wager_settled": REVVVS_TABLE_WAGER_SETTLED,
    "bonus_awarded": REVVVS_TABLE_BONUS_AWARDED,
    "bonus_cost": REVVVS_TABLE_BONUS_COST,
    "chargeback": REVVVS_TABLE_CHARGEBACK,
    "fee_applied": REVVVS_TABLE_FEE_APPLIED,
}


# ---------------------------------------------------------------------------------------------
# Fast Track (specs/003, 004 and fasttrack-schemas/*.schema.json): built from the tables
# ---------------------------------------------------------------------------------------------

# 003, "Sample Request for initial Bet event": every key of 003's table, with the values
# the table gives as examples (timestamp ``2015-03-02T8:27:58.10Z``, exchange_rate 0.1, ...),
# and the keys the casino schema requires that 003 marks optional (amount, game_name,
# is_round_end, round_id, status). ``amount = bonus_wager_amount + wager_amount``.
FASTTRACK_003_BET = """{
  "activity_id": "act-003-1",
  "amount": 5.00,
  "balance_after": 95.00,
  "balance_before": 100.00,
  "bonus_wager_amount": 0.00,
  "currency": "EUR",
  "exchange_rate": 0.1,
  "game_id": "dead-or-alive",
  "game_name": "Dead or Alive",
  "game_type": "Slots",
  "is_round_end": false,
  "locked_wager_amount": 0.00,
  "origin": "www.brand.com",
  "round_id": "round-003",
  "timestamp": "2015-03-02T8:27:58.10Z",
  "type": "Bet",
  "user_id": "7865",
  "vendor_id": "netent",
  "vendor_name": "NetEnt",
  "wager_amount": 5.00,
  "meta": { "key1": "value1", "key2": "value2" },
  "status": "Approved"
}"""
# 003's "Win" tab: the same round closed by a win.
FASTTRACK_003_WIN = """{
  "activity_id": "act-003-2",
  "amount": 20.00,
  "balance_after": 115.00,
  "balance_before": 95.00,
  "bonus_wager_amount": 0.00,
  "currency": "EUR",
  "exchange_rate": 0.1,
  "game_id": "dead-or-alive",
  "game_name": "Dead or Alive",
  "game_type": "Slots",
  "is_round_end": true,
  "locked_wager_amount": 0.00,
  "origin": "www.brand.com",
  "round_id": "round-003",
  "timestamp": "2015-03-02T8:28:03.25Z",
  "type": "Win",
  "user_id": "7865",
  "vendor_id": "netent",
  "vendor_name": "NetEnt",
  "wager_amount": 20.00,
  "meta": { "key1": "value1", "key2": "value2" },
  "status": "Approved"
}"""

# 004, "Example Payload - Bet / Win / Loss (Greco)": every key 004 marks required (*), plus
# the wager parts; ``amount = wager_amount + bonus_wager_amount + locked_wager_amount``.
# Scenario A/B: round_id 12345, user_bonus_id ABCD.
FASTTRACK_004_BET = """{
  "activity_id": "act-004-1",
  "amount": 5.00,
  "wager_amount": 3.50,
  "bonus_wager_amount": 1.00,
  "locked_wager_amount": 0.50,
  "balance_before": 100.00,
  "balance_after": 95.00,
  "currency": "EUR",
  "exchange_rate": 1.0,
  "game_id": "greco-1",
  "game_name": "Greco",
  "game_type": "Live Casino",
  "is_round_end": false,
  "origin": "www.brand.com",
  "round_id": "12345",
  "status": "Approved",
  "timestamp": "2026-03-15T10:00:00Z",
  "type": "Bet",
  "user_id": "7865",
  "vendor_id": "evo",
  "vendor_name": "Evolution",
  "user_bonus_id": "ABCD",
  "meta": {}
}"""
FASTTRACK_004_WIN = """{
  "activity_id": "act-004-2",
  "amount": 12.50,
  "wager_amount": 12.50,
  "bonus_wager_amount": 0,
  "locked_wager_amount": 0,
  "currency": "EUR",
  "exchange_rate": 1.0,
  "game_id": "greco-1",
  "game_name": "Greco",
  "game_type": "Live Casino",
  "is_round_end": true,
  "origin": "www.brand.com",
  "round_id": "12345",
  "status": "Approved",
  "timestamp": "2026-03-15T10:00:30Z",
  "type": "Win",
  "user_id": "7865",
  "vendor_id": "evo",
  "vendor_name": "Evolution",
  "user_bonus_id": "ABCD"
}"""
FASTTRACK_004_LOSS = """{
  "activity_id": "act-004-3",
  "amount": 0,
  "currency": "EUR",
  "exchange_rate": 1.0,
  "game_id": "greco-1",
  "game_name": "Greco",
  "game_type": "Live Casino",
  "is_round_end": true,
  "origin": "www.brand.com",
  "round_id": "12345",
  "status": "Approved",
  "timestamp": "2026-03-15T10:00:30Z",
  "type": "Loss",
  "user_id": "7865",
  "vendor_id": "evo",
  "vendor_name": "Evolution",
  "user_bonus_id": "ABCD"
}"""

# One valid payload per schema: every required key, plus a few optional ones.
# 004 Scenario B: bonus Created (earliest), then the casino round, then the closure.
FASTTRACK_BONUS_CREATED = """{
  "amount": 10.00,
  "bonus_code": "WELCOME10",
  "bonus_id": "welcome-10",
  "currency": "EUR",
  "exchange_rate": 1.0,
  "locked_amount": 0,
  "origin": "www.brand.com",
  "product": "Casino",
  "required_wagering_amount": 300.00,
  "status": "Created",
  "timestamp": "2026-03-15T09:59:00Z",
  "type": "FreeBet",
  "user_bonus_id": "ABCD",
  "user_id": "7865",
  "meta": null
}"""
FASTTRACK_BONUS_COMPLETED = """{
  "amount": 10.00,
  "bonus_id": "welcome-10",
  "bonus_turned_real": 8.00,
  "currency": "EUR",
  "exchange_rate": 1.0,
  "origin": "www.brand.com",
  "product": "Casino",
  "status": "Completed",
  "timestamp": "2026-03-15T10:05:00Z",
  "type": "FreeBet",
  "user_bonus_id": "ABCD",
  "user_id": "7865"
}"""
FASTTRACK_PAYMENT = """{
  "amount": 50.00,
  "bonus_code": "WELCOME10",
  "currency": "EUR",
  "deposit_count": 1,
  "exchange_rate": 1.0,
  "fee_amount": 0,
  "note": "first deposit",
  "origin": "www.brand.com",
  "payment_id": "pay-0001",
  "status": "Approved",
  "timestamp": "2026-03-15T09:58:00Z",
  "type": "Credit",
  "user_id": "7865",
  "vendor_id": 42,
  "vendor_name": "Skrill",
  "meta": {}
}"""
FASTTRACK_USER_CREATE = """{
  "user_id": "7865",
  "note": "signed up from the spring campaign",
  "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
  "ip_address": "198.51.100.7",
  "timestamp": "2026-03-15T09:50:00Z",
  "origin": "www.brand.com"
}"""
FASTTRACK_USER_UPDATE = """{
  "user_id": "7865",
  "timestamp": "2026-03-15T09:55:00Z",
  "origin": "www.brand.com"
}"""
FASTTRACK_USER_BLOCK = """{
  "user_id": "7865",
  "timestamp": "2026-03-16T09:00:00Z",
  "origin": "www.brand.com"
}"""
FASTTRACK_LOGIN = """{
  "ip_address": "2001:db8::7",
  "is_impersonated": false,
  "is_verified": true,
  "meta": {},
  "origin": "www.brand.com",
  "timestamp": "2026-03-15T09:51:00Z",
  "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
  "user_details": {},
  "user_id": "7865"
}"""

# The event type (RabbitMQ property / Kafka header) of each payload, by name.
FASTTRACK_EXAMPLES: dict[str, tuple[str, str]] = {
    "003_bet": ("CASINO", FASTTRACK_003_BET),
    "003_win": ("CASINO", FASTTRACK_003_WIN),
    "004_bet": ("CASINO", FASTTRACK_004_BET),
    "004_win": ("CASINO", FASTTRACK_004_WIN),
    "004_loss": ("CASINO", FASTTRACK_004_LOSS),
    "bonus_created": ("BONUS", FASTTRACK_BONUS_CREATED),
    "bonus_completed": ("BONUS", FASTTRACK_BONUS_COMPLETED),
    "payment": ("PAYMENT", FASTTRACK_PAYMENT),
    "user_create": ("USER_CREATE_V2", FASTTRACK_USER_CREATE),
    "user_update": ("USER_UPDATE_V2", FASTTRACK_USER_UPDATE),
    "user_block": ("USER_BLOCK_V2", FASTTRACK_USER_BLOCK),
    "login": ("LOGIN_V2", FASTTRACK_LOGIN),
}

# One valid payload per Fast Track event type (the base the validation tests mutate).
FASTTRACK_BY_TYPE: dict[str, str] = {
    "CASINO": FASTTRACK_004_BET,
    "BONUS": FASTTRACK_BONUS_CREATED,
    "PAYMENT": FASTTRACK_PAYMENT,
    "USER_CREATE_V2": FASTTRACK_USER_CREATE,
    "USER_UPDATE_V2": FASTTRACK_USER_UPDATE,
    "USER_BLOCK_V2": FASTTRACK_USER_BLOCK,
    "LOGIN_V2": FASTTRACK_LOGIN,
}
