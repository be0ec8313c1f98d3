"""What each format rejects, and with which field and code (never the message text)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import spec_examples as ex
from croupier.dialects import datapulse, fasttrack, revvvs
from croupier.dialects.fasttrack import FtType
from croupier.events.model import EventDraft, Kind
from croupier.kit.errors import FieldError
from spec_examples import FUTURE_LIMIT, NOW, load

D = Decimal
ABSENT = object()  # "drop the field" in ``with_field``

NON_OBJECTS = [
    pytest.param([], id="empty-list"),
    pytest.param([{"event_name": "login"}], id="list-of-objects"),
    pytest.param("login", id="string"),
    pytest.param(None, id="null"),
    pytest.param(42, id="number"),
    pytest.param(D("4.2"), id="decimal"),
    pytest.param(True, id="boolean"),
]

# Numbers that are not money: too large, or too many decimals.
OUT_OF_RANGE = [
    pytest.param(D("1e400"), id="1e400"),
    pytest.param(D("-1e400"), id="-1e400"),
    pytest.param(D("1e18"), id="1e18"),
    pytest.param(10**400, id="int-10**400"),
    pytest.param(D("1e-19"), id="19-decimals"),
    # A JSON number whose exponent is beyond the decimal context (Emax = 999999): it decodes
    # fine (``decode(b"1e1000000")`` is ``Decimal("1E+1000000")``), so a parser must reject it.
    pytest.param(D("1e1000000"), id="1e1000000"),
]


def with_field(payload: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy with ``name`` set to ``value`` (dropped for ABSENT); dotted names go one level in."""
    out = dict(payload)
    if "." in name:
        outer, inner = name.split(".", 1)
        out[outer] = with_field(dict(out.get(outer) or {}), inner, value)
        return out
    if value is ABSENT:
        out.pop(name, None)
    else:
        out[name] = value
    return out


def errors(result: EventDraft | list[FieldError]) -> list[tuple[str, str]]:
    assert isinstance(result, list), f"accepted: {result}"
    assert result, "an empty error list"
    assert all(isinstance(e, FieldError) for e in result)
    return [(e.field, e.code) for e in result]


def accepted(result: EventDraft | list[FieldError]) -> EventDraft:
    assert isinstance(result, EventDraft), f"rejected: {result}"
    return result


def dp(payload: Any) -> EventDraft | list[FieldError]:
    return datapulse.parse(payload, future_limit=FUTURE_LIMIT)


def rv(payload: Any) -> EventDraft | list[FieldError]:
    return revvvs.parse(payload, future_limit=FUTURE_LIMIT)


def ft(ft_type: FtType | str, payload: Any) -> EventDraft | list[FieldError]:
    return fasttrack.parse(FtType(ft_type), payload, future_limit=FUTURE_LIMIT)


def dp_example(name: str) -> dict[str, Any]:
    return load(ex.DATAPULSE_EXAMPLES[name])


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# DataPulse
# ---------------------------------------------------------------------------------------------

DP_ALWAYS = ("client_user_id", "event_name", "timestamp")
DP_MONEY = ("transaction_id", "amount", "currency")
# click_id and ip_address are "Yes" in 1.1's table, yet the spec's own bet, win/loss and
# withdraw examples leave them out: they are not in this list (see test_datapulse_example).
DP_REQUIRED = {
    "register": DP_ALWAYS,
    "login": DP_ALWAYS,
    "curl_deposit": DP_ALWAYS + DP_MONEY,
    "deposit": DP_ALWAYS + DP_MONEY,
    "withdraw": DP_ALWAYS + DP_MONEY,
    "bet_pattern_a_win": DP_ALWAYS + DP_MONEY,
    "bet_pattern_b": DP_ALWAYS + DP_MONEY,
    "win_pattern_b": (*DP_ALWAYS, *DP_MONEY, "parent_transaction_id"),
    "loss_pattern_b": (*DP_ALWAYS, *DP_MONEY, "parent_transaction_id"),
}


@pytest.mark.parametrize("how", [ABSENT, None], ids=["absent", "null"])
@pytest.mark.parametrize(
    ("name", "field"),
    [(name, field) for name, fields in DP_REQUIRED.items() for field in fields],
)
def test_datapulse_required_field_missing(name: str, field: str, how: Any) -> None:
    assert (field, "missing") in errors(dp(with_field(dp_example(name), field, how)))


@pytest.mark.parametrize("name", ["register", "login"])
@pytest.mark.parametrize("field", ["click_id", "ip_address", "user_agent"])
def test_datapulse_non_financial_events_need_no_money(name: str, field: str) -> None:
    # "transaction_id, amount, currency is not required in non-financial events (eg. login)"
    payload = with_field(dp_example(name), field, ABSENT)
    assert not {"transaction_id", "amount", "currency"} & payload.keys()
    draft = accepted(dp(payload))
    assert draft.amount is None
    assert draft.currency is None


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("deposit", "client_user_id", 1001),
        ("deposit", "event_name", 1),
        ("deposit", "event_name", ["deposit"]),
        ("deposit", "timestamp", "1702963200000"),
        ("deposit", "timestamp", True),
        ("deposit", "timestamp", {"seconds": 1702963200}),
        ("deposit", "ip_address", 3405803777),
        ("deposit", "click_id", False),
        ("deposit", "amount", "5.00"),
        ("deposit", "amount", True),
        ("deposit", "amount", [D("5.00")]),
        ("deposit", "currency", 840),
        ("deposit", "is_crypto", "false"),
        ("deposit", "is_crypto", 0),
        ("register", "user_agent", {"browser": "firefox"}),
        ("bet_pattern_b", "game_type", 7),
        ("bet_pattern_b", "game_provider", ["GGP"]),
        ("bet_pattern_a_win", "bet_result_amount", "1.00"),
    ],
)
def test_datapulse_wrong_type(name: str, field: str, value: Any) -> None:
    assert (field, "invalid_type") in errors(dp(with_field(dp_example(name), field, value)))


