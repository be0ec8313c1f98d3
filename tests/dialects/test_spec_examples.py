"""Every example of the specs is accepted and maps to the canonical event as DESIGN.md says."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import spec_examples as ex
from croupier.dialects import datapulse, fasttrack, revvvs
from croupier.dialects.fasttrack import FtType
from croupier.events.model import EventDraft, Format, Kind
from croupier.kit.errors import FieldError
from croupier.kit.jsoncodec import InvalidJson
from spec_examples import FUTURE_LIMIT, load

D = Decimal
# 1702963200 (seconds) and 1702963200000 (milliseconds), the specs' example instant.
DP_INSTANT = datetime(2023, 12, 19, 5, 20, tzinfo=UTC)


def accepted(result: EventDraft | list[FieldError]) -> EventDraft:
    assert isinstance(result, EventDraft), f"rejected: {result}"
    return result


def assert_draft(draft: EventDraft, expected: dict[str, Any]) -> None:
    """Each expected column equals the draft's; Decimal columns must be Decimal, not float."""
    for name, want in expected.items():
        got = getattr(draft, name)
        if isinstance(want, Decimal):
            assert isinstance(got, Decimal), f"{name}: {got!r} is not a Decimal"
            assert got == want, f"{name}: {got!r} != {want!r}"
        elif name == "ip_address" and want is not None:
            assert got is not None
            assert ipaddress.ip_address(got) == ipaddress.ip_address(want)
        else:
            assert got == want, f"{name}: {got!r} != {want!r}"
    assert draft.occurred_at.utcoffset() == timedelta(0)


def dp(text: str) -> EventDraft:
    return accepted(datapulse.parse(load(text), future_limit=FUTURE_LIMIT))


def rv(text: str) -> EventDraft:
    return accepted(revvvs.parse(load(text), future_limit=FUTURE_LIMIT))


def ft(ft_type: str, text: str) -> EventDraft:
    return accepted(fasttrack.parse(FtType(ft_type), load(text), future_limit=FUTURE_LIMIT))


def test_every_example_is_a_json_object() -> None:
    texts = [
        *ex.DATAPULSE_EXAMPLES.values(),
        *ex.REVVVS_VERBATIM.values(),
        *ex.REVVVS_EXAMPLES.values(),
        *ex.REVVVS_TABLE_EXAMPLES.values(),
        ex.REVVVS_GUIDE_BATCH,
        ex.REVVVS_GUIDE_BATCH_RESPONSE,
        *(text for _, text in ex.FASTTRACK_EXAMPLES.values()),
    ]
    for text in texts:
        assert isinstance(load(text), dict)


@pytest.mark.parametrize("name", sorted(ex.REVVVS_VERBATIM))
def test_revvvs_examples_differ_from_the_spec_only_by_the_brand(name: str) -> None:
    verbatim = load(ex.REVVVS_VERBATIM[name])
    filled = load(ex.with_brand(ex.REVVVS_VERBATIM[name]))
    assert ex.BRAND in ex.with_brand(ex.REVVVS_VERBATIM[name])
    pairs = zip(verbatim.get("events", [verbatim]), filled.get("events", [filled]), strict=True)
    for before, after in pairs:
        assert before["brand_id"] == "your-brand-uuid"
        assert after == {**before, "brand_id": ex.BRAND}


def test_decode_keeps_json_fractions_as_exact_decimals() -> None:
    value = load('{"a": 50.00, "b": 0.1, "c": 5, "d": -1.00, "e": 1e2}')
    assert value == {"a": D("50.00"), "b": D("0.1"), "c": 5, "d": D("-1.00"), "e": D("100")}
    assert str(value["a"]) == "50.00"
    assert str(value["b"]) == "0.1"
    assert all(isinstance(value[k], Decimal) for k in "abde")


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", "NaN", '{"a": 1,}', "\xff"])
def test_decode_rejects_malformed_json(text: str) -> None:
    with pytest.raises(InvalidJson):
        load(text)


# ---------------------------------------------------------------------------------------------
# DataPulse
# ---------------------------------------------------------------------------------------------

DP_COMMON: dict[str, Any] = {
    "format": Format.DATAPULSE,
    "player_ref": "user_001",
    "occurred_at": DP_INSTANT,
    "brand_ref": None,
    "status": "approved",
}
DP_MONEY: dict[str, Any] = {**DP_COMMON, "currency": "USD", "is_crypto": False}
DP_GAME: dict[str, Any] = {**DP_MONEY, "game_type": "slot", "vendor": "GGP"}

