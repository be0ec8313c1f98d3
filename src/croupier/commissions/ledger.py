"""The NGR ledger: what each event contributes to a player's Net Gaming Revenue.

One line per (event, component) in ``ngr_lines``; ``amount`` is the signed contribution to
NGR in the event currency, kept exact (no rounding: statements round).

- ggr (positive when the operator won): every bet and settlement's ``ggr_delta``, as the
  formats compute it and ``reports/daily.py`` sums it (a Fast Track rollback carries the
  reversed amount);
- bonus_cost (negative): Revvvs ``bonus_cost``; a Fast Track bonus closed as turned real:
  ``amount_turned_real`` of the bonuses projection (``bonus_turned_real``, else the bonus
  amount), booked on the closing event;
- chargeback (negative): Revvvs ``chargeback``; Fast Track payment Rollback of a Credit;
- fee (negative): Revvvs ``fee_applied``; an approved Fast Track payment's ``fee_amount``;
- gaming_tax, admin_fee (negative): a percentage of each GGR line, and payment_fee
  (negative): of each deposit line, from the operator's deduction version in force on the
  line's day for its brand (``NgrDeduction``);
- deposit (positive): approved deposits; information, not part of NGR;
- ngr_reported (signed): Revvvs ``ngr_update``, the change of the reported total.

NGR(computed) = the sum of the first seven components. ``ngr_update`` carries a running
total for a player and period (``metadata.period_start``/``period_end``, else the event's
calendar month). Totals of one series — (brand, player, currency, period start) — are
ordered by occurred time, then seq; each is booked as its change from the one before, so
the lines always telescope to the latest total. A total that arrives late re-books the
lines after it, so the result depends on the set of events, never on arrival order. A
series is keyed by the period's start, not its end, because senders report month-to-date
totals whose end moves (specs/002's example ends on the 15th): such totals replace each
other rather than add up.

Valuation: ``rated_amount`` is set when the event carried its own rate (Fast Track
``exchange_rate``, as in ``reports/daily.py``); every other line is valued when read, with
the fx_rates row of its day and currency (see ``Valuer``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, case, func, select, tuple_
from sqlalchemy.orm import Session

from croupier.bonuses.projection import CLOSING, histories, lifecycle
from croupier.commissions.ledger_models import NgrDeduction, NgrLine
from croupier.events.models import Event
from croupier.kit.rows import in_chunks, padded
from croupier.kit.timeparse import parse_iso
from croupier.projections.engine import COLUMNS
from croupier.projections.models import Checkpoint
from croupier.reports import fx
from croupier.reports.daily import EXACT, event_rate
from croupier.tenancy.models import Operator

NGR_LINES: Table = NgrLine.__table__  # type: ignore[assignment]
ZERO = Decimal(0)
HUNDRED = Decimal(100)

GGR = "ggr"
BONUS_COST = "bonus_cost"
CHARGEBACK = "chargeback"
FEE = "fee"
GAMING_TAX = "gaming_tax"
ADMIN_FEE = "admin_fee"
PAYMENT_FEE = "payment_fee"
DEPOSIT = "deposit"
NGR_REPORTED = "ngr_reported"
# The components whose sum is the computed NGR.
NGR_COMPONENTS = (GGR, BONUS_COST, CHARGEBACK, FEE, GAMING_TAX, ADMIN_FEE, PAYMENT_FEE)
COMPONENTS = (*NGR_COMPONENTS, DEPOSIT, NGR_REPORTED)
# Percentage deductions: the component, the line it is a percentage of, the setting.
DEDUCTIONS = (
    (GAMING_TAX, GGR, "gaming_tax_pct"),
    (ADMIN_FEE, GGR, "admin_fee_pct"),
    (PAYMENT_FEE, DEPOSIT, "payment_fee_pct"),
)
DEDUCTION_COMPONENTS = tuple(component for component, _, _ in DEDUCTIONS)
_CASINO_KINDS = frozenset({"bet", "settlement"})
# Fast Track payments: Credit, Debit, and the other payment types (stored as custom).
_FT_PAYMENT_KINDS = frozenset({"deposit", "withdrawal", "custom"})
_NEGATED = {"bonus_cost": BONUS_COST, "chargeback": CHARGEBACK, "fee": FEE}

Line = dict[str, Any]
SeriesKey = tuple[str, str, str, str, date]  # operator, brand, player, currency, period start


# -- the fold: one event's own lines ------------------------------------------------------


def event_lines(event: Any) -> list[Line]:
    """The lines an event makes by itself. ``ngr_update`` and Fast Track bonus events are
    booked per series / per bonus (``reported_lines``, ``bonus_cost_lines``)."""
    found: list[Line] = []
    rate = event_rate(event)
    with localcontext(EXACT):
        if event.kind in _CASINO_KINDS:
            _add(found, event, GGR, event.ggr_delta, rate)
        elif event.kind == "deposit" and event.status == "approved":
            _add(found, event, DEPOSIT, event.amount, rate)
        elif event.kind in _NEGATED and event.amount is not None:
            # Revvvs bonus_cost / fee_applied, and chargebacks of both formats.
            _add(found, event, _NEGATED[event.kind], -event.amount, rate)
        if (
            event.format == "fasttrack"
            and event.kind in _FT_PAYMENT_KINDS
            and event.status == "approved"
        ):
            fee = _decimal((event.attributes or {}).get("fee_amount"))
            if fee is not None and fee > 0:
                _add(found, event, FEE, -fee, rate)
    return found


def _add(
    found: list[Line], event: Any, component: str, amount: Decimal | None, rate: Decimal | None
) -> None:
    if amount is None or amount == 0 or not event.currency:
        return  # nothing to book: a zero line would only add noise to the trace
    found.append(line(event, component, amount, rate=rate))


def line(
    event: Any,
    component: str,
    amount: Decimal,
    *,
    rate: Decimal | None,
    day: date | None = None,
    period: tuple[date, date] | None = None,
) -> Line:
    rated = None if rate is None else EXACT.multiply(amount, rate)  # no context switch
    return {
        "operator_id": event.operator_id,
        "event_id": event.event_id,
        "component": component,
        "brand_id": event.brand_id,
        "player_ref": event.player_ref,
        "day": day or event.occurred_at.date(),
        "currency": event.currency,
        "amount": amount,
        "rated_amount": rated,
        "seq": event.seq,
        "tx_id": event.tx_id,
        "received_at": event.received_at,
        "period_start": period[0] if period else None,
        "period_end": period[1] if period else None,
    }


def _decimal(value: Any) -> Decimal | None:
    """An amount from ``attributes`` (JSON: int or Decimal), exactly; None if not one."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        return None
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