@pytest.mark.parametrize(
    ("timestamp", "code"),
    [
        pytest.param(-1, "invalid_timestamp", id="negative"),
        pytest.param(0, "invalid_timestamp", id="zero"),
        pytest.param(-1702963200000, "invalid_timestamp", id="negative-millis"),
        pytest.param(10**30, "invalid_timestamp", id="year-overflow"),
        pytest.param(D("1e1000003"), "invalid_timestamp", id="exponent-beyond-context"),
        pytest.param(99_999_999_999, "timestamp_in_future", id="seconds-in-year-5138"),
    ],
)
def test_datapulse_bad_timestamp(timestamp: Any, code: str) -> None:
    assert errors(dp(with_field(dp_example("deposit"), "timestamp", timestamp))) == [
        ("timestamp", code)
    ]


@pytest.mark.parametrize("unit", [1, 1000], ids=["seconds", "millis"])
@pytest.mark.parametrize(
    ("moment", "ok"),
    [
        (NOW + timedelta(hours=23), True),
        (FUTURE_LIMIT, True),
        (FUTURE_LIMIT + timedelta(seconds=1), False),
        (NOW + timedelta(days=365), False),
    ],
)
def test_datapulse_future_limit(moment: datetime, ok: bool, unit: int) -> None:
    payload = with_field(dp_example("login"), "timestamp", int(moment.timestamp()) * unit)
    if ok:
        assert accepted(dp(payload)).occurred_at == moment
    else:
        assert errors(dp(payload)) == [("timestamp", "timestamp_in_future")]


@pytest.mark.parametrize(
    "ip", ["203.0.113.1", "2001:db8::1", "::1", "2001:DB8:0:0:0:0:0:1", "::ffff:203.0.113.1"]
)
def test_datapulse_ip_accepted(ip: str) -> None:
    draft = accepted(dp(with_field(dp_example("login"), "ip_address", ip)))
    assert draft.ip_address is not None


@pytest.mark.parametrize(
    "ip", ["999.1.1.1", "203.0.113", "1.2.3.4.5", "localhost", "2001:db8::g", "garbage"]
)
def test_datapulse_ip_rejected(ip: str) -> None:
    assert errors(dp(with_field(dp_example("login"), "ip_address", ip))) == [
        ("ip_address", "invalid_ip")
    ]


@pytest.mark.parametrize(
    ("currency", "is_crypto", "ok"),
    [
        ("XYZ", False, False),
        ("XYZ", ABSENT, False),
        ("BTC", False, False),
        ("USDT", ABSENT, False),
        ("USDT", True, True),
        ("BTC", True, True),
        ("EUR", False, True),
        ("EUR", ABSENT, True),
    ],
)
def test_datapulse_currency(currency: str, is_crypto: Any, ok: bool) -> None:
    payload = with_field(dp_example("deposit"), "currency", currency)
    payload = with_field(payload, "is_crypto", is_crypto)
    if ok:
        draft = accepted(dp(payload))
        assert draft.currency == currency
        assert draft.is_crypto is (is_crypto is True)
    else:
        assert errors(dp(payload)) == [("currency", "invalid_currency")]


@pytest.mark.parametrize(
    ("name", "amount", "code"),
    [
        ("deposit", D("-5.00"), "below_minimum"),
        ("withdraw", D("-5.00"), "below_minimum"),
        ("bet_pattern_b", D("-5.00"), "below_minimum"),
        ("bet_pattern_a_win", -1, "below_minimum"),
        # win/loss amounts are the player's net result: a win is >= 0, a loss <= 0
        ("win_pattern_b", D("-5.00"), "below_minimum"),
        ("loss_pattern_b", D("5.00"), "above_maximum"),
        ("loss_pattern_b", 1, "above_maximum"),
    ],
)
def test_datapulse_amount_sign(name: str, amount: Any, code: str) -> None:
    assert errors(dp(with_field(dp_example(name), "amount", amount))) == [("amount", code)]


@pytest.mark.parametrize(
    ("name", "net", "code"),
    [
        ("bet_pattern_a_loss", D("1.00"), "above_maximum"),
        ("bet_pattern_a_win", D("-1.00"), "below_minimum"),
    ],
)
def test_datapulse_pattern_a_result_sign(name: str, net: Decimal, code: str) -> None:
    payload = with_field(dp_example(name), "bet_result_amount", net)
    assert errors(dp(payload)) == [("bet_result_amount", code)]


def test_datapulse_pattern_a_result_needs_its_amount() -> None:
    payload = with_field(dp_example("bet_pattern_a_win"), "bet_result_amount", ABSENT)
    assert errors(dp(payload)) == [("bet_result_amount", "missing")]