DATAPULSE_CASES = [
    pytest.param(
        ex.DATAPULSE_CURL_DEPOSIT,
        {
            **DP_MONEY,
            "kind": Kind.DEPOSIT,
            "idempotency_key": "tx_554433",
            "transaction_id": "tx_554433",
            "amount": D("50.00"),
            "click_id": "clk_998877",
            "ip_address": "203.0.113.1",
            "stake": None,
            "ggr_delta": None,
            "round_id": None,
        },
        id="curl_deposit_seconds",
    ),
    pytest.param(
        ex.DATAPULSE_REGISTER,
        {
            **DP_COMMON,
            "kind": Kind.REGISTRATION,
            "click_id": "clk_998877",
            "ip_address": "203.0.113.1",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "amount": None,
            "currency": None,
            "stake": None,
            "ggr_delta": None,
        },
        id="register_millis",
    ),
    pytest.param(
        ex.DATAPULSE_LOGIN,
        {
            **DP_COMMON,
            "kind": Kind.LOGIN,
            "click_id": "clk_998877",
            "ip_address": "203.0.113.1",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "amount": None,
            "stake": None,
            "ggr_delta": None,
        },
        id="login_millis",
    ),
    pytest.param(
        ex.DATAPULSE_DEPOSIT,
        {
            **DP_MONEY,
            "kind": Kind.DEPOSIT,
            "idempotency_key": "tx_dep_001",
            "transaction_id": "tx_dep_001",
            "amount": D("5.00"),
            "click_id": "clk_998877",
            "ip_address": "203.0.113.1",
            "stake": None,
            "ggr_delta": None,
        },
        id="deposit",
    ),
    pytest.param(
        ex.DATAPULSE_DEPOSIT_CRYPTO,
        {
            **DP_COMMON,
            "kind": Kind.DEPOSIT,
            "idempotency_key": "tx_dep_002",
            "amount": D("5.00"),
            "currency": "BTC",
            "is_crypto": True,
        },
        id="deposit_crypto",
    ),
    pytest.param(
        ex.DATAPULSE_BET_PATTERN_A_WIN,
        {
            **DP_GAME,
            "kind": Kind.BET,
            "idempotency_key": "tx_bet_001",
            "transaction_id": "tx_bet_001",
            "round_id": "tx_bet_001",
            "amount": D("5.00"),
            "stake": D("5.00"),
            # the player's net result is +1.00: the operator's GGR moves by -1.00
            "ggr_delta": D("-1.00"),
            "parent_transaction_id": None,
        },
        id="bet_pattern_a_win",
    ),
    pytest.param(
        ex.DATAPULSE_BET_PATTERN_A_LOSS,
        {
            **DP_GAME,
            "kind": Kind.BET,
            "idempotency_key": "tx_bet_002",
            "transaction_id": "tx_bet_002",
            "round_id": "tx_bet_002",
            "amount": D("5.00"),
            "stake": D("5.00"),
            "ggr_delta": D("1.00"),
        },
        id="bet_pattern_a_loss",
    ),
    pytest.param(
        ex.DATAPULSE_BET_PATTERN_B,
        {
            **DP_GAME,
            "kind": Kind.BET,
            "idempotency_key": "tx_bet_003",
            "transaction_id": "tx_bet_003",
            "round_id": "tx_bet_003",
            "amount": D("5.00"),
            "stake": D("5.00"),
            # only the stake: the settlement comes in its own win/loss event
            "ggr_delta": D("0"),
        },
        id="bet_pattern_b",
    ),
    pytest.param(
        ex.DATAPULSE_WIN_PATTERN_B,
        {
            **DP_GAME,
            "kind": Kind.SETTLEMENT,
            "idempotency_key": "tx_set_003",
            "transaction_id": "tx_set_003",
            "parent_transaction_id": "tx_bet_003",
            "round_id": "tx_bet_003",
            "amount": D("5.00"),
            "stake": None,
            "ggr_delta": D("-5.00"),
        },
        id="win_pattern_b",
    ),
    pytest.param(
        ex.DATAPULSE_LOSS_PATTERN_B,
        {
            **DP_GAME,
            "kind": Kind.SETTLEMENT,
            "idempotency_key": "tx_set_004",
            "transaction_id": "tx_set_004",
            "parent_transaction_id": "tx_bet_003",
            "round_id": "tx_bet_003",
            "amount": D("-5.00"),
            "stake": None,
            "ggr_delta": D("5.00"),
        },
        id="loss_pattern_b",
    ),
    pytest.param(
        ex.DATAPULSE_WITHDRAW,
        {
            **DP_MONEY,
            "kind": Kind.WITHDRAWAL,
            "idempotency_key": "tx_wd_001",
            "transaction_id": "tx_wd_001",
            "amount": D("5.00"),
            "ip_address": "203.0.113.1",
            "click_id": None,
            "stake": None,
            "ggr_delta": None,
        },
        id="withdraw",
    ),
]


