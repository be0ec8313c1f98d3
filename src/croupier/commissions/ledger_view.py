"""A player's NGR ledger for one month, as the admin API shows it: every figure with the
events behind it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from croupier.commissions import ledger
from croupier.kit.money import decimal_text
from croupier.reports.daily import EXACT

ZERO = Decimal(0)
# Event ids listed per (day, brand, component); the lines endpoint pages through all.
MAX_EVENT_IDS = 50


@dataclass
class _Sum:
    """Lines summed: per currency, the valued part in the reporting currency, the rest."""

    amounts: dict[str, Decimal] = field(default_factory=dict)
    value: Decimal = ZERO
    unvalued: dict[str, Decimal] = field(default_factory=dict)
    event_ids: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0

    def add(self, booked: dict[str, Any], value: Decimal | None) -> None:
        currency, amount = booked["currency"], booked["amount"]
        self.amounts[currency] = self.amounts.get(currency, ZERO) + amount
        if value is None:
            self.unvalued[currency] = self.unvalued.get(currency, ZERO) + amount
        else:
            self.value += value
        self.event_ids.append((booked["seq"], booked["event_id"]))
        self.lines += 1

    def merge(self, other: _Sum) -> None:
        for currency, amount in other.amounts.items():
            self.amounts[currency] = self.amounts.get(currency, ZERO) + amount
        for currency, amount in other.unvalued.items():
            self.unvalued[currency] = self.unvalued.get(currency, ZERO) + amount
        self.value += other.value
        self.lines += other.lines

    def json(self, *, with_events: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "amounts": _texts(self.amounts),
            "value": decimal_text(self.value),
            "unvalued": _texts(self.unvalued),
            "lines": self.lines,
        }
        if with_events:
            ordered = sorted(self.event_ids)
            out["event_ids"] = [event_id for _, event_id in ordered[:MAX_EVENT_IDS]]
            out["event_ids_truncated"] = len(ordered) > MAX_EVENT_IDS
        return out


def _texts(amounts: dict[str, Decimal]) -> dict[str, str | None]:
    return {currency: decimal_text(amount) for currency, amount in sorted(amounts.items())}


def has_player(
    session: Session, *, operator_id: str, player_ref: str, brand_id: str | None
) -> bool:
    table = ledger.NGR_LINES
    query = select(table.c.day).where(
        table.c.operator_id == operator_id, table.c.player_ref == player_ref
    )
    if brand_id is not None:
        query = query.where(table.c.brand_id == brand_id)
    return session.execute(query.limit(1)).first() is not None


def _month_lines(
    session: Session, *, operator_id: str, player_ref: str, brand_id: str | None, month: date
) -> Any:
    table = ledger.NGR_LINES
    query = select(table).where(
        table.c.operator_id == operator_id,
        table.c.player_ref == player_ref,
        table.c.day >= month,
        table.c.day <= ledger.month_end(month),
    )
    if brand_id is not None:
        query = query.where(table.c.brand_id == brand_id)
    return query


def player_month(
    session: Session, *, operator_id: str, player_ref: str, brand_id: str | None, month: date
) -> dict[str, Any]:
    """Per day, brand and component: amounts per currency, reporting value, event ids;
    then the month's computed and reported NGR per brand, and the reported periods."""
    query = _month_lines(
        session, operator_id=operator_id, player_ref=player_ref, brand_id=brand_id, month=month
    )
    lines = [dict(row) for row in session.execute(query).mappings()]
    valuer = ledger.Valuer(session, operator_id=operator_id, days=(row["day"] for row in lines))
    groups: dict[tuple[date, str, str], _Sum] = defaultdict(_Sum)
    periods: dict[ledger.SeriesKey, dict[str, Any]] = {}
    with localcontext(EXACT):
        for booked in lines:
            value = valuer.value(
                day=booked["day"],
                currency=booked["currency"],
                amount=booked["amount"],
                rated_amount=booked["rated_amount"],
            )
            groups[(booked["day"], booked["brand_id"], booked["component"])].add(booked, value)
            if booked["component"] == ledger.NGR_REPORTED:
                _add_period(periods, booked)
        brands: dict[str, dict[str, _Sum]] = defaultdict(lambda: defaultdict(_Sum))
        for (_day, brand, component), summed in groups.items():
            brands[brand][component].merge(summed)
        totals = [_brand_totals(brand, brands[brand]) for brand in sorted(brands)]
    return {
        "player_ref": player_ref,
        "month": month.isoformat()[:7],
        "currency": valuer.currency,
        "days": [
            {
                "day": day.isoformat(),
                "brand_id": brand,
                "component": component,
                **groups[(day, brand, component)].json(with_events=True),
            }
            for day, brand, component in sorted(
                groups, key=lambda key: (key[0], key[1], ledger.COMPONENTS.index(key[2]))
            )
        ],
        "totals": totals,
        "reported_periods": [periods[key] for key in sorted(periods)],
    }


def _add_period(periods: dict[ledger.SeriesKey, dict[str, Any]], booked: dict[str, Any]) -> None:
    entry = periods.setdefault(
        ledger.series_key(booked),
        {
            "brand_id": booked["brand_id"],
            "currency": booked["currency"],
            "period_start": booked["period_start"].isoformat(),
            "period_end": booked["period_end"].isoformat(),
            "total": ZERO,
            "updates": 0,
        },
    )
    entry["total"] += booked["amount"]
    entry["updates"] += 1
    entry["period_end"] = max(entry["period_end"], booked["period_end"].isoformat())


def _brand_totals(brand: str, components: dict[str, _Sum]) -> dict[str, Any]:
    computed = _Sum()
    for component in ledger.NGR_COMPONENTS:
        if component in components:
            computed.merge(components[component])
    reported = components.get(ledger.NGR_REPORTED)
    return {
        "brand_id": brand,
        "components": {
            component: components[component].json(with_events=False)
            for component in ledger.COMPONENTS
            if component in components
        },
        "computed_ngr": computed.json(with_events=False),
        "reported_ngr": reported.json(with_events=False) if reported else None,
        # What statements pay on: the reported NGR where the operator sent totals.
        "ngr_source": "reported" if reported else "computed",
    }


def line_page(
    session: Session,
    *,
    operator_id: str,
    player_ref: str,
    brand_id: str | None,
    month: date,
    after: tuple[int, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    """The month's lines one by one, in log order (seq, then component), after the cursor."""
    table = ledger.NGR_LINES
    query = _month_lines(
        session, operator_id=operator_id, player_ref=player_ref, brand_id=brand_id, month=month
    )
    if after is not None:
        query = query.where(tuple_(table.c.seq, table.c.component) > tuple_(*after))
    query = query.order_by(table.c.seq, table.c.component).limit(limit + 1)
    lines = [dict(row) for row in session.execute(query).mappings()]
    more = len(lines) > limit
    lines = lines[:limit]
    values = ledger.value_lines(session, operator_id, lines)
    page = [
        {
            "event_id": booked["event_id"],
            "component": booked["component"],
            "brand_id": booked["brand_id"],
            "day": booked["day"].isoformat(),
            "currency": booked["currency"],
            "amount": decimal_text(booked["amount"]),
            "rated_amount": decimal_text(booked["rated_amount"]),
            "value": decimal_text(value),
            "seq": booked["seq"],
            "received_at": booked["received_at"],
            "period_start": _iso(booked["period_start"]),
            "period_end": _iso(booked["period_end"]),
        }
        for booked, value in zip(lines, values, strict=True)
    ]
    last = lines[-1] if lines else None
    return page, ((last["seq"], last["component"]) if more and last else None)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