@pytest.mark.parametrize("bet_result", ["draw", "WIN", "win | loss"])
def test_datapulse_pattern_a_result_is_win_or_loss(bet_result: str) -> None:
    payload = with_field(dp_example("bet_pattern_a_win"), "bet_result", bet_result)
    assert ("bet_result", "invalid_value") in errors(dp(payload))


@pytest.mark.parametrize("zero", [0, D("0.00")])
@pytest.mark.parametrize("name", ["win_pattern_b", "loss_pattern_b"])
def test_datapulse_settlement_of_zero_is_accepted(name: str, zero: Any) -> None:
    draft = accepted(dp(with_field(dp_example(name), "amount", zero)))
    assert draft.ggr_delta == 0


@pytest.mark.parametrize("event_name", ["level_up", "kyc_passed", "Deposit_Bonus"])
def test_datapulse_unknown_event_name_is_custom(event_name: str) -> None:
    payload = {
        **with_field(dp_example("login"), "event_name", event_name),
        "level": "7",
        "campaign": "spring",
    }
    draft = accepted(dp(payload))
    assert draft.kind is Kind.CUSTOM
    assert draft.attributes["event_name"] == event_name
    assert draft.attributes["level"] == "7"
    assert draft.attributes["campaign"] == "spring"
    assert draft.player_ref == "user_001"
    assert draft.amount is None
    assert draft.idempotency_key


def test_datapulse_custom_properties_are_kept() -> None:
    # "<<any_prop>> String No: Additional custom properties as key-value pairs."
    draft = accepted(dp({**dp_example("deposit"), "affiliate_sub1": "google", "vip": "gold"}))
    assert draft.attributes["affiliate_sub1"] == "google"
    assert draft.attributes["vip"] == "gold"


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["amount", "bet_result_amount"])
def test_datapulse_out_of_range(field: str, value: Any) -> None:
    payload = dp_example("bet_pattern_a_win")
    assert (field, "out_of_range") in errors(dp(with_field(payload, field, value)))


@pytest.mark.parametrize("value", NON_OBJECTS)
def test_datapulse_non_object(value: Any) -> None:
    assert errors(dp(value)) == [("", "invalid_type")]


@pytest.mark.parametrize("value", ["", "   "])
@pytest.mark.parametrize("field", ["client_user_id", "event_name", "transaction_id"])
def test_datapulse_blank_strings_rejected(field: str, value: str) -> None:
    assert (field, "empty") in errors(dp(with_field(dp_example("deposit"), field, value)))


# ---------------------------------------------------------------------------------------------
# Revvvs
# ---------------------------------------------------------------------------------------------

RV_COMMON = ("event_type", "event_time", "brand_id", "player_external_ref", "idempotency_key")
RV_ALL = {**ex.REVVVS_EXAMPLES, **ex.REVVVS_TABLE_EXAMPLES}
RV_WITH_MONEY = [name for name, text in RV_ALL.items() if "amount" in load(text)]
# Amounts that are not signed: everything but a running NGR total and a net result.
RV_UNSIGNED = [
    "ref_first_deposit",
    "deposit",
    "withdrawal",
    "wager_placed",
    "bonus_awarded",
    "bonus_cost",
    "chargeback",
    "fee_applied",
]


def rv_example(name: str) -> dict[str, Any]:
    return load(RV_ALL[name])


@pytest.mark.parametrize("how", [ABSENT, None], ids=["absent", "null"])
@pytest.mark.parametrize("field", RV_COMMON)
@pytest.mark.parametrize("name", ["ref_registration", "ref_first_deposit", "ref_account_flag"])
def test_revvvs_common_field_missing(name: str, field: str, how: Any) -> None:
    assert (field, "missing") in errors(rv(with_field(rv_example(name), field, how)))


@pytest.mark.parametrize("field", ["currency", "amount"])
@pytest.mark.parametrize("name", RV_WITH_MONEY)
def test_revvvs_money_field_missing(name: str, field: str) -> None:
    assert errors(rv(with_field(rv_example(name), field, ABSENT))) == [(field, "missing")]


@pytest.mark.parametrize("metadata", [ABSENT, {}, {"reason": "no flag"}])
def test_revvvs_account_flag_needs_metadata_flag(metadata: Any) -> None:
    payload = with_field(rv_example("ref_account_flag"), "metadata", metadata)
    assert errors(rv(payload)) == [("metadata.flag", "missing")]


@pytest.mark.parametrize("flag", ["self_excluded", "duplicate", "blocked", "closed", "active"])
def test_revvvs_account_flags_accepted(flag: str) -> None:
    accepted(rv(with_field(rv_example("ref_account_flag"), "metadata.flag", flag)))


@pytest.mark.parametrize(
    ("field", "value"), [("metadata.flag", "banned"), ("metadata.previous_flag", "gone")]
)
def test_revvvs_account_flag_unknown_value(field: str, value: str) -> None:
    payload = with_field(rv_example("ref_account_flag"), field, value)
    assert errors(rv(payload)) == [(field, "invalid_value")]


@pytest.mark.parametrize("name", ["ref_registration", "guide_single_registration"])
def test_revvvs_registration_needs_no_money(name: str) -> None:
    payload = rv_example(name)
    assert "amount" not in payload
    assert "currency" not in payload
    accepted(rv(payload))