@pytest.mark.parametrize(("text", "expected"), DATAPULSE_CASES)
def test_datapulse_example(text: str, expected: dict[str, Any]) -> None:
    draft = dp(text)
    assert_draft(draft, expected)
    assert draft.raw == load(text)


def test_datapulse_examples_are_all_covered() -> None:
    texts = {case.values[0] for case in DATAPULSE_CASES}
    assert texts == set(ex.DATAPULSE_EXAMPLES.values())


@pytest.mark.parametrize("name", ["bet_pattern_a_win", "bet_pattern_a_loss"])
def test_datapulse_pattern_a_result_is_kept(name: str) -> None:
    payload = load(ex.DATAPULSE_EXAMPLES[name])
    draft = dp(ex.DATAPULSE_EXAMPLES[name])
    assert draft.attributes["bet_result"] == payload["bet_result"]
    assert draft.attributes["bet_result_amount"] == payload["bet_result_amount"]


def test_datapulse_seconds_and_milliseconds_are_the_same_instant() -> None:
    base = load(ex.DATAPULSE_DEPOSIT)
    seconds = accepted(
        datapulse.parse({**base, "timestamp": 1702963200}, future_limit=FUTURE_LIMIT)
    )
    millis = accepted(
        datapulse.parse({**base, "timestamp": 1702963200000}, future_limit=FUTURE_LIMIT)
    )
    assert seconds.occurred_at == millis.occurred_at == DP_INSTANT


def test_datapulse_milliseconds_keep_their_fraction() -> None:
    draft = accepted(
        datapulse.parse(
            {**load(ex.DATAPULSE_DEPOSIT), "timestamp": 1702963200123}, future_limit=FUTURE_LIMIT
        )
    )
    assert draft.occurred_at == DP_INSTANT + timedelta(milliseconds=123)


@pytest.mark.parametrize("settlement", ["win_pattern_b", "loss_pattern_b"])
def test_datapulse_pattern_b_settlement_links_to_its_bet(settlement: str) -> None:
    bet = dp(ex.DATAPULSE_BET_PATTERN_B)
    settled = dp(ex.DATAPULSE_EXAMPLES[settlement])
    assert settled.parent_transaction_id == bet.transaction_id
    assert settled.round_id == bet.round_id
    assert settled.idempotency_key != bet.idempotency_key
    # stake from the bet, net result from the settlement: GGR over the round = -net result
    assert bet.ggr_delta is not None
    assert settled.ggr_delta is not None
    assert settled.amount is not None
    assert bet.ggr_delta + settled.ggr_delta == -settled.amount


@pytest.mark.parametrize("name", ["register", "login"])
def test_datapulse_non_financial_key_derives_from_name_user_and_timestamp(name: str) -> None:
    payload = load(ex.DATAPULSE_EXAMPLES[name])

    def key(**changes: Any) -> str:
        draft = accepted(datapulse.parse({**payload, **changes}, future_limit=FUTURE_LIMIT))
        assert draft.transaction_id is None
        return draft.idempotency_key

    base = key()
    assert base
    assert key() == base
    # other fields do not make another event...
    assert key(user_agent="curl/8.0", ip_address="198.51.100.1") == base
    # ...but another user, time or event name does
    assert key(client_user_id="user_002") != base
    assert key(timestamp=payload["timestamp"] + 1000) != base
    other = "login" if name == "register" else "register"
    assert key(event_name=other) != base


def test_datapulse_register_and_login_at_the_same_instant_have_different_keys() -> None:
    assert dp(ex.DATAPULSE_REGISTER).idempotency_key != dp(ex.DATAPULSE_LOGIN).idempotency_key


# ---------------------------------------------------------------------------------------------
# Revvvs
# ---------------------------------------------------------------------------------------------


