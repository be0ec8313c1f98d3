"""GGR and payments per player per day: the fold the projection applies, and the reports.

Valuation. A Fast Track event carries ``exchange_rate``, documented as "the exchange rate
at the timestamp". We read it as the rate from the event's currency into the operator's
reporting (base) currency at that moment, so its reporting value is amount * exchange_rate,
used exactly as given. Every other amount stays in its own currency until read, when the
fx_rates row for its day and currency into the reporting currency values it (the same
currency is worth 1); without such a row it is reported as unvalued, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Context, Decimal, localcontext
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from croupier.kit.money import decimal_text
from croupier.reports import fx
from croupier.reports.models import MEASURES, PlayerDay

ZERO = Decimal(0)
# Sums and products of 18-digit amounts and rates stay exact well within this precision.
EXACT = Context(prec=200)
GROUPS = ("brand", "game_type", "vendor")
_GROUP_COLUMN = {"brand": "brand_id", "game_type": "game_type", "vendor": "vendor"}
PlayerDayKey = tuple[str, str, str, date, str, str, str]
_COUNTS = ("bets", "deposits", "withdrawals")
_MONEY = tuple(f"{measure}{part}" for measure in MEASURES for part in ("", "_rated", "_unrated"))


@dataclass
class Delta:
    """What a batch adds to one player-day row; every part is a plain sum."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    money: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(_MONEY, ZERO))


def fold(events: Iterable[Any]) -> dict[PlayerDayKey, Delta]:
    """Each counted event's contribution, summed by player-day key."""
    deltas: dict[PlayerDayKey, Delta] = defaultdict(Delta)
    with localcontext(EXACT):
        for event in events:
            contribution = _contribution(event)
            if contribution is None:
                continue
            key, counts, money = contribution
            delta = deltas[key]
            for name, count in counts.items():
                delta.counts[name] += count
            rate = event_rate(event)
            for measure, amount in money.items():
                delta.money[measure] += amount
                if rate is None:
                    delta.money[f"{measure}_unrated"] += amount
                else:
                    delta.money[f"{measure}_rated"] += amount * rate
    return dict(deltas)


def merge(key: PlayerDayKey, existing: dict[str, Any] | None, delta: Delta) -> dict[str, Any]:
    """The stored row plus the batch's delta."""
    operator_id, brand_id, player_ref, day, currency, game_type, vendor = key
    row: dict[str, Any] = {
        "operator_id": operator_id,
        "brand_id": brand_id,
        "player_ref": player_ref,
        "day": day,
        "currency": currency,
        "game_type": game_type,
        "vendor": vendor,
    }
    with localcontext(EXACT):
        for name, count in delta.counts.items():
            row[name] = (existing[name] if existing else 0) + count
        for name, amount in delta.money.items():
            row[name] = (existing[name] if existing else ZERO) + amount
    return row


def event_rate(event: Any) -> Decimal | None:
    """The event's own rate into the reporting currency: Fast Track's, when positive (a 0
    rate values nothing; the fx_rates table may still value the amount)."""
    rate: Decimal | None = event.exchange_rate
    if event.format == "fasttrack" and rate is not None and rate > 0:
        return rate
    return None


def _contribution(
    event: Any,
) -> tuple[PlayerDayKey, dict[str, int], dict[str, Decimal]] | None:
    counts: dict[str, int] = {}
    money: dict[str, Decimal] = {}
    game_type, vendor = event.game_type or "", event.vendor or ""
    if event.kind == "bet":
        # A rolled-back bet (Fast Track) un-counts the bet it repeats; stake and GGR are
        # already negated by the format.
        counts["bets"] = -1 if event.status == "rollback" else 1
        money["turnover"] = event.stake or ZERO
        money["ggr"] = event.ggr_delta or ZERO
    elif event.kind == "settlement":
        money["ggr"] = event.ggr_delta or ZERO
    elif event.kind in ("deposit", "withdrawal") and event.status == "approved":
        # Payments have no game; a payment's vendor is its payment provider, not a game
        # vendor, so it is kept out of the vendor dimension.
        game_type = vendor = ""
        plural = "deposits" if event.kind == "deposit" else "withdrawals"
        counts[plural] = 1
        money[f"{plural}_amount"] = event.amount or ZERO
    else:
        return None
    key = (
        event.operator_id,
        event.brand_id,
        event.player_ref,
        event.occurred_at.date(),
        event.currency or "",
        game_type,
        vendor,
    )
    return key, counts, money


# -- reading ----------------------------------------------------------------------------


@dataclass
class _Bucket:
    players: set[tuple[str, str]] = field(default_factory=set)
    depositors: set[tuple[str, str]] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    valued: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(MEASURES, ZERO))
    unvalued: dict[str, dict[str, Decimal]] = field(default_factory=dict)