@pytest.mark.parametrize(
    "event_type", ["login", "bet", "Registration", "DEPOSIT", "first-deposit", "ngr"]
)
def test_revvvs_unknown_event_type(event_type: str) -> None:
    payload = with_field(rv_example("ref_registration"), "event_type", event_type)
    assert errors(rv(payload)) == [("event_type", "unknown_event_type")]


def test_revvvs_idempotency_key_of_500_characters_is_accepted() -> None:
    key = "k" * 500
    draft = accepted(rv(with_field(rv_example("ref_registration"), "idempotency_key", key)))
    assert draft.idempotency_key == key


@pytest.mark.parametrize("length", [501, 1000])
def test_revvvs_idempotency_key_over_500_characters_is_rejected(length: int) -> None:
    payload = with_field(rv_example("ref_registration"), "idempotency_key", "k" * length)
    assert errors(rv(payload)) == [("idempotency_key", "too_long")]


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("ref_registration", "event_type", 1),
        ("ref_registration", "event_time", 1773568800),
        ("ref_registration", "event_time", {"iso": "2026-03-15T10:00:00Z"}),
        ("ref_registration", "brand_id", 42),
        ("ref_registration", "player_external_ref", 1001),
        ("ref_registration", "idempotency_key", 12345),
        ("ref_registration", "click_id", ["abc-123-def"]),
        ("ref_registration", "country", 826),
        ("ref_registration", "source_system", False),
        ("ref_first_deposit", "amount", "50.00"),
        ("ref_first_deposit", "amount", True),
        ("ref_first_deposit", "amount", {"value": 50}),
        ("ref_first_deposit", "currency", 978),
        ("ref_first_deposit", "is_crypto", "yes"),
        ("ref_first_deposit", "metadata", True),
        ("ref_first_deposit", "metadata", "visa"),
        ("ref_first_deposit", "metadata", ["visa"]),
        ("wager_placed", "metadata.product", 1),
        ("wager_settled", "metadata.original_wager_amount", "2.50"),
        ("deposit", "metadata.deposit_number", "2"),
        ("ref_account_flag", "metadata.flag", True),
    ],
)
def test_revvvs_wrong_type(name: str, field: str, value: Any) -> None:
    assert (field, "invalid_type") in errors(rv(with_field(rv_example(name), field, value)))


@pytest.mark.parametrize(
    "event_time",
    [
        "garbage",
        "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-00-10T10:00:00Z",
        "2026-03-32T10:00:00Z",
        "2026-03-15T25:00:00Z",
        "2026-03-15T10:61:00Z",
        "2026-03-15T10:00:61Z",
        "2026-03-15T10:00:00+25:00",
        "2026-03-15",
        "15/03/2026 10:00",
        "1773568800",
        "2026-03-15T10:00:00ZZ",
    ],
)
def test_revvvs_bad_event_time(event_time: str) -> None:
    payload = with_field(rv_example("ref_registration"), "event_time", event_time)
    assert errors(rv(payload)) == [("event_time", "invalid_timestamp")]


@pytest.mark.parametrize(
    ("event_time", "ok"),
    [
        (iso(NOW + timedelta(hours=23)), True),
        (iso(FUTURE_LIMIT), True),
        (iso(FUTURE_LIMIT + timedelta(seconds=1)), False),
        # the same instants written with an offset
        ("2026-06-02T14:00:00+02:00", True),
        ("2026-06-02T14:00:01+02:00", False),
        ("2099-01-01T00:00:00Z", False),
    ],
)
def test_revvvs_future_limit(event_time: str, ok: bool) -> None:
    payload = with_field(rv_example("ref_registration"), "event_time", event_time)
    if ok:
        assert accepted(rv(payload)).occurred_at <= FUTURE_LIMIT
    else:
        assert errors(rv(payload)) == [("event_time", "timestamp_in_future")]


