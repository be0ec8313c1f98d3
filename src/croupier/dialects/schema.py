"""A small draft-07 subset interpreter, so Fast Track's published schemas drive validation.

It covers what those schemas use (``required``, ``type``, ``enum``, ``minimum``,
``minLength``, ``format``) and reports in Croupier's error codes. Timestamps are parsed
tolerantly, as Fast Track's own docs write them (``2015-03-02T8:27:58.10Z``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from croupier.dialects.fields import MAX_STRING, NUL_MESSAGE, Fields, is_number, type_name
from croupier.kit.money import amount_in_range

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": is_number,
    "integer": lambda v: is_number(v) and Decimal(v) == Decimal(v).to_integral_value(),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


# Fast Track's schemas set no maxLength, but the values land in bounded columns (and
# PostgreSQL enforces the bounds): the same limits as the other formats, wider for free text.
_MAX_LENGTH = {"note": 10_000, "user_agent": 1_000}


Check = Callable[[Fields, Any], Any]


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    required: tuple[str, ...]
    properties: dict[str, dict[str, Any]]
    # Each property's check, built once from the schema: interpreting the schema afresh for
    # every field of every event was half of what a Fast Track event cost to ingest.
    checks: tuple[tuple[str, Check], ...]

    @classmethod
    def load(cls, name: str, *, extra_enum: dict[str, tuple[str, ...]] | None = None) -> Schema:
        text = resources.files("croupier.dialects").joinpath(f"schemas/{name}.schema.json")
        document = json.loads(text.read_text(encoding="utf-8"))
        properties = {key: dict(prop) for key, prop in document["properties"].items()}
        for key, values in (extra_enum or {}).items():
            properties[key]["enum"] = [*properties[key]["enum"], *values]
        checks = tuple((key, _compile(key, prop)) for key, prop in properties.items())
        return cls(name, tuple(document.get("required", ())), properties, checks)

    def check(self, fields: Fields) -> dict[str, Any]:
        """Validate the reader's object; return the known fields, parsed (times, decimals)."""
        data = fields.data
        out: dict[str, Any] = {}
        for key in self.required:
            if data.get(key) is None:
                fields.error(key, "missing", "is required")
        for key, check in self.checks:
            value = data.get(key)
            if value is not None:
                parsed = check(fields, value)
                if parsed is not None:
                    out[key] = parsed
        return out


def _compile(key: str, prop: dict[str, Any]) -> Check:
    """One property's check: the common valid cases answered inline, the rest (and every
    error) by ``_check_one``, which reads the schema in full."""
    declared = prop.get("type", [])
    types = (declared,) if isinstance(declared, str) else tuple(declared)
    limit = _MAX_LENGTH.get(key, MAX_STRING)
    min_length = prop.get("minLength", 0)
    enum = frozenset(prop["enum"]) if "enum" in prop else None
    fmt = prop.get("format")
    strings = not types or "string" in types
    numbers = not types or "number" in types
    booleans = not types or "boolean" in types
    minimum = prop.get("minimum")

    def check(fields: Fields, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            if (
                strings
                and min_length <= len(value) <= limit
                and (enum is None or value in enum)
                and "\x00" not in value
                and not (min_length and value.isspace())
            ):
                if fmt is None:
                    return value
                if fmt == "date-time":
                    return fields.iso_time(key)
        elif kind is Decimal or kind is int:
            if numbers:
                amount = value if kind is Decimal else Decimal(value)
                if amount_in_range(amount) and (minimum is None or amount >= minimum):
                    return amount
        elif kind is bool and booleans:
            return value
        return _check_one(fields, key, value, prop, types)

    return check


def _check_one(
    fields: Fields, key: str, value: Any, prop: dict[str, Any], types: tuple[str, ...]
) -> Any:
    if types and not any(_TYPE_CHECKS[t](value) for t in types):
        fields.error(key, "invalid_type", f"must be {' or '.join(types)}, got {type_name(value)}")
        return None
    if is_number(value):
        value = Decimal(value)
        if not amount_in_range(value):
            fields.error(key, "out_of_range", "must be below 1e18 with at most 18 decimals")
            return None
        if "minimum" in prop and value < prop["minimum"]:
            fields.error(key, "below_minimum", f"must be at least {prop['minimum']}")
            return None
    if isinstance(value, str):
        if "\x00" in value:
            fields.error(key, "invalid_character", NUL_MESSAGE)
            return None
        limit = _MAX_LENGTH.get(key, MAX_STRING)
        if len(value) > limit:
            fields.error(key, "too_long", f"must be at most {limit} characters")
            return None
        if len(value) < prop.get("minLength", 0) or (prop.get("minLength") and not value.strip()):
            fields.error(key, "empty", "must not be empty")
            return None
        if "enum" in prop and value not in prop["enum"]:
            fields.error(key, "invalid_value", f"must be one of {', '.join(prop['enum'])}")
            return None
        fmt = prop.get("format")
        if fmt == "date-time":
            return fields.iso_time(key)
        if fmt == "ipv4,ipv6":
            return fields.ip(key)
    return value