def daily_report(
    session: Session,
    *,
    operator_id: str,
    reporting_currency: str,
    first: date,
    last: date,
    group_by: str | None,
    after: tuple[date, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[date, str] | None]:
    """One row per (day, group) in [first, last], after the cursor; and the next cursor."""
    start = max(first, after[0]) if after else first
    query = select(PlayerDay).where(
        PlayerDay.operator_id == operator_id, PlayerDay.day >= start, PlayerDay.day <= last
    )
    facts = list(session.scalars(query))
    rates = fx.rates_into(
        session,
        operator_id=operator_id,
        quote=reporting_currency,
        days=(fact.day for fact in facts),
    )
    column = _GROUP_COLUMN[group_by] if group_by else None
    buckets: dict[tuple[date, str], _Bucket] = defaultdict(_Bucket)
    with localcontext(EXACT):
        for fact in facts:
            group = getattr(fact, column) if column else ""
            if after is not None and (fact.day, group) <= after:
                continue
            bucket = buckets[(fact.day, group)]
            player = (fact.brand_id, fact.player_ref)
            bucket.players.add(player)
            if fact.deposits > 0:
                bucket.depositors.add(player)
            for name in _COUNTS:
                bucket.counts[name] += getattr(fact, name)
            rate = _rate(rates, fact, reporting_currency)
            for measure, valued, unvalued in _values(fact, rate):
                bucket.valued[measure] += valued
                if unvalued:
                    per_currency = bucket.unvalued.setdefault(fact.currency, {})
                    per_currency[measure] = per_currency.get(measure, ZERO) + unvalued
    keys = sorted(buckets)[: limit + 1]
    more = len(keys) > limit
    keys = keys[:limit]
    report = [_report_row(day, group, buckets[(day, group)], group_by) for day, group in keys]
    return report, (keys[-1] if more else None)


def player_days(
    session: Session,
    *,
    operator_id: str,
    reporting_currency: str,
    player_ref: str,
    brand_id: str | None,
    first: date,
    last: date,
) -> list[dict[str, Any]]:
    """A player's days, per brand and event currency: amounts in the event currency and,
    where a rate exists, in the reporting currency."""
    query = select(PlayerDay).where(
        PlayerDay.operator_id == operator_id,
        PlayerDay.player_ref == player_ref,
        PlayerDay.day >= first,
        PlayerDay.day <= last,
    )
    if brand_id is not None:
        query = query.where(PlayerDay.brand_id == brand_id)
    facts = list(session.scalars(query))
    rates = fx.rates_into(
        session,
        operator_id=operator_id,
        quote=reporting_currency,
        days=(fact.day for fact in facts),
    )
    merged: dict[tuple[date, str, str], dict[str, Any]] = {}
    with localcontext(EXACT):
        for fact in facts:
            key = (fact.day, fact.brand_id, fact.currency)
            entry = merged.setdefault(key, _empty_player_day())
            rate = _rate(rates, fact, reporting_currency)
            for name in _COUNTS:
                entry["counts"][name] += getattr(fact, name)
            for measure, valued, unvalued in _values(fact, rate):
                entry["native"][measure] += getattr(fact, measure)
                entry["reporting"][measure] += valued
                entry["unvalued"][measure] += unvalued
    return [
        _player_day_row(day, brand, currency, merged[(day, brand, currency)], reporting_currency)
        for day, brand, currency in sorted(merged)
    ]


def has_player(
    session: Session, *, operator_id: str, player_ref: str, brand_id: str | None
) -> bool:
    """Whether the player has any day at all (under the brand, if given)."""
    query = select(PlayerDay.day).where(
        PlayerDay.operator_id == operator_id, PlayerDay.player_ref == player_ref
    )
    if brand_id is not None:
        query = query.where(PlayerDay.brand_id == brand_id)
    return session.execute(query.limit(1)).first() is not None


def _rate(rates: dict[tuple[date, str], Decimal], fact: PlayerDay, quote: str) -> Decimal | None:
    if fact.currency == quote:
        return Decimal(1)
    return rates.get((fact.day, fact.currency))


def _values(fact: PlayerDay, rate: Decimal | None) -> Iterator[tuple[str, Decimal, Decimal]]:
    """Per measure: the reporting-currency value, and the event-currency part left unvalued."""
    for measure in MEASURES:
        rated: Decimal = getattr(fact, f"{measure}_rated")
        unrated: Decimal = getattr(fact, f"{measure}_unrated")
        if rate is None:
            yield measure, rated, unrated
        else:
            yield measure, rated + unrated * rate, ZERO


def _report_row(day: date, group: str, bucket: _Bucket, group_by: str | None) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "group_by": group_by,
        "group": group if group_by else None,
        "players": len(bucket.players),
        "depositors": len(bucket.depositors),
        "deposits": bucket.counts["deposits"],
        "deposits_amount": decimal_text(bucket.valued["deposits_amount"]),
        "withdrawals": bucket.counts["withdrawals"],
        "withdrawals_amount": decimal_text(bucket.valued["withdrawals_amount"]),
        "bets": bucket.counts["bets"],
        "turnover": decimal_text(bucket.valued["turnover"]),
        "ggr": decimal_text(bucket.valued["ggr"]),
        "unvalued": {
            currency: {measure: decimal_text(amount) for measure, amount in measures.items()}
            for currency, measures in sorted(bucket.unvalued.items())
        },
    }


def _empty_player_day() -> dict[str, Any]:
    return {
        "counts": dict.fromkeys(_COUNTS, 0),
        "native": dict.fromkeys(MEASURES, ZERO),
        "reporting": dict.fromkeys(MEASURES, ZERO),
        "unvalued": dict.fromkeys(MEASURES, ZERO),
    }


def _player_day_row(
    day: date, brand_id: str, currency: str, entry: dict[str, Any], reporting_currency: str
) -> dict[str, Any]:
    def texts(amounts: dict[str, Decimal]) -> dict[str, str | None]:
        return {measure: decimal_text(amount) for measure, amount in amounts.items()}

    return {
        "day": day.isoformat(),
        "brand_id": brand_id,
        "currency": currency,
        **entry["counts"],
        "amounts": texts(entry["native"]),
        "reporting_currency": reporting_currency,
        "reporting_amounts": texts(entry["reporting"]),
        "unvalued": {
            measure: decimal_text(amount) for measure, amount in entry["unvalued"].items() if amount
        },
    }