@pytest.mark.parametrize(
    ("event_time", "moment"),
    [
        ("2026-03-15T10:00:00Z", datetime(2026, 3, 15, 10, tzinfo=UTC)),
        ("2026-03-15T10:00:00.250Z", datetime(2026, 3, 15, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-03-15T12:00:00+02:00", datetime(2026, 3, 15, 10, tzinfo=UTC)),
        ("2026-03-15T05:30:00-04:30", datetime(2026, 3, 15, 10, tzinfo=UTC)),
    ],
)
def test_revvvs_event_time_in_utc(event_time: str, moment: datetime) -> None:
    payload = with_field(rv_example("ref_registration"), "event_time", event_time)
    draft = accepted(rv(payload))
    assert draft.occurred_at == moment
    assert draft.occurred_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("currency", "is_crypto", "ok"),
    [
        ("XYZ", ABSENT, False),
        ("XYZ", False, False),
        ("USDT", ABSENT, False),
        ("EURO", ABSENT, False),
        # Revvvs documents no crypto flag; Croupier honours one, as DataPulse has
        ("USDT", True, True),
        ("GBP", ABSENT, True),
    ],
)
def test_revvvs_currency(currency: str, is_crypto: Any, ok: bool) -> None:
    payload = with_field(rv_example("ref_first_deposit"), "currency", currency)
    payload = with_field(payload, "is_crypto", is_crypto)
    if ok:
        assert accepted(rv(payload)).currency == currency
    else:
        assert errors(rv(payload)) == [("currency", "invalid_currency")]


@pytest.mark.parametrize("name", RV_UNSIGNED)
def test_revvvs_negative_amount_rejected(name: str) -> None:
    payload = with_field(rv_example(name), "amount", D("-1.00"))
    assert errors(rv(payload)) == [("amount", "below_minimum")]


@pytest.mark.parametrize("name", RV_UNSIGNED)
def test_revvvs_zero_amount_accepted(name: str) -> None:
    assert accepted(rv(with_field(rv_example(name), "amount", 0))).amount == 0


@pytest.mark.parametrize("amount", [D("-120.50"), -3, D("0")])
def test_revvvs_ngr_update_may_be_negative(amount: Any) -> None:
    # "NGR can be negative (player is winning)"
    draft = accepted(rv(with_field(rv_example("ref_ngr_update"), "amount", amount)))
    assert draft.kind is Kind.NGR_UPDATE
    assert draft.amount == amount
    assert isinstance(draft.amount, Decimal)


def test_revvvs_wager_settled_may_be_negative() -> None:
    # "Net result (positive = player win, negative = operator revenue)"
    draft = accepted(rv(with_field(rv_example("wager_settled"), "amount", D("-2.50"))))
    assert draft.amount == D("-2.50")
    assert draft.ggr_delta == D("2.50")


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(("name", "field"), [("ref_ngr_update", "amount"), ("deposit", "amount")])
def test_revvvs_out_of_range(name: str, field: str, value: Any) -> None:
    assert (field, "out_of_range") in errors(rv(with_field(rv_example(name), field, value)))


@pytest.mark.parametrize("product", ["casino", "sports", "poker", "other"])
def test_revvvs_products_accepted(product: str) -> None:
    payload = with_field(rv_example("wager_placed"), "metadata.product", product)
    assert accepted(rv(payload)).game_type == product


@pytest.mark.parametrize("product", ["slots", "Casino", "lottery"])
def test_revvvs_unknown_product(product: str) -> None:
    payload = with_field(rv_example("wager_placed"), "metadata.product", product)
    assert errors(rv(payload)) == [("metadata.product", "invalid_value")]


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("G1", "invalid_value"),
        ("12", "invalid_value"),
        ("G", "invalid_value"),
        ("GBR", "too_long"),
        # ISO 3166-1 alpha-2 is two ASCII letters: "ß".upper() is "SS", but "ß" is no code
        ("ß", "invalid_value"),
    ],
)
def test_revvvs_country_is_alpha2(country: str, code: str) -> None:
    payload = with_field(rv_example("ref_registration"), "country", country)
    assert errors(rv(payload)) == [("country", code)]


def test_revvvs_country_is_upper_case() -> None:
    payload = with_field(rv_example("ref_registration"), "country", "gb")
    assert accepted(rv(payload)).country == "GB"


@pytest.mark.parametrize("value", NON_OBJECTS)
def test_revvvs_non_object(value: Any) -> None:
    assert errors(rv(value)) == [("", "invalid_type")]


def test_revvvs_batch_envelope_is_not_an_event() -> None:
    # the envelope is split by the route; handed to the parser it is an unknown object
    result = errors(rv(load(ex.REVVVS_GUIDE_BATCH)))
    assert ("event_type", "missing") in result


# ---------------------------------------------------------------------------------------------
# Fast Track: driven by Fast Track's published JSON Schemas
# ---------------------------------------------------------------------------------------------

SPEC_SCHEMAS = Path("/work/shared/specs/fasttrack-schemas")


def schema_text(ft_type: FtType) -> str:
    name = f"schemas/{ft_type.value.lower()}.schema.json"
    return resources.files("croupier.dialects").joinpath(name).read_text(encoding="utf-8")


SCHEMAS: dict[FtType, dict[str, Any]] = {t: json.loads(schema_text(t)) for t in FtType}


def ft_example(ft_type: FtType) -> dict[str, Any]:
    return load(ex.FASTTRACK_BY_TYPE[ft_type.value])


WAGER_PARTS = ("wager_amount", "bonus_wager_amount", "locked_wager_amount")


def ft_example_for(ft_type: FtType, field: str) -> dict[str, Any]:
    """The example, without the other wager parts when ``field`` is one of them: changing one
    part alone would also (rightly) make ``amount`` differ from the sum of the parts."""
    payload = ft_example(ft_type)
    if ft_type is FtType.CASINO and field in WAGER_PARTS:
        for part in WAGER_PARTS:
            if part != field:
                payload.pop(part, None)
    return payload


def schema_cases(select: Any) -> list[Any]:
    """(FtType, property, schema of the property) for every property ``select`` keeps."""
    return [
        pytest.param(t, key, prop, id=f"{t.value}-{key}")
        for t, schema in SCHEMAS.items()
        for key, prop in schema["properties"].items()
        if select(t, key, prop)
    ]


REQUIRED = [
    pytest.param(t, key, id=f"{t.value}-{key}") for t in FtType for key in SCHEMAS[t]["required"]
]
OPTIONAL = [
    pytest.param(t, key, id=f"{t.value}-{key}")
    for t in FtType
    for key in ft_example(t)
    if key not in SCHEMAS[t]["required"]
]
# Values of each JSON type, to put where the schema allows another.
JSON_VALUES = {
    "string": "12.5",
    "number": D("12.5"),
    "boolean": True,
    "array": [1],
    "object": {"a": 1},
}