def rv_expected(text: str, **columns: Any) -> dict[str, Any]:
    payload = load(text)
    return {
        "format": Format.REVVVS,
        "player_ref": "player_001",
        "brand_ref": ex.BRAND,
        "idempotency_key": payload["idempotency_key"],
        "status": "approved",
        **columns,
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


REVVVS_CASES = [
    pytest.param(
        ex.REVVVS_GUIDE_NGR_UPDATE,
        rv_expected(
            ex.REVVVS_GUIDE_NGR_UPDATE,
            kind=Kind.NGR_UPDATE,
            occurred_at=at("2026-03-15T23:59:00Z"),
            idempotency_key="ngr_player_001_20260315",
            amount=D("500.00"),
            currency="EUR",
            # a running total, not a delta: the ledger books the difference
            stake=None,
            ggr_delta=None,
        ),
        id="guide_ngr_update",
    ),
    pytest.param(
        ex.REVVVS_GUIDE_SINGLE_REGISTRATION,
        rv_expected(
            ex.REVVVS_GUIDE_SINGLE_REGISTRATION,
            kind=Kind.REGISTRATION,
            occurred_at=at("2026-03-15T10:00:00Z"),
            idempotency_key="reg_player_001_20260315",
            amount=None,
            currency=None,
            click_id=None,
        ),
        id="guide_single_registration",
    ),
    pytest.param(
        ex.REVVVS_GUIDE_CLICK_REGISTRATION,
        rv_expected(
            ex.REVVVS_GUIDE_CLICK_REGISTRATION,
            kind=Kind.REGISTRATION,
            occurred_at=at("2026-03-15T10:00:00Z"),
            idempotency_key="reg_player_001",
            click_id="abc-123-def",
            country="GB",
            amount=None,
        ),
        id="guide_click_registration",
    ),
    pytest.param(
        ex.REVVVS_REF_REGISTRATION,
        rv_expected(
            ex.REVVVS_REF_REGISTRATION,
            kind=Kind.REGISTRATION,
            occurred_at=at("2026-03-15T10:00:00Z"),
            idempotency_key="reg_player_001_20260315",
            click_id="abc-123-def",
            country="GB",
        ),
        id="ref_registration",
    ),
    pytest.param(
        ex.REVVVS_REF_FIRST_DEPOSIT,
        rv_expected(
            ex.REVVVS_REF_FIRST_DEPOSIT,
            kind=Kind.DEPOSIT,
            occurred_at=at("2026-03-15T10:30:00Z"),
            idempotency_key="ftd_player_001_20260315",
            amount=D("50.00"),
            currency="EUR",
            stake=None,
            ggr_delta=None,
        ),
        id="ref_first_deposit",
    ),
    pytest.param(
        ex.REVVVS_REF_NGR_UPDATE,
        rv_expected(
            ex.REVVVS_REF_NGR_UPDATE,
            kind=Kind.NGR_UPDATE,
            occurred_at=at("2026-03-15T23:59:00Z"),
            amount=D("500.00"),
            currency="EUR",
            ggr_delta=None,
        ),
        id="ref_ngr_update",
    ),
    pytest.param(
        ex.REVVVS_REF_ACCOUNT_FLAG,
        rv_expected(
            ex.REVVVS_REF_ACCOUNT_FLAG,
            kind=Kind.ACCOUNT_FLAG,
            occurred_at=at("2026-03-15T14:00:00Z"),
            idempotency_key="flag_player_001_selfex",
            amount=None,
            currency=None,
        ),
        id="ref_account_flag",
    ),
    pytest.param(
        ex.REVVVS_TABLE_DEPOSIT,
        rv_expected(
            ex.REVVVS_TABLE_DEPOSIT,
            kind=Kind.DEPOSIT,
            occurred_at=at("2026-03-16T09:00:00Z"),
            amount=D("25.50"),
            currency="EUR",
        ),
        id="table_deposit",
    ),
    pytest.param(
        ex.REVVVS_TABLE_WITHDRAWAL,
        rv_expected(
            ex.REVVVS_TABLE_WITHDRAWAL,
            kind=Kind.WITHDRAWAL,
            occurred_at=at("2026-03-16T10:00:00Z"),
            amount=D("40.00"),
            currency="EUR",
            stake=None,
            ggr_delta=None,
        ),
        id="table_withdrawal",
    ),
    pytest.param(
        ex.REVVVS_TABLE_WAGER_PLACED,
        rv_expected(
            ex.REVVVS_TABLE_WAGER_PLACED,
            kind=Kind.BET,
            occurred_at=at("2026-03-16T11:00:00Z"),
            amount=D("2.50"),
            currency="EUR",
            stake=D("2.50"),
            game_type="casino",
            game_id="starburst",
            game_name="Starburst",
        ),
        id="table_wager_placed",
    ),
    pytest.param(
        ex.REVVVS_TABLE_WAGER_SETTLED,
        rv_expected(
            ex.REVVVS_TABLE_WAGER_SETTLED,
            kind=Kind.SETTLEMENT,
            occurred_at=at("2026-03-16T11:00:05Z"),
            amount=D("7.50"),
            currency="EUR",
            stake=None,
            # net result +7.50 (player won): GGR -= 7.50
            ggr_delta=D("-7.50"),
            game_type="casino",
        ),
        id="table_wager_settled",
    ),
    pytest.param(
        ex.REVVVS_TABLE_BONUS_AWARDED,
        rv_expected(
            ex.REVVVS_TABLE_BONUS_AWARDED,
            kind=Kind.BONUS,
            occurred_at=at("2026-03-16T12:00:00Z"),
            amount=D("10.00"),
            currency="EUR",
            bonus_ref="welcome_100",
        ),
        id="table_bonus_awarded",
    ),
    pytest.param(
        ex.REVVVS_TABLE_BONUS_COST,
        rv_expected(
            ex.REVVVS_TABLE_BONUS_COST,
            kind=Kind.BONUS_COST,
            occurred_at=at("2026-03-16T12:00:01Z"),
            amount=D("3.00"),
            currency="EUR",
        ),
        id="table_bonus_cost",
    ),
    pytest.param(
        ex.REVVVS_TABLE_CHARGEBACK,
        rv_expected(
            ex.REVVVS_TABLE_CHARGEBACK,
            kind=Kind.CHARGEBACK,
            occurred_at=at("2026-03-20T08:00:00Z"),
            amount=D("50.00"),
            currency="EUR",
        ),
        id="table_chargeback",
    ),
    pytest.param(
        ex.REVVVS_TABLE_FEE_APPLIED,
        rv_expected(
            ex.REVVVS_TABLE_FEE_APPLIED,
            kind=Kind.FEE,
            occurred_at=at("2026-03-20T08:00:01Z"),
            amount=D("1.25"),
            currency="EUR",
        ),
        id="table_fee_applied",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REVVVS_CASES)
def test_revvvs_example(text: str, expected: dict[str, Any]) -> None:
    draft = rv(text)
    assert_draft(draft, expected)
    assert draft.raw == load(text)


def test_revvvs_examples_are_all_covered() -> None:
    texts = {case.values[0] for case in REVVVS_CASES}
    expected = {*ex.REVVVS_EXAMPLES.values(), *ex.REVVVS_TABLE_EXAMPLES.values()}
    assert texts == expected


def test_revvvs_first_deposit_is_a_deposit_that_says_it_was_the_first() -> None:
    draft = rv(ex.REVVVS_REF_FIRST_DEPOSIT)
    assert draft.kind is Kind.DEPOSIT
    assert draft.attributes["event_type"] == "first_deposit"
    assert draft.attributes["metadata"] == {"payment_method": "visa"}


def test_revvvs_account_flag_keeps_its_metadata() -> None:
    draft = rv(ex.REVVVS_REF_ACCOUNT_FLAG)
    assert draft.attributes["metadata"]["flag"] == "self_excluded"


@pytest.mark.parametrize(
    ("amount", "ggr"), [("7.50", "-7.50"), ("-2.50", "2.50"), ("0", "0"), ("0.10", "-0.10")]
)
def test_revvvs_wager_settled_ggr_is_minus_the_net_result(amount: str, ggr: str) -> None:
    payload = load(ex.REVVVS_TABLE_WAGER_SETTLED.replace('"amount": 7.50', f'"amount": {amount}'))
    draft = accepted(revvvs.parse(payload, future_limit=FUTURE_LIMIT))
    assert draft.ggr_delta == D(ggr)
    assert draft.amount == D(amount)


def test_revvvs_batch_example() -> None:
    batch = load(ex.REVVVS_GUIDE_BATCH)
    drafts = [accepted(revvvs.parse(item, future_limit=FUTURE_LIMIT)) for item in batch["events"]]
    assert [d.kind for d in drafts] == [Kind.REGISTRATION, Kind.DEPOSIT]
    assert [d.brand_ref for d in drafts] == [ex.BRAND, ex.BRAND]
    assert [d.player_ref for d in drafts] == ["player_001", "player_001"]
    assert [d.occurred_at for d in drafts] == [
        at("2026-03-15T10:00:00Z"),
        at("2026-03-15T10:30:00Z"),
    ]
    assert drafts[1].amount == D("50.00")
    assert isinstance(drafts[1].amount, Decimal)
    assert drafts[1].currency == "EUR"
    # the response example reports the same keys, in order
    response = load(ex.REVVVS_GUIDE_BATCH_RESPONSE)
    keys = [result["idempotency_key"] for result in response["results"]]
    assert [d.idempotency_key for d in drafts] == keys
    assert response["summary"]["total"] == len(drafts)


# ---------------------------------------------------------------------------------------------
# Fast Track
# ---------------------------------------------------------------------------------------------

FT_CASINO_COMMON: dict[str, Any] = {
    "format": Format.FASTTRACK,
    "player_ref": "7865",
    "currency": "EUR",
    "status": "approved",
    "brand_ref": None,
}

FASTTRACK_CASES = [
    pytest.param(
        "003_bet",
        {
            **FT_CASINO_COMMON,
            "kind": Kind.BET,
            # 003's own format, with a one-digit hour
            "occurred_at": datetime(2015, 3, 2, 8, 27, 58, 100000, tzinfo=UTC),
            "transaction_id": "act-003-1",
            "amount": D("5.00"),
            "exchange_rate": D("0.1"),
            "stake": D("5.00"),
            "ggr_delta": D("5.00"),
            "round_id": "round-003",
            "game_id": "dead-or-alive",
            "game_name": "Dead or Alive",
            "game_type": "Slots",
            "vendor": "NetEnt",
            "bonus_ref": None,
        },
        id="003_bet",
    ),
    pytest.param(
        "003_win",
        {
            **FT_CASINO_COMMON,
            "kind": Kind.SETTLEMENT,
            "occurred_at": datetime(2015, 3, 2, 8, 28, 3, 250000, tzinfo=UTC),
            "transaction_id": "act-003-2",
            "amount": D("20.00"),
            "stake": None,
            # a gross payout
            "ggr_delta": D("-20.00"),
            "round_id": "round-003",
        },
        id="003_win",
    ),
    pytest.param(
        "004_bet",
        {
            **FT_CASINO_COMMON,
            "kind": Kind.BET,
            "occurred_at": datetime(2026, 3, 15, 10, 0, tzinfo=UTC),
            "transaction_id": "act-004-1",
            "amount": D("5.00"),
            "exchange_rate": D("1.0"),
            "stake": D("5.00"),
            "ggr_delta": D("5.00"),
            "round_id": "12345",
            "game_type": "Live Casino",
            "game_name": "Greco",
            "vendor": "Evolution",
            "bonus_ref": "ABCD",
        },
        id="004_bet",
    ),
    pytest.param(
        "004_win",
        {
            **FT_CASINO_COMMON,
            "kind": Kind.SETTLEMENT,
            "occurred_at": datetime(2026, 3, 15, 10, 0, 30, tzinfo=UTC),
            "transaction_id": "act-004-2",
            "amount": D("12.50"),
            "stake": None,
            "ggr_delta": D("-12.50"),
            "round_id": "12345",
            "bonus_ref": "ABCD",
        },
        id="004_win",
    ),
    pytest.param(
        "004_loss",
        {
            **FT_CASINO_COMMON,
            "kind": Kind.SETTLEMENT,
            "occurred_at": datetime(2026, 3, 15, 10, 0, 30, tzinfo=UTC),
            "transaction_id": "act-004-3",
            "amount": D("0"),
            "stake": None,
            # a Loss only closes the round
            "ggr_delta": D("0"),
            "round_id": "12345",
        },
        id="004_loss",
    ),
    pytest.param(
        "bonus_created",
        {
            "format": Format.FASTTRACK,
            "kind": Kind.BONUS,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 15, 9, 59, tzinfo=UTC),
            "amount": D("10.00"),
            "currency": "EUR",
            "exchange_rate": D("1.0"),
            "status": "created",
            "bonus_ref": "ABCD",
            "stake": None,
            "ggr_delta": None,
        },
        id="bonus_created",
    ),
    pytest.param(
        "bonus_completed",
        {
            "kind": Kind.BONUS,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 15, 10, 5, tzinfo=UTC),
            "status": "completed",
            "bonus_ref": "ABCD",
        },
        id="bonus_completed",
    ),
    pytest.param(
        "payment",
        {
            "format": Format.FASTTRACK,
            "kind": Kind.DEPOSIT,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 15, 9, 58, tzinfo=UTC),
            "amount": D("50.00"),
            "currency": "EUR",
            "exchange_rate": D("1.0"),
            "status": "approved",
            "transaction_id": "pay-0001",
            "vendor": "Skrill",
            "stake": None,
            "ggr_delta": None,
        },
        id="payment_credit",
    ),
    pytest.param(
        "user_create",
        {
            "format": Format.FASTTRACK,
            "kind": Kind.REGISTRATION,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 15, 9, 50, tzinfo=UTC),
            "ip_address": "198.51.100.7",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "amount": None,
        },
        id="user_create",
    ),
    pytest.param(
        "user_update",
        {
            "kind": Kind.PLAYER_UPDATE,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 15, 9, 55, tzinfo=UTC),
        },
        id="user_update",
    ),
    pytest.param(
        "user_block",
        {
            "kind": Kind.ACCOUNT_FLAG,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 16, 9, 0, tzinfo=UTC),
        },
        id="user_block",
    ),
    pytest.param(
        "login",
        {
            "format": Format.FASTTRACK,
            "kind": Kind.LOGIN,
            "player_ref": "7865",
            "occurred_at": datetime(2026, 3, 15, 9, 51, tzinfo=UTC),
            "ip_address": "2001:db8::7",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
        id="login",
    ),
]


