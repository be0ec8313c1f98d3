"""Properties: whatever JSON arrives, a parser answers with an event or with field errors.

A parser that raises turns one bad event into a 500 for the whole request; DESIGN.md wants
every event answered with ``accepted`` or machine-readable errors instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import spec_examples as ex
from croupier.dialects import datapulse, fasttrack, revvvs
from croupier.dialects.fasttrack import FtType
from croupier.events.model import EventDraft
from croupier.kit import jsoncodec
from croupier.kit.errors import FieldError
from croupier.kit.money import amount_in_range
from spec_examples import FUTURE_LIMIT, load

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    # the same examples on every run: a failure here is a finding, never a flake
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Parser = Callable[[Any], EventDraft | list[FieldError]]


def _datapulse(value: Any) -> EventDraft | list[FieldError]:
    return datapulse.parse(value, future_limit=FUTURE_LIMIT)


def _revvvs(value: Any) -> EventDraft | list[FieldError]:
    return revvvs.parse(value, future_limit=FUTURE_LIMIT)


def _fasttrack(ft_type: FtType) -> Parser:
    def parse(value: Any) -> EventDraft | list[FieldError]:
        return fasttrack.parse(ft_type, value, future_limit=FUTURE_LIMIT)

    return parse


PARSERS: dict[str, Parser] = {
    "datapulse": _datapulse,
    "revvvs": _revvvs,
    **{f"fasttrack-{t.value}": _fasttrack(t) for t in FtType},
}

# The valid examples each parser starts from when one field is mutated.
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "datapulse": [load(text) for text in ex.DATAPULSE_EXAMPLES.values()],
    "revvvs": [
        load(text) for text in [*ex.REVVVS_EXAMPLES.values(), *ex.REVVVS_TABLE_EXAMPLES.values()]
    ],
    **{
        f"fasttrack-{t.value}": [
            load(text) for ft_type, text in ex.FASTTRACK_EXAMPLES.values() if ft_type == t.value
        ]
        for t in FtType
    },
}


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


_ALL_EXAMPLES = [payload for payloads in EXAMPLES.values() for payload in payloads]
# Keys and strings the parsers look at, so arbitrary objects often hit a real field.
KNOWN_STRINGS = sorted(
    {leaf for payload in _ALL_EXAMPLES for leaf in _leaves(payload) if isinstance(leaf, str)}
    | {
        "win",
        "loss",
        "bet_result",
        "bet_result_amount",
        "is_crypto",
        "metadata",
        "meta",
        "Loss",
        "Rollback",
        "Debit",
        "Ongoing",
        "2015-03-02T8:27:58.10Z",
        "2099-01-01T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "USDT",
        "XYZ",
        "::1",
        "",
        " ",
    }
)

# JSON numbers as ``jsoncodec.decode`` makes them: ints of any size, and Decimals, including
# exponents far outside the decimal context (decode(b"1e1000000") is Decimal("1E+1000000")).
json_numbers = st.one_of(
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(
        lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
        st.integers(-(10**20), 10**20),
        # everyday exponents, and ones beyond the context's Emax (999999) but within what
        # Decimal can hold (|exponent| < 10**18)
        st.one_of(st.integers(-30, 30), st.integers(-(10**17), 10**17)),
    ),
    st.sampled_from([0, -1, 1702963200, 1702963200000, Decimal("5.00"), Decimal("-5.00")]),
)
json_strings = st.one_of(st.text(max_size=20), st.sampled_from(KNOWN_STRINGS))
json_keys = st.one_of(st.sampled_from(KNOWN_STRINGS), st.text(max_size=10))
json_scalars = st.one_of(st.none(), st.booleans(), json_numbers, json_strings)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(json_keys, children, max_size=6),
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A valid example with one field dropped, replaced, renumbered or added (top level or one
    level in)."""
    payload = dict(draw(st.sampled_from(EXAMPLES[name])))
    target = payload
    nested = [key for key, value in payload.items() if isinstance(value, dict)]
    if nested and draw(st.booleans()):
        key = draw(st.sampled_from(nested))
        target = payload[key] = dict(payload[key])
    numeric = sorted(key for key, value in target.items() if isinstance(value, int | Decimal))
    operation = draw(st.sampled_from(["drop", "replace", "add", "renumber"]))
    if operation == "renumber" and numeric:
        # another number where a number was: exercises the range checks
        target[draw(st.sampled_from(numeric))] = draw(json_numbers)
    elif operation == "add" or not target:
        target[draw(json_keys)] = draw(json_values)
    elif operation == "drop":
        del target[draw(st.sampled_from(sorted(target)))]
    else:
        # numbers half the time: most of what a parser checks closely is numeric
        replacement = st.one_of(json_numbers, json_values)
        target[draw(st.sampled_from(sorted(target)))] = draw(replacement)
    return payload