def wrong_type_cases() -> list[Any]:
    cases = []
    for t, schema in SCHEMAS.items():
        for key, prop in schema["properties"].items():
            allowed = prop.get("type", [])
            allowed = {allowed} if isinstance(allowed, str) else set(allowed)
            if "integer" in allowed:
                allowed.add("number")
            for json_type, value in JSON_VALUES.items():
                if allowed and json_type not in allowed:
                    cases.append(pytest.param(t, key, value, id=f"{t.value}-{key}-{json_type}"))
    return cases


def test_fasttrack_packaged_schemas_are_the_published_ones() -> None:
    if not SPEC_SCHEMAS.is_dir():
        pytest.skip("the published specs are not checked out next to the project")
    for t in FtType:
        published = SPEC_SCHEMAS / f"{t.value.lower()}.schema.json"
        assert json.loads(published.read_text(encoding="utf-8")) == SCHEMAS[t]


@pytest.mark.parametrize("ft_type", list(FtType))
def test_fasttrack_example_has_every_required_field(ft_type: FtType) -> None:
    assert set(SCHEMAS[ft_type]["required"]) <= ft_example(ft_type).keys()
    accepted(ft(ft_type, ft_example(ft_type)))


@pytest.mark.parametrize("how", [ABSENT, None], ids=["absent", "null"])
@pytest.mark.parametrize(("ft_type", "field"), REQUIRED)
def test_fasttrack_required_field_missing(ft_type: FtType, field: str, how: Any) -> None:
    payload = with_field(ft_example(ft_type), field, how)
    assert errors(ft(ft_type, payload)) == [(field, "missing")]


@pytest.mark.parametrize(("ft_type", "field"), OPTIONAL)
def test_fasttrack_optional_field_may_be_left_out(ft_type: FtType, field: str) -> None:
    payload = with_field(ft_example_for(ft_type, field), field, ABSENT)
    accepted(ft(ft_type, payload))


@pytest.mark.parametrize("field", ["game_type", "vendor_name", "user_bonus_id"])
def test_fasttrack_casino_fields_004_marks_required_are_optional_per_schema(field: str) -> None:
    # README: where 003/004 and a schema disagree on what is required, the schema wins.
    assert field not in SCHEMAS[FtType.CASINO]["required"]
    accepted(ft(FtType.CASINO, with_field(ft_example(FtType.CASINO), field, ABSENT)))


@pytest.mark.parametrize(("ft_type", "field", "value"), wrong_type_cases())
def test_fasttrack_wrong_type(ft_type: FtType, field: str, value: Any) -> None:
    payload = with_field(ft_example_for(ft_type, field), field, value)
    assert errors(ft(ft_type, payload)) == [(field, "invalid_type")]


ENUM_VALUES = [
    pytest.param(t, key, value, id=f"{t.value}-{key}-{value}")
    for t, schema in SCHEMAS.items()
    for key, prop in schema["properties"].items()
    for value in prop.get("enum", [])
]


@pytest.mark.parametrize(("ft_type", "field", "value"), ENUM_VALUES)
def test_fasttrack_enum_value_accepted(ft_type: FtType, field: str, value: str) -> None:
    accepted(ft(ft_type, with_field(ft_example(ft_type), field, value)))


@pytest.mark.parametrize(
    ("ft_type", "field", "prop"), schema_cases(lambda t, key, prop: "enum" in prop)
)
@pytest.mark.parametrize("value", ["NotAValue", "approved", ""])
def test_fasttrack_enum_value_rejected(
    ft_type: FtType, field: str, prop: dict[str, Any], value: str
) -> None:
    assert value not in prop["enum"]
    result = errors(ft(ft_type, with_field(ft_example(ft_type), field, value)))
    assert result in ([(field, "invalid_value")], [(field, "empty")])


def test_fasttrack_casino_loss_is_accepted() -> None:
    # 004: "Accepted Values: 1. Bet 2. Win 3. Loss", though the schema's enum has only Bet, Win
    payload = {**ft_example(FtType.CASINO), "type": "Loss"}
    for part in WAGER_PARTS:
        payload.pop(part)
    draft = accepted(ft(FtType.CASINO, payload))
    assert draft.kind is Kind.SETTLEMENT
    assert draft.ggr_delta == 0
    assert draft.attributes["type"] == "Loss"


@pytest.mark.parametrize("casino_type", ["bet", "LOSS", "Push", "Refund"])
def test_fasttrack_casino_unknown_type(casino_type: str) -> None:
    payload = with_field(ft_example(FtType.CASINO), "type", casino_type)
    assert errors(ft(FtType.CASINO, payload)) == [("type", "invalid_value")]


@pytest.mark.parametrize(
    ("ft_type", "field", "prop"), schema_cases(lambda t, key, prop: "minimum" in prop)
)
def test_fasttrack_below_minimum(ft_type: FtType, field: str, prop: dict[str, Any]) -> None:
    payload = with_field(ft_example_for(ft_type, field), field, prop["minimum"] - 1)
    assert errors(ft(ft_type, payload)) == [(field, "below_minimum")]


@pytest.mark.parametrize(
    ("ft_type", "field", "prop"), schema_cases(lambda t, key, prop: "minLength" in prop)
)
def test_fasttrack_below_min_length(ft_type: FtType, field: str, prop: dict[str, Any]) -> None:
    assert prop["minLength"] == 1
    payload = with_field(ft_example(ft_type), field, "")
    assert errors(ft(ft_type, payload)) == [(field, "empty")]