@pytest.mark.parametrize(("name", "expected"), FASTTRACK_CASES)
def test_fasttrack_example(name: str, expected: dict[str, Any]) -> None:
    ft_type, text = ex.FASTTRACK_EXAMPLES[name]
    draft = ft(ft_type, text)
    assert_draft(draft, expected)
    assert draft.raw == load(text)


def test_fasttrack_examples_are_all_covered() -> None:
    assert {case.values[0] for case in FASTTRACK_CASES} == set(ex.FASTTRACK_EXAMPLES)
    assert set(ex.FASTTRACK_BY_TYPE) == {t.value for t in FtType}


def test_fasttrack_round_links_bet_and_settlements() -> None:
    drafts = [ft(*ex.FASTTRACK_EXAMPLES[name]) for name in ("004_bet", "004_win", "004_loss")]
    assert {d.round_id for d in drafts} == {"12345"}
    assert {d.bonus_ref for d in drafts} == {"ABCD"}
    assert len({d.idempotency_key for d in drafts}) == 3


def test_fasttrack_bonus_sequence_of_scenario_b() -> None:
    created = ft(*ex.FASTTRACK_EXAMPLES["bonus_created"])
    bet = ft(*ex.FASTTRACK_EXAMPLES["004_bet"])
    closed = ft(*ex.FASTTRACK_EXAMPLES["bonus_completed"])
    assert created.bonus_ref == bet.bonus_ref == closed.bonus_ref == "ABCD"
    assert created.occurred_at < bet.occurred_at < closed.occurred_at
    assert created.idempotency_key != closed.idempotency_key


