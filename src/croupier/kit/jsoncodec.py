"""JSON in and out. Numbers with a fraction or exponent decode straight to ``Decimal``."""

from __future__ import annotations

from decimal import Decimal, DecimalException
from typing import Any

import msgspec

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")
_sorted_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")
# API answers carry money as exact decimal strings, which no JSON client rounds.
_answer_encoder = msgspec.json.Encoder(decimal_format="string")


class InvalidJson(ValueError):
    """The bytes are not one well-formed JSON document."""


class NumberOutOfRange(InvalidJson):
    """Well-formed JSON holding an integer beyond what Python parses (over 4,300 digits)."""


def decode(data: bytes) -> Any:
    try:
        return _decoder.decode(data)
    except (
        msgspec.DecodeError,
        UnicodeDecodeError,
        RecursionError,
        ValueError,
        DecimalException,
    ) as exc:
        if "out of range" in str(exc):
            raise NumberOutOfRange(str(exc)) from None
        raise InvalidJson(str(exc)) from None


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def encode_answer(value: Any) -> bytes:
    """JSON for API answers: Decimals as strings."""
    return _answer_encoder.encode(value)


def encode_sorted(value: Any) -> bytes:
    """Deterministic encoding (sorted keys), used for content hashes."""
    return _sorted_encoder.encode(value)


def decode_text(text: str) -> Any:
    """Decode JSON read back from the store (trusted, already validated once)."""
    return _decoder.decode(text)