@pytest.mark.parametrize("ft_type", list(FtType))
@pytest.mark.parametrize(
    ("timestamp", "moment"),
    [
        # 003's own example, with its one-digit hour
        ("2015-03-02T8:27:58.10Z", datetime(2015, 3, 2, 8, 27, 58, 100000, tzinfo=UTC)),
        ("2015-03-02T08:27:58.10Z", datetime(2015, 3, 2, 8, 27, 58, 100000, tzinfo=UTC)),
        ("2015-03-02T08:27:58Z", datetime(2015, 3, 2, 8, 27, 58, tzinfo=UTC)),
        ("2015-03-02T10:27:58.123456+02:00", datetime(2015, 3, 2, 8, 27, 58, 123456, tzinfo=UTC)),
        ("2015-03-02t08:27:58z", datetime(2015, 3, 2, 8, 27, 58, tzinfo=UTC)),
    ],
)
def test_fasttrack_rfc3339_timestamps_accepted(
    ft_type: FtType, timestamp: str, moment: datetime
) -> None:
    draft = accepted(ft(ft_type, with_field(ft_example(ft_type), "timestamp", timestamp)))
    assert draft.occurred_at == moment


@pytest.mark.parametrize("ft_type", list(FtType))
@pytest.mark.parametrize(
    ("timestamp", "code"),
    [
        ("garbage", "invalid_timestamp"),
        ("2015-02-29T08:27:58Z", "invalid_timestamp"),
        ("2015-03-02T08:60:58Z", "invalid_timestamp"),
        ("2015-03-02T24:27:58Z", "invalid_timestamp"),
        ("2015-03-02", "invalid_timestamp"),
        ("", "empty"),
        (iso(FUTURE_LIMIT + timedelta(seconds=1)), "timestamp_in_future"),
        ("2099-12-31T23:59:59Z", "timestamp_in_future"),
    ],
)
def test_fasttrack_bad_timestamp(ft_type: FtType, timestamp: str, code: str) -> None:
    payload = with_field(ft_example(ft_type), "timestamp", timestamp)
    assert errors(ft(ft_type, payload)) == [("timestamp", code)]


@pytest.mark.parametrize("ip", ["203.0.113.1", "2001:db8::7", "::1", "2001:DB8::7"])
def test_fasttrack_login_ip_accepted(ip: str) -> None:
    draft = accepted(ft(FtType.LOGIN_V2, with_field(ft_example(FtType.LOGIN_V2), "ip_address", ip)))
    assert draft.ip_address is not None


@pytest.mark.parametrize("ip", ["999.1.1.1", "203.0.113", "not an ip", "2001:db8::g"])
def test_fasttrack_login_ip_rejected(ip: str) -> None:
    payload = with_field(ft_example(FtType.LOGIN_V2), "ip_address", ip)
    assert errors(ft(FtType.LOGIN_V2, payload)) == [("ip_address", "invalid_ip")]


MONEY_TYPES = [FtType.CASINO, FtType.BONUS, FtType.PAYMENT]


@pytest.mark.parametrize("ft_type", MONEY_TYPES)
@pytest.mark.parametrize(
    ("currency", "crypto", "ok"),
    [
        ("XYZ", None, False),
        ("XYZ", "meta_false", False),
        ("USDT", None, False),
        ("eur", None, False),
        ("USDT", "meta", True),
        ("USDT", "top", True),
        ("BTC", "meta", True),
        ("USD", None, True),
    ],
)
def test_fasttrack_currency(ft_type: FtType, currency: str, crypto: str | None, ok: bool) -> None:
    payload = with_field(ft_example(ft_type), "currency", currency)
    if crypto == "meta":
        payload["meta"] = {"is_crypto": True}
    elif crypto == "meta_false":
        payload["meta"] = {"is_crypto": False}
    elif crypto == "top":
        payload["is_crypto"] = True
    if ok:
        assert accepted(ft(ft_type, payload)).currency == currency
    else:
        assert errors(ft(ft_type, payload)) == [("currency", "invalid_currency")]


@pytest.mark.parametrize(
    ("amount", "parts"),
    [
        (D("10.00"), {"wager_amount": D("3.50"), "bonus_wager_amount": D("1.00")}),
        (D("5.00"), {"wager_amount": D("5.01")}),
        (D("5.00"), {"bonus_wager_amount": D("4.99")}),
        (D("5.00"), {"locked_wager_amount": D("6")}),
        (D("0"), {"wager_amount": D("0.01")}),
        (
            D("5.00"),
            {"wager_amount": D("3.50"), "bonus_wager_amount": D("1.00"), "locked_wager_amount": 1},
        ),
    ],
)
def test_fasttrack_amount_mismatch(amount: Decimal, parts: dict[str, Any]) -> None:
    payload = {**ft_example(FtType.CASINO), "amount": amount}
    for part in WAGER_PARTS:
        payload.pop(part)
    payload.update(parts)
    assert errors(ft(FtType.CASINO, payload)) == [("amount", "amount_mismatch")]


