"""Timestamps as senders write them, parsed to aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache

# RFC 3339 / ISO 8601 date-time, tolerant of what real senders emit: a one-digit hour
# (Fast Track's own example ``2015-03-02T8:27:58.10Z``), a space instead of ``T``,
# any number of fraction digits, ``z``, offsets with or without a colon, no offset (UTC).
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$",
    re.ASCII,
)

# Unix times above this are milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973.
_MILLIS_THRESHOLD = 100_000_000_000


# Events of one moment share their timestamp text (a batch, a busy second): parsed once.
@lru_cache(maxsize=4096)
def parse_iso(text: str) -> datetime | None:
    match = _ISO.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(hours=24):
            return None
        tz = timezone(-offset if sign == "-" else offset)
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
        )
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def parse_unix(value: int | Decimal) -> datetime | None:
    """Unix seconds or milliseconds, told apart by size."""
    if type(value) is int and 0 < value < _MILLIS_THRESHOLD:
        # Whole seconds, the common case: exact as they are, no Decimal needed.
        return _from_seconds(value)
    seconds = Decimal(value)
    if not seconds.is_finite() or seconds.adjusted() > 15:  # beyond any real time
        return None
    if seconds >= _MILLIS_THRESHOLD:
        seconds /= 1000
    if seconds <= 0:
        return None
    return _from_seconds(float(seconds))


def _from_seconds(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def utcnow() -> datetime:
    return datetime.now(UTC)
