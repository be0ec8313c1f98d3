"""Exchange rates an operator loads (CSV through the CLI, JSON through the API).

A rate says: on ``day``, 1 unit of ``currency`` = ``rate`` units of ``quote``. Reports use
only the rate of the event's own day and pair; a missing rate leaves the amount unvalued
rather than borrowing another day's rate or inverting the opposite pair.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from croupier.kit import rows
from croupier.kit.money import amount_in_range, decimal_text, is_currency
from croupier.reports.models import FxRate

CSV_HEADER = ("date", "currency", "quote", "rate")
MAX_RATES = 100_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
FX_RATES: Table = FxRate.__table__  # type: ignore[assignment]
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class Rate:
    day: date
    currency: str
    quote: str
    rate: Decimal


class FxError(ValueError):
    """Rates that cannot be loaded; ``details`` name each problem (by line or index)."""

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.details = details


def parse_csv(text: str) -> list[Rate]:
    """Rates from CSV text with the header ``date,currency,quote,rate``; every bad line
    is reported (line 1 is the header) and nothing is returned unless all are good."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(cell.strip().lower() for cell in header) != CSV_HEADER:
        raise FxError(
            "not an exchange-rate CSV",
            [_problem("line", 1, "header", "invalid_header", "expected date,currency,quote,rate")],
        )
    found: list[tuple[int, Rate]] = []
    details: list[dict[str, Any]] = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank lines are harmless
        if len(record) != len(CSV_HEADER):
            details.append(
                _problem("line", line, "line", "invalid_line", "expected 4 comma-separated values")
            )
            continue
        item = dict(zip(CSV_HEADER, (cell.strip() for cell in record), strict=True))
        rate, problems = _check(item)
        details.extend(_problem("line", line, *problem) for problem in problems)
        if rate is not None:
            found.append((line, rate))
    return _finish(found, details, where="line")


def parse_items(items: Any) -> list[Rate]:
    """Rates from the API body's ``rates`` list of ``{date, currency, quote, rate}``."""
    if not isinstance(items, list) or not items:
        raise FxError(
            "rates must be a non-empty list",
            [{"field": "rates", "code": "invalid_value", "message": "a non-empty list"}],
        )
    found: list[tuple[int, Rate]] = []
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            details.append(_problem("index", index, "", "invalid_item", "expected an object"))
            continue
        rate, problems = _check(item)
        details.extend(_problem("index", index, *problem) for problem in problems)
        if rate is not None:
            found.append((index, rate))
    return _finish(found, details, where="index")


def store(session: Session, *, operator_id: str, rates: Sequence[Rate]) -> int:
    """Insert the rates, replacing any the operator already has for the same day and pair."""
    values = [
        {
            "operator_id": operator_id,
            "day": rate.day,
            "currency": rate.currency,
            "quote_currency": rate.quote,
            "rate": rate.rate,
        }
        for rate in rates
    ]
    for start in range(0, len(values), 1000):
        rows.upsert(session, FX_RATES, values[start : start + 1000])
    return len(values)


def rates_into(
    session: Session, *, operator_id: str, quote: str, days: Iterable[date]
) -> dict[tuple[date, str], Decimal]:
    """The operator's rates into ``quote`` on the given days, by (day, currency)."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    query = select(FxRate.day, FxRate.currency, FxRate.rate).where(
        FxRate.operator_id == operator_id,
        FxRate.quote_currency == quote,
        FxRate.day >= wanted[0],
        FxRate.day <= wanted[-1],
    )
    return {(row.day, row.currency): row.rate for row in session.execute(query)}


def list_rates(
    session: Session, *, operator_id: str, first: date, last: date
) -> list[dict[str, Any]]:
    query = (
        select(FxRate)
        .where(FxRate.operator_id == operator_id, FxRate.day >= first, FxRate.day <= last)
        .order_by(FxRate.day, FxRate.currency, FxRate.quote_currency)
    )
    return [
        {
            "date": rate.day.isoformat(),
            "currency": rate.currency,
            "quote": rate.quote_currency,
            "rate": decimal_text(rate.rate),
        }
        for rate in session.scalars(query)
    ]


# -- validation -------------------------------------------------------------------------


def _check(item: Mapping[str, Any]) -> tuple[Rate | None, list[tuple[str, str, str]]]:
    problems: list[tuple[str, str, str]] = []
    day = _day(item.get("date"), problems)
    currency = _currency(item.get("currency"), "currency", problems)
    quote = _currency(item.get("quote"), "quote", problems)
    rate = _rate(item.get("rate"), problems)
    if currency is not None and currency == quote:
        problems.append(("quote", "same_currency", "quote must differ from currency"))
    if problems or day is None or currency is None or quote is None or rate is None:
        return None, problems
    return Rate(day, currency, quote, rate), problems


def _day(value: Any, problems: list[tuple[str, str, str]]) -> date | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(("date", "invalid_date", "expected an ISO date, YYYY-MM-DD"))
    return None


def _currency(value: Any, field: str, problems: list[tuple[str, str, str]]) -> str | None:
    if isinstance(value, str) and is_currency(value.upper(), is_crypto=False):
        return value.upper()
    problems.append((field, "invalid_currency", f"{value!r} is not an ISO 4217 code"))
    return None


def _rate(value: Any, problems: list[tuple[str, str, str]]) -> Decimal | None:
    parsed: Decimal | None = None
    if isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, int) and not isinstance(value, bool):
        parsed = Decimal(value)
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            parsed = None
    if parsed is not None and parsed > 0 and amount_in_range(parsed):
        return parsed
    problems.append(("rate", "invalid_rate", "expected a positive decimal number"))
    return None


def _problem(where: str, position: int, field: str, code: str, message: str) -> dict[str, Any]:
    return {where: position, "field": field, "code": code, "message": message}


def _finish(
    found: list[tuple[int, Rate]], details: list[dict[str, Any]], *, where: str
) -> list[Rate]:
    if len(found) + len(details) > MAX_RATES:
        raise FxError(
            f"at most {MAX_RATES} rates per load",
            [{"field": "rates", "code": "too_many", "message": f"at most {MAX_RATES}"}],
        )
    # One load holds one rate per day and pair: two different ones would be a guess.
    seen: dict[tuple[date, str, str], Decimal] = {}
    unique: list[Rate] = []
    for position, rate in found:
        pair = (rate.day, rate.currency, rate.quote)
        if pair not in seen:
            seen[pair] = rate.rate
            unique.append(rate)
        elif seen[pair] != rate.rate:
            details.append(
                _problem(
                    where,
                    position,
                    "rate",
                    "conflicting_rate",
                    f"another {rate.currency}/{rate.quote} rate for {rate.day} in this load",
                )
            )
    if details:
        details.sort(key=lambda detail: detail[where])
        raise FxError(f"{len(details)} invalid rate(s); nothing was loaded", details)
    if not unique:
        raise FxError(
            "no rates to load", [{"field": "rates", "code": "empty", "message": "no rates"}]
        )
    return unique