@pytest.mark.parametrize(
    ("amount", "parts"),
    [
        (
            D("5.00"),
            {
                "wager_amount": D("3.50"),
                "bonus_wager_amount": D("1.00"),
                "locked_wager_amount": D("0.50"),
            },
        ),
        (D("0.3"), {"wager_amount": D("0.1"), "bonus_wager_amount": D("0.2")}),
        (D("0.30"), {"wager_amount": D("0.1"), "bonus_wager_amount": D("0.2")}),
        (5, {"wager_amount": D("5.00")}),
        (D("5.00"), {"bonus_wager_amount": 5}),
        (D("5.00"), {"locked_wager_amount": D("5")}),
        (D("7.25"), {}),
        (0, {"wager_amount": 0, "bonus_wager_amount": 0, "locked_wager_amount": 0}),
    ],
)
def test_fasttrack_amount_is_the_sum_of_its_parts(amount: Any, parts: dict[str, Any]) -> None:
    payload = {**ft_example(FtType.CASINO), "amount": amount}
    for part in WAGER_PARTS:
        payload.pop(part)
    payload.update(parts)
    assert accepted(ft(FtType.CASINO, payload)).amount == amount


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("ft_type", "field"),
    [
        (FtType.CASINO, "amount"),
        (FtType.CASINO, "balance_after"),
        (FtType.CASINO, "exchange_rate"),
        (FtType.BONUS, "amount"),
        (FtType.PAYMENT, "amount"),
    ],
)
def test_fasttrack_out_of_range(ft_type: FtType, field: str, value: Any) -> None:
    result = errors(ft(ft_type, with_field(ft_example(ft_type), field, value)))
    if value < 0 and field != "balance_after":
        assert result in ([(field, "out_of_range")], [(field, "below_minimum")])
    else:
        assert (field, "out_of_range") in result


@pytest.mark.parametrize(
    ("ft_type", "field"),
    [(FtType.CASINO, "game_id"), (FtType.CASINO, "vendor_id"), (FtType.PAYMENT, "payment_id")],
)
def test_fasttrack_id_number_beyond_the_decimal_context(ft_type: FtType, field: str) -> None:
    # ids typed ["string", "number"] go through the same number checks as amounts
    payload = with_field(ft_example(ft_type), field, D("1e1000000"))
    assert errors(ft(ft_type, payload)) == [(field, "out_of_range")]


@pytest.mark.parametrize("ft_type", list(FtType))
@pytest.mark.parametrize("value", NON_OBJECTS)
def test_fasttrack_non_object(ft_type: FtType, value: Any) -> None:
    assert errors(ft(ft_type, value)) == [("", "invalid_type")]


@pytest.mark.parametrize(("field", "value"), [("game_id", 1234), ("vendor_id", 77)])
def test_fasttrack_ids_may_be_numbers(field: str, value: int) -> None:
    # the casino schema types game_id and vendor_id as ["string", "number"]
    payload = with_field(ft_example(FtType.CASINO), field, value)
    payload.pop("vendor_name")
    draft = accepted(ft(FtType.CASINO, payload))
    assert str(value) in (draft.game_id, draft.vendor)


def test_codes_with_a_trailing_newline_are_rejected() -> None:
    from croupier.kit.money import is_currency

    assert not is_currency("BTC\n", is_crypto=True)
    assert is_currency("BTC", is_crypto=True)


@pytest.mark.parametrize(
    ("ft_type", "field"),
    [
        ("CASINO", "activity_id"),
        ("CASINO", "game_name"),
        ("CASINO", "round_id"),
        ("PAYMENT", "payment_id"),
        ("LOGIN_V2", "user_id"),
        ("CASINO", "user_bonus_id"),
    ],
)
def test_fasttrack_strings_are_bounded_like_the_columns_they_fill(ft_type: str, field: str) -> None:
    """Fast Track's schemas set no maxLength; PostgreSQL would refuse the row at commit."""
    from croupier.dialects.fasttrack import FtType, parse
    from croupier.ingest.examples import FASTTRACK
    from croupier.kit import jsoncodec

    event = jsoncodec.decode(jsoncodec.encode({**FASTTRACK[ft_type], field: "x" * 256}))
    errors = parse(FtType(ft_type), event, future_limit=FUTURE_LIMIT)
    assert isinstance(errors, list)
    assert (errors[0].field, errors[0].code) == (field, "too_long")


@pytest.mark.parametrize("parser", ["datapulse", "revvvs", "fasttrack"])
def test_nul_characters_are_refused_in_every_format(parser: str) -> None:
    from croupier.dialects import datapulse, fasttrack, revvvs
    from croupier.dialects.fasttrack import FtType
    from croupier.ingest.examples import DATAPULSE_DEPOSIT, FASTTRACK, REVVVS_REGISTRATION
    from croupier.kit import jsoncodec

    def nul(example: dict[str, object], field: str) -> object:
        return jsoncodec.decode(jsoncodec.encode({**example, field: "a\x00b"}))

    if parser == "datapulse":
        result = datapulse.parse(
            nul(DATAPULSE_DEPOSIT, "client_user_id"), future_limit=FUTURE_LIMIT
        )
    elif parser == "revvvs":
        result = revvvs.parse(
            nul(REVVVS_REGISTRATION, "player_external_ref"), future_limit=FUTURE_LIMIT
        )
    else:
        result = fasttrack.parse(
            FtType.LOGIN_V2, nul(FASTTRACK["LOGIN_V2"], "user_id"), future_limit=FUTURE_LIMIT
        )
    assert isinstance(result, list)
    assert result[0].code == "invalid_character"