# -- percentage deductions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeductionVersion:
    brand_id: str | None
    effective_from: date
    gaming_tax_pct: Decimal | None
    admin_fee_pct: Decimal | None
    payment_fee_pct: Decimal | None


class Deductions:
    """An operator's deduction versions. For a brand and day the version in force is the
    brand's own latest version from on or before that day; without one, the latest
    all-brands version. A version is complete: its None percentages do not apply, even
    where an all-brands version has one."""

    def __init__(self, versions: Iterable[DeductionVersion]) -> None:
        scopes: dict[str | None, list[DeductionVersion]] = defaultdict(list)
        for version in versions:
            scopes[version.brand_id].append(version)
        self._scopes = {
            brand: sorted(found, key=lambda version: version.effective_from)
            for brand, found in scopes.items()
        }
        self._starts = {
            brand: [version.effective_from for version in found]
            for brand, found in self._scopes.items()
        }

    def in_force(self, brand_id: str, day: date) -> DeductionVersion | None:
        for scope in (brand_id, None):
            starts = self._starts.get(scope)
            if starts:
                position = bisect.bisect_right(starts, day)
                if position:
                    return self._scopes[scope][position - 1]
        return None


# Prebuilt, on the session's connection: the projector runs these every batch (an ORM
# select built anew costs a few hundred µs of Python, more than these small reads).
_DEDUCTIONS = select(
    NgrDeduction.operator_id,
    NgrDeduction.brand_id,
    NgrDeduction.effective_from,
    NgrDeduction.gaming_tax_pct,
    NgrDeduction.admin_fee_pct,
    NgrDeduction.payment_fee_pct,
).where(NgrDeduction.operator_id.in_(bindparam("operator_ids", expanding=True)))
_EVENTS_BY_SEQ = select(*COLUMNS).where(Event.seq.in_(bindparam("seqs", expanding=True)))
_BOOKED = select(NGR_LINES.c.event_id).where(
    NGR_LINES.c.operator_id == bindparam("operator_id"),
    NGR_LINES.c.event_id.in_(bindparam("event_ids", expanding=True)),
    NGR_LINES.c.component == bindparam("component"),
)