def check_answer(result: Any, value: Any) -> None:
    """An accepted, well-formed event, or a non-empty list of field errors."""
    if isinstance(result, EventDraft):
        assert isinstance(value, dict)
        assert result.raw is value
        assert isinstance(result.player_ref, str)
        assert result.player_ref.strip()
        assert isinstance(result.idempotency_key, str)
        assert result.idempotency_key
        assert result.occurred_at.utcoffset() == timedelta(0)
        assert result.occurred_at <= FUTURE_LIMIT
        for column in ("amount", "exchange_rate", "stake", "ggr_delta"):
            number = getattr(result, column)
            assert number is None or (isinstance(number, Decimal) and amount_in_range(number))
        return
    assert isinstance(result, list)
    assert result, "rejected without a reason"
    for error in result:
        assert isinstance(error, FieldError)
        assert isinstance(error.field, str)
        assert isinstance(error.code, str)
        assert error.code
        assert isinstance(error.message, str)


@pytest.mark.parametrize("name", sorted(PARSERS))
@PROPERTY
@given(value=json_values)
@example(value={})
@example(value=[])
@example(value=None)
def test_parser_answers_any_json_value(name: str, value: Any) -> None:
    check_answer(PARSERS[name](value), value)


@pytest.mark.parametrize("name", sorted(PARSERS))
@PROPERTY
@given(data=st.data())
def test_parser_answers_a_mutated_example(name: str, data: st.DataObject) -> None:
    value = data.draw(mutated(name), label="payload")
    check_answer(PARSERS[name](value), value)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_parser_has_examples(name: str) -> None:
    assert EXAMPLES[name]
    for payload in EXAMPLES[name]:
        assert isinstance(PARSERS[name](payload), EventDraft)


# ---------------------------------------------------------------------------------------------
# jsoncodec.decode: returns, or raises InvalidJson; nothing else
# ---------------------------------------------------------------------------------------------


def _no_floats(value: Any) -> bool:
    return all(not isinstance(leaf, float) for leaf in _leaves(value))


def _decode(data: bytes) -> None:
    try:
        value = jsoncodec.decode(data)
    except jsoncodec.InvalidJson:
        return
    assert _no_floats(value)


json_number_text = st.from_regex(
    r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,25})?", fullmatch=True
)
example_texts = st.sampled_from(
    [
        *ex.DATAPULSE_EXAMPLES.values(),
        *ex.REVVVS_EXAMPLES.values(),
        *(text for _, text in ex.FASTTRACK_EXAMPLES.values()),
    ]
)


@st.composite
def damaged_json(draw: st.DrawFn) -> bytes:
    """A spec example with a slice replaced by arbitrary bytes (or removed)."""
    data = draw(example_texts).encode()
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 12)))
    return data[:start] + draw(st.binary(max_size=8)) + data[end:]


@PROPERTY
@given(data=st.binary(max_size=200))
@example(data=b"")
@example(data=b"\xff\xfe")
@example(data=b"[" * 100_000)
@example(data=b"1" * 5000)
def test_decode_arbitrary_bytes(data: bytes) -> None:
    _decode(data)


@PROPERTY
@given(data=damaged_json())
def test_decode_damaged_examples(data: bytes) -> None:
    _decode(data)


@PROPERTY
@given(text=json_number_text)
@example(text="1e1000000")
@example(text="1e99999999999999999999")
@example(text="-1.5E-99999999999999999999")
def test_decode_any_json_number(text: str) -> None:
    _decode(text.encode())
    _decode(f'{{"amount": {text}}}'.encode())


@PROPERTY
@given(data=damaged_json())
def test_decoded_damaged_examples_are_answered(data: bytes) -> None:
    # bytes to answer, end to end: decode, then every parser
    try:
        value = jsoncodec.decode(data)
    except jsoncodec.InvalidJson:
        return
    for parse in PARSERS.values():
        check_answer(parse(value), value)