@pytest.mark.parametrize(
    ("name", "approved", "rolled_back"),
    [
        ("004_bet", D("5.00"), D("-5.00")),
        ("004_win", D("-12.50"), D("12.50")),
        ("004_loss", D("0"), D("0")),
    ],
)
def test_fasttrack_rollback_reverses_the_event_it_repeats(
    name: str, approved: Decimal, rolled_back: Decimal
) -> None:
    ft_type, text = ex.FASTTRACK_EXAMPLES[name]
    original = ft(ft_type, text)
    rollback = accepted(
        fasttrack.parse(
            FtType(ft_type), {**load(text), "status": "Rollback"}, future_limit=FUTURE_LIMIT
        )
    )
    assert original.ggr_delta == approved
    assert rollback.ggr_delta == rolled_back
    assert rollback.status == "rollback"
    assert rollback.kind == original.kind
    assert rollback.round_id == original.round_id
    assert rollback.amount == original.amount
    if original.stake is not None:
        assert rollback.stake == -original.stake
    else:
        assert rollback.stake is None
    # same activity repeated as a rollback: a new event, not a duplicate or a conflict
    assert rollback.idempotency_key != original.idempotency_key


def test_fasttrack_win_of_zero_closes_the_round_without_moving_ggr() -> None:
    payload = {
        **load(ex.FASTTRACK_004_WIN),
        "amount": 0,
        "wager_amount": 0,
        "bonus_wager_amount": 0,
        "locked_wager_amount": 0,
    }
    draft = accepted(fasttrack.parse(FtType.CASINO, payload, future_limit=FUTURE_LIMIT))
    assert draft.kind is Kind.SETTLEMENT
    assert draft.ggr_delta == 0