def load_deductions(session: Session, operator_ids: Iterable[str]) -> dict[str, Deductions]:
    wanted = sorted(set(operator_ids))
    found: dict[str, list[DeductionVersion]] = {operator_id: [] for operator_id in wanted}
    if wanted:
        query = session.connection().execute(_DEDUCTIONS, {"operator_ids": padded(wanted)})
        for row in query:
            found[row.operator_id].append(
                DeductionVersion(
                    row.brand_id,
                    row.effective_from,
                    row.gaming_tax_pct,
                    row.admin_fee_pct,
                    row.payment_fee_pct,
                )
            )
    return {operator_id: Deductions(versions) for operator_id, versions in found.items()}


def deduction_lines(base: Line, deductions: Deductions) -> list[Line]:
    """The percentage deductions of one GGR or deposit line, exact, on the same event."""
    version = deductions.in_force(base["brand_id"], base["day"])
    if version is None:
        return []
    found: list[Line] = []
    with localcontext(EXACT):
        for component, of, setting in DEDUCTIONS:
            pct: Decimal | None = getattr(version, setting)
            if base["component"] != of or not pct:
                continue
            share = pct / HUNDRED
            rated = base["rated_amount"]
            found.append(
                {
                    **base,
                    "component": component,
                    "amount": -(base["amount"] * share),
                    "rated_amount": -(rated * share) if rated is not None else None,
                }
            )
    return found


# -- reported NGR (Revvvs ngr_update) ------------------------------------------------------


def ngr_period(event: Any) -> tuple[date, date]:
    """The period an ``ngr_update`` total covers: its metadata's, else its calendar month.

    A date-time end at exactly midnight is read as an exclusive bound (the period ends the
    day before); an unreadable or inverted period falls back to the calendar month."""
    metadata = (event.attributes or {}).get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    start = _period_day(metadata.get("period_start"), exclusive=False)
    end = _period_day(metadata.get("period_end"), exclusive=True)
    anchor = start or end or event.occurred_at.date()
    first = start or anchor.replace(day=1)
    last = end or month_end(anchor)
    if last < first:
        first, last = event.occurred_at.date().replace(day=1), month_end(event.occurred_at.date())
    return first, last


def _period_day(value: Any, *, exclusive: bool) -> date | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    moment = parse_iso(text)
    if moment is None:
        return None
    if exclusive and moment.time() == datetime.min.time():
        return moment.date() - timedelta(days=1)
    return moment.date()


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _Report:
    """One reported total of a series: where it sorts, what it says, the line it books."""

    occurred_at: datetime
    seq: int
    total: Decimal
    line: Line


def series_key(report_line: Mapping[str, Any]) -> SeriesKey:
    return (
        report_line["operator_id"],
        report_line["brand_id"],
        report_line["player_ref"],
        report_line["currency"],
        report_line["period_start"],
    )


def reported_lines(session: Session, events: Sequence[Any]) -> list[Line]:
    """The ngr_reported lines of every series the batch's ``ngr_update`` events touch,
    re-booked from the series' whole history (stored lines plus the batch)."""
    reports: dict[str, _Report] = {}
    for event in events:
        if event.kind != "ngr_update" or event.amount is None or not event.currency:
            continue
        first, last = ngr_period(event)
        # No rate: Revvvs rates are not used (only Fast Track's, as in the daily report).
        booked = line(event, NGR_REPORTED, ZERO, rate=None, day=last, period=(first, last))
        reports[event.event_id] = _Report(event.occurred_at, event.seq, event.amount, booked)
    if not reports:
        return []
    touched = {series_key(report.line) for report in reports.values()}
    for report in _stored_reports(session, touched):
        reports.setdefault(report.line["event_id"], report)
    series: dict[SeriesKey, list[_Report]] = defaultdict(list)
    for report in reports.values():
        key = series_key(report.line)
        if key in touched:
            series[key].append(report)
    found: list[Line] = []
    for history in series.values():
        found.extend(telescoped(history))
    return found


def telescoped(history: Iterable[_Report]) -> list[Line]:
    """Each total booked as its change from the one before, in occurred order (then seq)."""
    found: list[Line] = []
    previous = ZERO
    with localcontext(EXACT):
        for report in sorted(history, key=lambda report: (report.occurred_at, report.seq)):
            found.append({**report.line, "amount": report.total - previous})
            previous = report.total
    return found


