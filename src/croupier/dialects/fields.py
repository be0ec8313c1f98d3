"""Typed reads of one JSON object's fields, collecting errors instead of raising."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from croupier.kit.errors import FieldError
from croupier.kit.money import amount_in_range, is_currency
from croupier.kit.timeparse import parse_iso, parse_unix

MAX_STRING = 255
# PostgreSQL text cannot hold U+0000; refuse it on every store, so a payload means the same
# wherever it is stored (and one bad value cannot fail a whole group commit).
NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


@lru_cache(maxsize=65536)  # players come back from the same addresses
def _normal_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


class Fields:
    """Reads one event object. Each read returns the value or None and records any error."""

    __slots__ = ("data", "errors", "future_limit", "prefix")

    def __init__(self, data: dict[str, Any], *, future_limit: datetime, prefix: str = "") -> None:
        self.data = data
        self.errors: list[FieldError] = []
        self.future_limit = future_limit
        self.prefix = prefix

    def nested(self, name: str) -> Fields:
        """A reader over an optional sub-object (e.g. ``metadata``); errors go to this reader."""
        value = self.data.get(name)
        sub = Fields({}, future_limit=self.future_limit, prefix=f"{self.prefix}{name}.")
        sub.errors = self.errors
        if value is None:
            return sub
        if not isinstance(value, dict):
            self.error(name, "invalid_type", f"must be an object, got {type_name(value)}")
            return sub
        sub.data = value
        return sub

    def error(self, name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.prefix}{name}", code, message))

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            self.error(name, "missing", "is required")
        return value

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        max_length: int = MAX_STRING,
        allow_number: bool = False,
    ) -> str | None:
        value = self.data.get(name)
        # The common case first: a plain, non-blank string of a fitting length.
        if (
            type(value) is str
            and 0 < len(value) <= max_length
            and not value.isspace()
            and "\x00" not in value
        ):
            return value
        if value is None:
            if required:
                self.error(name, "missing", "is required")
            return None
        if allow_number and is_number(value):
            value = str(value)
        if not isinstance(value, str):
            self.error(name, "invalid_type", f"must be a string, got {type_name(value)}")
            return None
        if not value.strip():
            self.error(name, "empty", "must not be empty")
            return None
        if "\x00" in value:
            self.error(name, "invalid_character", NUL_MESSAGE)
            return None
        if len(value) > max_length:
            self.error(name, "too_long", f"must be at most {max_length} characters")
            return None
        return value

    def choice(self, name: str, choices: Collection[str], *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is not None and value not in choices:
            self.error(name, "invalid_value", f"must be one of {', '.join(sorted(choices))}")
            return None
        return value

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.error(name, "invalid_type", f"must be true or false, got {type_name(value)}")
            return None
        return value

    def obj(self, name: str, *, required: bool = False) -> dict[str, Any] | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(name, "invalid_type", f"must be an object, got {type_name(value)}")
            return None
        return value

    def amount(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
    ) -> Decimal | None:
        value = self._get(name, required)
        if value is None:
            return None
        if type(value) is not Decimal and not is_number(value):
            self.error(name, "invalid_type", f"must be a number, got {type_name(value)}")
            return None
        amount = value if type(value) is Decimal else Decimal(value)
        if not amount_in_range(amount):
            self.error(name, "out_of_range", "must be below 1e18 with at most 18 decimals")
            return None
        if minimum is not None and amount < minimum:
            self.error(name, "below_minimum", f"must be at least {minimum}")
            return None
        if maximum is not None and amount > maximum:
            self.error(name, "above_maximum", f"must be at most {maximum}")
            return None
        return amount

    def currency(self, name: str, *, required: bool = False, is_crypto: bool = False) -> str | None:
        value = self.string(name, required=required, max_length=10)
        if value is None:
            return None
        if not is_currency(value, is_crypto=is_crypto):
            expected = "a 2-10 character crypto code" if is_crypto else "an ISO 4217 code"
            self.error(name, "invalid_currency", f"{value!r} is not {expected}")
            return None
        return value

    def ip(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required, max_length=64)
        if value is None:
            return None
        normal = _normal_ip(value)
        if normal is None:
            self.error(name, "invalid_ip", f"{value!r} is not an IPv4 or IPv6 address")
        return normal

    def _check_future(self, name: str, moment: datetime) -> datetime | None:
        if moment > self.future_limit:
            self.error(name, "timestamp_in_future", "is more than 24 hours in the future")
            return None
        return moment

    def iso_time(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.string(name, required=required, max_length=64)
        if value is None:
            return None
        moment = parse_iso(value)
        if moment is None:
            self.error(name, "invalid_timestamp", f"{value!r} is not an ISO 8601 / RFC 3339 time")
            return None
        return self._check_future(name, moment)

    def unix_time(self, name: str, *, required: bool = False) -> datetime | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not is_number(value):
            self.error(name, "invalid_type", f"must be a Unix time number, got {type_name(value)}")
            return None
        moment = parse_unix(value)
        if moment is None:
            self.error(name, "invalid_timestamp", "is not a Unix time in seconds or milliseconds")
            return None
        return self._check_future(name, moment)