def test_fasttrack_casino_key_is_the_activity_id() -> None:
    payload = load(ex.FASTTRACK_004_BET)

    def key(**changes: Any) -> str:
        result = fasttrack.parse(FtType.CASINO, {**payload, **changes}, future_limit=FUTURE_LIMIT)
        return accepted(result).idempotency_key

    base = key()
    assert payload["activity_id"] in base
    assert key(game_name="Other", timestamp="2026-03-15T11:00:00Z") == base
    assert key(activity_id="act-other") != base


def test_fasttrack_payment_key_is_payment_id_and_status() -> None:
    payload = load(ex.FASTTRACK_PAYMENT)

    def key(**changes: Any) -> str:
        result = fasttrack.parse(FtType.PAYMENT, {**payload, **changes}, future_limit=FUTURE_LIMIT)
        return accepted(result).idempotency_key

    base = key()
    assert "pay-0001" in base
    assert key(timestamp="2026-03-15T10:00:00Z", amount=D("60.00")) == base
    assert key(status="Requested") != base
    assert key(payment_id="pay-0002") != base
    # payment_id may be a number; it keys the same way as its text
    assert key(payment_id=1001) == key(payment_id="1001")


@pytest.mark.parametrize(
    ("payment_type", "status", "kind"),
    [
        ("Credit", "Approved", Kind.DEPOSIT),
        ("Debit", "Approved", Kind.WITHDRAWAL),
        ("Credit", "Rollback", Kind.CHARGEBACK),
    ],
)
def test_fasttrack_payment_kinds(payment_type: str, status: str, kind: Kind) -> None:
    payload = {**load(ex.FASTTRACK_PAYMENT), "type": payment_type, "status": status}
    draft = accepted(fasttrack.parse(FtType.PAYMENT, payload, future_limit=FUTURE_LIMIT))
    assert draft.kind is kind
    assert draft.status == status.lower()