def _stored_reports(
    session: Session, keys: set[SeriesKey], *, through: Checkpoint | None = None
) -> list[_Report]:
    """The booked totals of these series, with the total and time of their event."""
    players: dict[str, set[str]] = defaultdict(set)
    for operator_id, _brand, player_ref, _currency, _start in keys:
        players[operator_id].add(player_ref)
    found: list[_Report] = []
    for operator_id, refs in players.items():
        for chunk in in_chunks(sorted(refs)):
            query = (
                select(
                    NGR_LINES, Event.occurred_at.label("_occurred_at"), Event.amount.label("_total")
                )
                .join(Event, Event.seq == NGR_LINES.c.seq)
                .where(
                    NGR_LINES.c.operator_id == operator_id,
                    NGR_LINES.c.component == NGR_REPORTED,
                    NGR_LINES.c.player_ref.in_(chunk),
                )
            )
            if through is not None:
                query = query.where(_upto(session, through))
            for row in session.execute(query).mappings():
                booked = {column.name: row[column.name] for column in NGR_LINES.columns}
                if series_key(booked) in keys:
                    found.append(_Report(row["_occurred_at"], row["seq"], row["_total"], booked))
    return found


# -- Fast Track bonus cost -----------------------------------------------------------------


def bonus_cost_lines(session: Session, events: Sequence[Any]) -> tuple[list[Line], list[Any]]:
    """The bonus_cost lines of every Fast Track bonus the batch's bonus events touch, and
    the keys of the lines to delete. A bonus costs what the bonuses projection says turned
    real, booked on its closing event (the first closing status by occurred time); a late
    earlier closure moves the line. Runs after the bonuses handler, so its history holds
    this batch's bonus events."""
    keys = {
        (event.operator_id, event.brand_id, event.player_ref, event.bonus_ref)
        for event in events
        if event.format == "fasttrack" and event.kind == "bonus" and event.bonus_ref
    }
    if not keys:
        return [], []
    closings: dict[int, Decimal] = {}
    stale: list[tuple[str, str, str]] = []
    for history in histories(session, keys=keys).values():
        closing = next((entry for entry in history if entry["status"] in CLOSING), None)
        cost = lifecycle(history)["amount_turned_real"] if closing is not None else None
        for entry in history:
            if closing is None or entry["event_id"] != closing["event_id"] or not cost:
                stale.append((entry["operator_id"], entry["event_id"], BONUS_COST))
        if closing is not None and cost:
            closings[closing["seq"]] = cost
    found: list[Line] = []
    if closings:
        for event in session.connection().execute(
            _EVENTS_BY_SEQ, {"seqs": padded(sorted(closings))}
        ):
            if event.currency:
                found.append(line(event, BONUS_COST, -closings[event.seq], rate=event_rate(event)))
    return found, _booked(session, stale)


def _booked(session: Session, keys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Those of the line keys that exist: deleting by key costs a statement per key."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for operator_id, event_id, component in keys:
        wanted[(operator_id, component)].add(event_id)
    found: list[tuple[str, str, str]] = []
    connection = session.connection()
    for (operator_id, component), event_ids in wanted.items():
        for chunk in in_chunks(sorted(event_ids)):
            params = {"operator_id": operator_id, "event_ids": chunk, "component": component}
            booked = connection.execute(_BOOKED, params).scalars()
            found.extend((operator_id, event_id, component) for event_id in booked)
    return found


# -- valuation -----------------------------------------------------------------------------


class Valuer:
    """Lines in the operator's reporting currency: the one way to value them.

    A line's value is its ``rated_amount`` when set; otherwise ``amount`` times the
    fx_rates rate of its day from its currency into the reporting currency (1 for the
    reporting currency itself); None when there is no such rate — never a guessed one."""

    def __init__(
        self,
        session: Session,
        *,
        operator_id: str,
        days: Iterable[date],
        currency: str | None = None,
    ) -> None:
        if currency is None:
            operator = session.get(Operator, operator_id)
            if operator is None:
                raise LookupError(operator_id)
            currency = operator.currency
        self.currency: str = currency
        self.rates = fx.rates_into(session, operator_id=operator_id, quote=currency, days=days)

    def rate(self, day: date, currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.currency else self.rates.get((day, currency))

    def value(
        self, *, day: date, currency: str, amount: Decimal, rated_amount: Decimal | None
    ) -> Decimal | None:
        return self.value_parts(
            day=day,
            currency=currency,
            unrated=ZERO if rated_amount is not None else amount,
            rated=rated_amount or ZERO,
        )

    def value_parts(
        self, *, day: date, currency: str, unrated: Decimal, rated: Decimal
    ) -> Decimal | None:
        """The value of sums of lines of one day and currency: ``rated`` = the sum of their
        rated amounts, ``unrated`` = the sum of the amounts of those without one (for a
        SQL GROUP BY day, currency)."""
        if unrated == 0:
            return rated
        rate = self.rate(day, currency)
        if rate is None:
            return None
        with localcontext(EXACT):
            return rated + unrated * rate


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def value_lines(session: Session, operator_id: str, rows: Sequence[Any]) -> list[Decimal | None]:
    """Each line's value in the reporting currency (see ``Valuer``); rows are NgrLine
    objects, result rows or mappings with day, currency, amount and rated_amount."""
    valuer = Valuer(session, operator_id=operator_id, days=(_field(row, "day") for row in rows))
    return [
        valuer.value(
            day=_field(row, "day"),
            currency=_field(row, "currency"),
            amount=_field(row, "amount"),
            rated_amount=_field(row, "rated_amount"),
        )
        for row in rows
    ]


# -- reading totals ------------------------------------------------------------------------


class ComponentTotal(NamedTuple):
    """A component's sum for one player and month."""

    amounts: dict[str, Decimal]  # per event currency
    value: Decimal | None  # in the reporting currency; None if some part has no rate


PlayerKey = tuple[str, str]  # brand_id, player_ref


def player_month_totals(
    session: Session,
    *,
    operator_id: str,
    month: date,
    through: Checkpoint | None = None,
) -> dict[PlayerKey, dict[str, ComponentTotal]]:
    """Per (brand, player), each component's sum over the lines whose day is in ``month``
    (any day of it), exactly. With ``through``, only what the log held up to that
    checkpoint: lines of later events are left out, and reported NGR is re-telescoped
    over the totals known then (a late earlier total re-books lines of later events).

    PostgreSQL adds the decimals (exactly) in a GROUP BY; SQLite keeps them as text, so
    they are added here from the driver's raw rows."""
    first, last = month.replace(day=1), month_end(month)
    currency = _reporting_currency(session, operator_id)
    rates = fx.rates_into(session, operator_id=operator_id, quote=currency, days=(first, last))
    totals = _Totals(rates)
    with localcontext(EXACT):
        if session.get_bind().dialect.name == "postgresql":
            totals.add_sums(_grouped_sums(session, operator_id, currency, first, last, through))
        else:
            totals.add_raw(_raw_lines(session, operator_id, currency, first, last, through))
        if through is not None:
            reported = _reported_through(session, operator_id, first, last, through)
            totals.add_sums(_reported_sums(reported, currency))
    return totals.result()


class _Totals:
    """(brand, player, component) -> [amounts per currency, value or None if unvalued]."""

    def __init__(self, rates: dict[tuple[date, str], Decimal]) -> None:
        self.rates = rates
        self.by_text = {(day.isoformat(), cur): rate for (day, cur), rate in rates.items()}
        self.found: dict[tuple[str, str, str], list[Any]] = {}

    def add_sums(self, sums: Iterable[Any]) -> None:
        """Rows of (brand, player, component, currency, day or None, amount, the part of it
        without a rate, the rated value); day None: the value does not depend on it."""
        found, rates = self.found, self.rates
        for brand, player, component, currency, day, amount, unrated, rated in sums:
            entry = found.get((brand, player, component))
            if entry is None:
                entry = found[(brand, player, component)] = [{}, ZERO]
            amounts = entry[0]
            amounts[currency] = amounts.get(currency, ZERO) + amount
            if entry[1] is not None:
                rate = Decimal(1) if day is None else rates.get((day, currency))
                entry[1] = None if rate is None else entry[1] + rated + unrated * rate

    def add_raw(self, lines: Iterable[Any]) -> None:
        """Raw rows of (brand, player, component, currency, day text or None, amount text,
        rated amount text or None): the tight loop a million lines go through."""
        found, rates = self.found, self.by_text
        for brand, player, component, currency, day, amount_text, rated in lines:
            entry = found.get((brand, player, component))
            if entry is None:
                entry = found[(brand, player, component)] = [{}, ZERO]
            amount = Decimal(amount_text)
            amounts = entry[0]
            amounts[currency] = amounts.get(currency, ZERO) + amount
            total = entry[1]
            if total is None:
                continue
            if rated is not None:
                entry[1] = total + Decimal(rated)
            elif day is None:
                entry[1] = total + amount
            else:
                rate = rates.get((day, currency))
                entry[1] = None if rate is None else total + amount * rate

    def result(self) -> dict[PlayerKey, dict[str, ComponentTotal]]:
        totals: dict[PlayerKey, dict[str, ComponentTotal]] = {}
        for (brand, player, component), (amounts, value) in self.found.items():
            totals.setdefault((brand, player), {})[component] = ComponentTotal(amounts, value)
        return totals


def _grouped_sums(
    session: Session,
    operator_id: str,
    currency: str,
    first: date,
    last: date,
    through: Checkpoint | None,
) -> Iterator[tuple[Any, ...]]:
    table = NGR_LINES
    unrated = table.c.rated_amount.is_(None)
    # The day only where the value depends on it: unrated lines in another currency.
    day_key = case((and_(unrated, table.c.currency != currency), table.c.day), else_=None)
    scope = [table.c.operator_id == operator_id, table.c.day >= first, table.c.day <= last]
    if through is not None:
        scope += [_upto(session, through), table.c.component != NGR_REPORTED]
    group = (table.c.brand_id, table.c.player_ref, table.c.component, table.c.currency)
    query = (
        select(
            *group,
            day_key,
            func.sum(table.c.amount),
            func.sum(case((unrated, table.c.amount), else_=0)),
            func.sum(func.coalesce(table.c.rated_amount, 0)),
        )
        .where(*scope)
        .group_by(*group, day_key)
    )
    for row in session.execute(query):
        yield tuple(row)


def _raw_lines(
    session: Session,
    operator_id: str,
    currency: str,
    first: date,
    last: date,
    through: Checkpoint | None,
) -> Iterator[tuple[Any, ...]]:
    """The lines through the driver's own cursor: SQLAlchemy's result rows would cost
    more than the adding."""
    sql = (
        "SELECT brand_id, player_ref, component, currency,"
        " CASE WHEN rated_amount IS NULL AND currency != ? THEN day END, amount, rated_amount"
        " FROM ngr_lines WHERE operator_id = ? AND day >= ? AND day <= ?"
    )
    params: list[Any] = [currency, operator_id, first.isoformat(), last.isoformat()]
    if through is not None:
        sql += " AND seq <= ? AND component != ?"
        params += [through.seq, NGR_REPORTED]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield from cursor.execute(sql, params)
    finally:
        cursor.close()


def _reported_sums(reported: list[Line], currency: str) -> Iterator[tuple[Any, ...]]:
    for booked in reported:
        amount, rated = booked["amount"], booked["rated_amount"]
        day = booked["day"] if rated is None and booked["currency"] != currency else None
        key = (booked["brand_id"], booked["player_ref"], NGR_REPORTED, booked["currency"], day)
        yield (*key, amount, amount, ZERO) if rated is None else (*key, amount, ZERO, rated)


def _reporting_currency(session: Session, operator_id: str) -> str:
    currency = session.scalar(select(Operator.currency).where(Operator.id == operator_id))
    if currency is None:
        raise LookupError(operator_id)
    return currency


def _reported_through(
    session: Session, operator_id: str, first: date, last: date, through: Checkpoint
) -> list[Line]:
    """The month's ngr_reported lines as they telescope over the totals known at ``through``."""
    query = select(NGR_LINES).where(
        NGR_LINES.c.operator_id == operator_id,
        NGR_LINES.c.component == NGR_REPORTED,
        NGR_LINES.c.day >= first,
        NGR_LINES.c.day <= last,
        _upto(session, through),
    )
    keys = {series_key(dict(row)) for row in session.execute(query).mappings()}
    series: dict[SeriesKey, list[_Report]] = defaultdict(list)
    for report in _stored_reports(session, keys, through=through):
        series[series_key(report.line)].append(report)
    return [
        booked
        for history in series.values()
        for booked in telescoped(history)
        if first <= booked["day"] <= last
    ]


def _upto(session: Session, through: Checkpoint) -> Any:
    """Lines of events at or before the checkpoint, in the projector's read order."""
    if session.get_bind().dialect.name == "postgresql":
        position = tuple_(NGR_LINES.c.tx_id, NGR_LINES.c.seq)
        return position <= tuple_(through.tx_id, through.seq)
    return NGR_LINES.c.seq <= through.seq