def test_fasttrack_bonus_key_is_user_bonus_id_and_status() -> None:
    payload = load(ex.FASTTRACK_BONUS_CREATED)

    def key(**changes: Any) -> str:
        result = fasttrack.parse(FtType.BONUS, {**payload, **changes}, future_limit=FUTURE_LIMIT)
        return accepted(result).idempotency_key

    base = key(status="Completed")
    assert "ABCD" in base
    assert key(status="Completed", timestamp="2026-03-15T09:59:30Z") == base
    assert key(status="Forfeited") != base
    assert key(status="Completed", user_bonus_id="EFGH") != base
    # Ongoing repeats as wagering progresses, and a second Created is a sequence
    # violation to flag: each one is its own event
    assert key(status="Created") != key(status="Created", timestamp="2026-03-15T10:03:00Z")
    first = key(status="Ongoing", timestamp="2026-03-15T10:01:00Z")
    second = key(status="Ongoing", timestamp="2026-03-15T10:02:00Z")
    assert first != second


def test_fasttrack_user_keys() -> None:
    def key(ft_type: FtType, **changes: Any) -> str:
        payload = {**load(ex.FASTTRACK_BY_TYPE[ft_type.value]), **changes}
        return accepted(
            fasttrack.parse(ft_type, payload, future_limit=FUTURE_LIMIT)
        ).idempotency_key

    # a player registers once: user_id + event
    created = key(FtType.USER_CREATE_V2)
    assert key(FtType.USER_CREATE_V2, timestamp="2026-03-15T09:50:30Z") == created
    assert key(FtType.USER_CREATE_V2, user_id="9999") != created
    # a player logs in many times: user_id + timestamp
    login = key(FtType.LOGIN_V2)
    assert key(FtType.LOGIN_V2, timestamp="2026-03-15T12:00:00Z") != login
    assert key(FtType.LOGIN_V2, user_id="9999") != login
    # the events of one player never share a key
    keys = {key(t) for t in FtType if t not in (FtType.CASINO, FtType.BONUS, FtType.PAYMENT)}
    assert len(keys) == 4
