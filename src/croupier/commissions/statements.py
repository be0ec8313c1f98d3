"""Monthly statements: run (draft), close, list, show.

A run computes, for every affiliate with a plan in force on the month's first day, the
month's statement from the ledger as the projector has it (its checkpoint is recorded as
what the statement covers):
- a line per credited player (current attribution) whose brand has a plan: deposits,
  GGR, each deduction, computed NGR, the operator's reported NGR where it sent
  ``ngr_update`` totals for periods ending in the month (then the NGR used), RevShare
  (NGR times the rate applied, for flat and tiered plans) and the CPA of players qualified
  in the month (paid once per player and affiliate);
- adjustments: what changed, since they were closed, in the affiliate's closed months
  (a ledger line booked later, itemised by event; unpaid CPAs). They go on the earliest
  open statement: the affiliate's NGR change enters this month's RevShare base;
- per plan section: NGR + adjustments (+ the loss carried in, under carry_over) → the
  RevShare (see ``plan_terms``), the loss carried out;
- sub-affiliate earnings: the parent's plan percentage of each child's RevShare + CPA of
  the month (the child's own sub-affiliate earnings are not passed up);
- the total in the reporting currency, and the payable in the affiliate's payout
  currency at the fx_rates rate of the month's last day (shown), rounded to 2 places,
  half up.

Drafts are recomputed by every run. A closed statement never changes; runs skip it, and
an affiliate with a later closed month is skipped (its months are settled in order).

A run has two phases, which the API and the CLI run apart: ``compute`` reads everything
in one read transaction (one consistent snapshot, REPEATABLE READ on PostgreSQL; on SQLite
a plain read that takes no write lock, so ingest goes on), then ``store`` writes the
drafts in a short write transaction that re-checks what changed meanwhile: a statement
closed since (or a later month closed) is left as it is, a draft another run wrote keeps
its id (no duplicate) and is not overwritten by figures older than its own.
``computed_at`` is the snapshot's time, so closing refuses a draft computed before an
earlier month changed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from croupier.affiliates.models import Affiliate
from croupier.commissions import ledger, plan_terms, plans, statement_sql
from croupier.commissions import statement_figures as figures
from croupier.commissions.plans import PlanBook
from croupier.commissions.statement_models import (
    CpaQualification,
    Statement,
    StatementAdjustment,
    StatementLine,
)
from croupier.commissions.statement_sql import PlayerKey, month_bounds
from croupier.kit.errors import ApiError, invalid
from croupier.kit.ids import uuid7
from croupier.kit.rows import in_chunks
from croupier.reports.daily import EXACT
from croupier.tenancy.models import Operator

ZERO = Decimal(0)
CENT = Decimal("0.01")
_PERIOD = re.compile(r"[0-9]{4}-[0-9]{2}")


def rounded(value: Decimal | None) -> Decimal | None:
    """Money as shown and paid: 2 places, half up."""
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_period(text: str, *, today: date) -> date:
    """``YYYY-MM`` → the month's first day; a month not yet begun is a 400."""
    if not _PERIOD.fullmatch(text):
        raise invalid("period", "a month as YYYY-MM", "invalid_period")
    try:
        period = date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise invalid("period", "a month as YYYY-MM", "invalid_period") from None
    if period > today:
        raise invalid("period", "a month as YYYY-MM, not after this one", "invalid_period")
    return period


@dataclass
class RunResult:
    period: date
    covered: tuple[int, int]
    created: int = 0
    updated: int = 0
    removed: int = 0
    closed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "period": f"{self.period:%Y-%m}",
            "covered": {"tx_id": self.covered[0], "seq": self.covered[1]},
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "closed_unchanged": self.closed,
            "skipped": self.skipped,
            "statements": self.statements,
        }


@dataclass
class _Draft:
    affiliate_id: str
    statement_id: str
    lines: dict[PlayerKey, dict[str, Any]] = field(default_factory=dict)
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    unvalued: dict[str, Decimal] = field(default_factory=dict)
    figures: dict[str, Decimal] = field(default_factory=dict)
    sub_affiliates: list[dict[str, Any]] = field(default_factory=list)
    # [month, brand, player] of closed months' changes left for a later statement
    pending: list[list[str]] = field(default_factory=list)


@dataclass
class _Inputs:
    """What one run reads, once, for all its affiliates."""

    operator_id: str
    currency: str
    first: date
    last: date
    postgres: bool
    book: PlanBook
    covered: tuple[int, int]
    statements: dict[str, list[Statement]]
    sums: dict[PlayerKey, statement_sql.PlayerSums]
    attributed: dict[PlayerKey, str]
    # affiliate → brand → players whose first deposit fell in the month
    first_depositors: dict[str, dict[str, int]]
    qualified: dict[str, list[CpaQualification]]
    cpa_paid: set[tuple[str, str, str]]


@dataclass
class Computed:
    """What ``compute`` read and worked out; ``store`` writes it."""

    inputs: _Inputs
    drafts: dict[str, _Draft]
    result: RunResult
    payout: dict[str, str]
    rates: dict[str, Decimal | None]
    computed_at: datetime


def run(session: Session, *, operator_id: str, period: date, now: datetime) -> RunResult:
    """Compute the operator's statements of ``period`` (drafts; closed ones unchanged) and
    write them, in the one transaction of ``session`` (the API and CLI split the two)."""
    return store(session, compute(session, operator_id=operator_id, period=period, now=now))


def compute(session: Session, *, operator_id: str, period: date, now: datetime) -> Computed:
    """Read the snapshot and compute the month's drafts; writes nothing. Must be the first
    use of the session's transaction (PostgreSQL: REPEATABLE READ)."""
    postgres = statement_sql.prepare(session)
    first, last = month_bounds(period)
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise ApiError(404, "not_found", f"no operator {operator_id}")
    covered = statement_sql.checkpoint(session)
    book = plans.load_book(session, operator_id=operator_id)
    existing: dict[str, list[Statement]] = defaultdict(list)
    for statement in statement_sql.statements_of(session, operator_id=operator_id):
        existing[statement.affiliate_id].append(statement)
    result = RunResult(first, covered)
    computing: list[str] = []
    for affiliate_id in book.affiliates():
        if not _has_plan(book, affiliate_id, first):
            continue
        mine = existing.get(affiliate_id, [])
        if any(s.period == first and s.status == "closed" for s in mine):
            result.closed += 1
        elif any(s.period > first and s.status == "closed" for s in mine):
            result.skipped.append({"affiliate_id": affiliate_id, "reason": "later_month_closed"})
        else:
            computing.append(affiliate_id)
    qualified: dict[str, list[CpaQualification]] = defaultdict(list)
    for found in statement_sql.qualifications(
        session, operator_id=operator_id, before=last + timedelta(days=1)
    ):
        qualified[found.affiliate_id].append(found)
    inputs = _Inputs(
        operator_id=operator_id,
        currency=operator.currency,
        first=first,
        last=last,
        postgres=postgres,
        book=book,
        covered=covered,
        statements=existing,
        sums=statement_sql.player_sums(
            session,
            postgres=postgres,
            operator_id=operator_id,
            currency=operator.currency,
            first=first,
            last=last,
        ),
        attributed=statement_sql.attributions(session, operator_id=operator_id),
        first_depositors=_count_first_depositors(
            statement_sql.first_depositors(session, operator_id=operator_id, first=first, last=last)
        ),
        qualified=qualified,
        cpa_paid=statement_sql.cpa_paid(session, operator_id=operator_id),
    )
    drafts = {
        affiliate_id: _Draft(affiliate_id, _statement_id(existing, affiliate_id, first))
        for affiliate_id in computing
    }
    _players(inputs, drafts)
    _adjust(session, inputs, drafts)
    for draft in drafts.values():
        _settle(inputs, draft)
    _sub_affiliates(session, inputs, drafts)
    payout: dict[str, str] = {}
    query = select(Affiliate.id, Affiliate.payout_currency)
    for affiliate_id, currency in session.execute(
        query.where(Affiliate.operator_id == operator_id)
    ):
        payout[affiliate_id] = currency
    rates = {
        currency: statement_sql.payout_rate(
            session,
            operator_id=operator_id,
            day=last,
            currency=operator.currency,
            payout_currency=currency,
        )
        for currency in sorted({payout[affiliate_id] for affiliate_id in drafts})
    }
    return Computed(inputs, drafts, result, payout, rates, now)


def _count_first_depositors(found: dict[PlayerKey, str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (brand_id, _player_ref), affiliate_id in found.items():
        counts[affiliate_id][brand_id] += 1
    return counts


def _statement_id(existing: dict[str, list[Statement]], affiliate_id: str, first: date) -> str:
    """The month's statement keeps its id across runs (a new one gets a time-ordered id)."""
    for statement in existing.get(affiliate_id, []):
        if statement.period == first:
            return statement.id
    return uuid7()


def _has_plan(book: PlanBook, affiliate_id: str, day: date) -> bool:
    brands = book.assignments.get(affiliate_id, {})
    return any(book.version_for(affiliate_id, brand, day) is not None for brand in brands)


def _players(inputs: _Inputs, drafts: dict[str, _Draft]) -> None:
    """Each credited player's line, and the CPAs of the month."""
    book, first = inputs.book, inputs.first
    for key, sums in inputs.sums.items():
        affiliate_id = inputs.attributed.get(key)
        draft = drafts.get(affiliate_id) if affiliate_id is not None else None
        if draft is None or affiliate_id is None:
            continue
        version = book.version_for(affiliate_id, key[0], first)
        if version is not None:
            draft.lines[key] = figures.player_line(key, sums, version.plan_id)
    for affiliate_id, draft in drafts.items():
        for qualification in inputs.qualified.get(affiliate_id, []):
            if qualification.qualified_at.date() < first:
                continue
            key = (qualification.brand_id, qualification.player_ref)
            if (affiliate_id, *key) in inputs.cpa_paid:
                continue
            line = draft.lines.get(key)
            if line is None:
                version = book.version_for(affiliate_id, key[0], first)
                plan_id = version.plan_id if version is not None else qualification.plan_id
                line = draft.lines[key] = figures.empty_line(key, plan_id)
            line["cpa"] = qualification.amount
            line["cpa_rule"] = qualification.rule
            line["cpa_qualified_at"] = qualification.qualified_at


def _adjust(session: Session, inputs: _Inputs, drafts: dict[str, _Draft]) -> None:
    """Adjustments of closed months, for affiliates whose earliest open month this is.

    A late line is one booked after its month's statement closed. The run behind the
    affiliate's latest closed statement looked at every closed month's lines booked up to
    its checkpoint (closing needs the earlier months closed first), so only lines booked
    since then are searched, plus the players it left pending (no plan that month)."""
    groups: dict[tuple[date, int, int], dict[str, Statement]] = defaultdict(dict)
    closed_ids: dict[str, list[str]] = {}
    seen: dict[str, tuple[int, int]] = {}
    pending: dict[str, set[tuple[str, str, str]]] = {}
    for affiliate_id in drafts:
        mine = inputs.statements.get(affiliate_id, [])
        if any(s.status == "draft" and s.period < inputs.first for s in mine):
            continue  # an earlier open statement takes the adjustments
        closed = [s for s in mine if s.status == "closed" and s.period < inputs.first]
        closed_ids[affiliate_id] = [s.id for s in closed]
        if closed:
            latest = max(closed, key=lambda s: s.period)
            seen[affiliate_id] = (latest.covered_tx_id, latest.covered_seq)
            left = latest.details.get("pending_adjustments", [])
            pending[affiliate_id] = {(month, brand, ref) for month, brand, ref in left}
        for statement in closed:
            cover = (statement.period, statement.covered_tx_id, statement.covered_seq)
            groups[cover][affiliate_id] = statement
    if not closed_ids:
        return
    all_closed = [sid for ids in closed_ids.values() for sid in ids]
    paid_rows: dict[tuple[str, date, str, str], list[StatementAdjustment]] = defaultdict(list)
    for row in statement_sql.paid_adjustments(session, all_closed):
        paid_rows[(row.affiliate_id, row.for_period, row.brand_id, row.player_ref)].append(row)
    for (period, tx_id, seq), statements in sorted(groups.items()):
        since = max((tx_id, seq), min(seen[affiliate_id] for affiliate_id in statements))
        month = f"{period:%Y-%m}"
        left = {
            (brand, ref)
            for affiliate_id in statements
            for (in_month, brand, ref) in pending[affiliate_id]
            if in_month == month
        }
        _adjust_month(
            session, inputs, drafts, period=period, covered=(tx_id, seq), statements=statements,
            paid_rows=paid_rows, since=since, pending=left,
        )  # fmt: skip
    _late_cpa(inputs, drafts, closed_ids)


def _adjust_month(
    session: Session,
    inputs: _Inputs,
    drafts: dict[str, _Draft],
    *,
    period: date,
    covered: tuple[int, int],
    statements: dict[str, Statement],
    paid_rows: dict[tuple[str, date, str, str], list[StatementAdjustment]],
    since: tuple[int, int],
    pending: set[PlayerKey],
) -> None:
    first, last = month_bounds(period)
    postgres, operator_id = inputs.postgres, inputs.operator_id
    late = statement_sql.late_players(
        session, postgres=postgres, operator_id=operator_id, first=first, last=last, covered=since
    )
    late |= pending
    players = sorted(k for k in late if inputs.attributed.get(k) in statements)
    if not players:
        return
    now = statement_sql.player_sums(
        session,
        postgres=postgres,
        operator_id=operator_id,
        currency=inputs.currency,
        first=first,
        last=last,
        players=players,
    )
    lines = statement_sql.late_lines(
        session,
        postgres=postgres,
        operator_id=operator_id,
        first=first,
        last=last,
        covered=covered,
        players=players,
    )
    values = ledger.value_lines(session, inputs.operator_id, lines)
    late_by_player: dict[PlayerKey, list[dict[str, Any]]] = defaultdict(list)
    for booked, value in zip(lines, values, strict=True):
        late_by_player[(booked["brand_id"], booked["player_ref"])].append(
            {**booked, "value": value}
        )
    shown = statement_sql.paid_lines(
        session, operator_id=operator_id, period=period, players=players
    )
    for key in players:
        affiliate_id = inputs.attributed[key]
        draft = drafts[affiliate_id]
        if inputs.book.version_for(affiliate_id, key[0], inputs.first) is None:
            draft.pending.append([f"{period:%Y-%m}", *key])  # booked when a plan applies
            continue
        sums = now.get(key, statement_sql.PlayerSums())
        if sums.unvalued:
            _note_unvalued(draft, sums.unvalued)
            continue
        paid = figures.Paid()
        on_statement = shown.get(key)
        if on_statement is not None and on_statement[0] != affiliate_id:
            continue  # paid to the affiliate credited then: a later reassignment takes nothing
        for name, amount in (on_statement[1] if on_statement else {}).items():
            paid.add(name, amount)
        for row in paid_rows.get((affiliate_id, period, *key), []):
            paid_field = "ngr" if row.component == "ngr" else figures.FIELDS.get(row.component)
            if paid_field is not None:
                paid.add(paid_field, row.amount)
            if row.event_id is not None:
                paid.booked.add((row.event_id, row.component))
        current = figures.player_line(key, sums, "")
        draft.adjustments.extend(
            figures.adjustment_rows(
                period=period, key=key, now=current, paid=paid, late=late_by_player.get(key, [])
            )
        )


def _late_cpa(inputs: _Inputs, drafts: dict[str, _Draft], closed_ids: dict[str, list[str]]) -> None:
    """CPAs of closed months that no closed statement paid."""
    for affiliate_id in closed_ids:
        closed_months = {
            s.period for s in inputs.statements.get(affiliate_id, []) if s.status == "closed"
        }
        if not closed_months:
            continue
        latest = max(closed_months)
        for qualification in inputs.qualified.get(affiliate_id, []):
            month = qualification.qualified_at.date().replace(day=1)
            key = (qualification.brand_id, qualification.player_ref)
            if month > latest or (affiliate_id, *key) in inputs.cpa_paid:
                continue
            drafts[affiliate_id].adjustments.append(
                figures.cpa_row(month, key, qualification.amount, qualification.qualified_at)
            )


def _note_unvalued(draft: _Draft, unvalued: dict[str, Decimal]) -> None:
    with localcontext(EXACT):
        for currency, amount in unvalued.items():
            draft.unvalued[currency] = draft.unvalued.get(currency, ZERO) + amount


def _settle(inputs: _Inputs, draft: _Draft) -> None:
    book, first, affiliate_id = inputs.book, inputs.first, draft.affiliate_id
    sections: dict[str, figures.Section] = {}

    def section_of(brand_id: str) -> figures.Section | None:
        version = book.version_for(affiliate_id, brand_id, first)
        if version is None:
            return None
        if version.plan_id not in sections:
            sections[version.plan_id] = figures.Section(version)
        return sections[version.plan_id]

    for key, line in draft.lines.items():
        if line["unvalued"]:
            _note_unvalued(draft, {c: Decimal(a) for c, a in line["unvalued"].items()})
        section = section_of(key[0])
        if section is not None:
            section.players.append(key)
    with localcontext(EXACT):
        for row in draft.adjustments:
            if row["component"] != "ngr":
                continue
            section = section_of(row["brand_id"])
            if section is not None:
                key = (row["brand_id"], row["player_ref"])
                section.adjustments[key] = section.adjustments.get(key, ZERO) + row["amount"]
        for brand_id, count in inputs.first_depositors.get(affiliate_id, {}).items():
            section = section_of(brand_id)
            if section is not None:
                section.first_depositors += count
    carried = _carried(inputs, affiliate_id)
    for plan_id in sorted(sections):
        settled = figures.settle_section(
            sections[plan_id], draft.lines, carry_in=carried.get(plan_id, ZERO)
        )
        draft.sections.append(settled)
    with localcontext(EXACT):
        cpa = sum((line["cpa"] for line in draft.lines.values()), ZERO) + sum(
            (row["amount"] for row in draft.adjustments if row["component"] == "cpa"), ZERO
        )
        draft.figures = {
            "ngr": sum((s["ngr"] for s in draft.sections), ZERO),
            "adjustments_ngr": sum((s["adjustments_ngr"] for s in draft.sections), ZERO),
            "carry_in": sum((s["carry_in"] for s in draft.sections), ZERO),
            "carry_out": sum((s["carry_out"] for s in draft.sections), ZERO),
            "revshare": sum((s["revshare"] for s in draft.sections), ZERO),
            "cpa": cpa,
            "sub_affiliate": ZERO,
        }


def _carried(inputs: _Inputs, affiliate_id: str) -> dict[str, Decimal]:
    """The loss each plan section carried out of the affiliate's previous statement."""
    earlier = [s for s in inputs.statements.get(affiliate_id, []) if s.period < inputs.first]
    if not earlier:
        return {}
    previous = max(earlier, key=lambda s: s.period)
    return {
        section["plan_id"]: Decimal(section["carry_out"])
        for section in previous.details.get("sections", [])
        if section.get("carry_out") not in (None, "0")
    }


def _sub_affiliates(session: Session, inputs: _Inputs, drafts: dict[str, _Draft]) -> None:
    children: dict[str, list[str]] = defaultdict(list)
    query = select(Affiliate.id, Affiliate.parent_id).where(
        Affiliate.operator_id == inputs.operator_id, Affiliate.parent_id.is_not(None)
    )
    for child_id, parent_id in session.execute(query):
        children[str(parent_id)].append(child_id)
    for parent_id, draft in drafts.items():
        version = inputs.book.version_for(parent_id, "", inputs.first)
        pct = version.terms.sub_affiliate_pct if version is not None else None
        if not pct:
            continue
        with localcontext(EXACT):
            for child_id in sorted(children.get(parent_id, [])):
                commission = _child_commission(inputs, drafts, child_id)
                if commission is None:
                    continue
                statement_id, earned = commission
                amount = earned * pct / plan_terms.HUNDRED
                draft.sub_affiliates.append(
                    {
                        "affiliate_id": child_id,
                        "statement_id": statement_id,
                        "commission": earned,
                        "pct": pct,
                        "amount": amount,
                    }
                )
                draft.figures["sub_affiliate"] += amount


def _child_commission(
    inputs: _Inputs, drafts: dict[str, _Draft], child_id: str
) -> tuple[str, Decimal] | None:
    """A child's RevShare + CPA this month (its statement's, computed now or closed)."""
    draft = drafts.get(child_id)
    if draft is not None:
        with localcontext(EXACT):
            return draft.statement_id, draft.figures["revshare"] + draft.figures["cpa"]
    for statement in inputs.statements.get(child_id, []):
        if statement.period == inputs.first:
            with localcontext(EXACT):
                return statement.id, statement.revshare + statement.cpa
    return None


# -- writing ------------------------------------------------------------------------------

LINES: Table = StatementLine.__table__  # type: ignore[assignment]
ADJUSTMENTS: Table = StatementAdjustment.__table__  # type: ignore[assignment]


def store(session: Session, computed: Computed) -> RunResult:
    """Write the computed drafts in ``session``'s (write) transaction, after re-reading the
    operator's statements of the month and later (locked on PostgreSQL): what a concurrent
    close or run changed since the snapshot wins over the snapshot."""
    inputs, drafts, result = computed.inputs, computed.drafts, computed.result
    postgres = session.get_bind().dialect.name == "postgresql"
    lock = select(Operator.id).where(Operator.id == inputs.operator_id)
    if postgres:  # one run of the operator writes at a time (SQLite: the write lock)
        session.execute(lock.with_for_update())
    query = select(Statement).where(
        Statement.operator_id == inputs.operator_id, Statement.period >= inputs.first
    )
    if postgres:
        query = query.with_for_update()
    fresh: dict[str, list[Statement]] = defaultdict(list)
    for found in session.scalars(query):
        fresh[found.affiliate_id].append(found)
    current: dict[str, Statement] = {}
    renamed: dict[str, str] = {}
    for affiliate_id in sorted(drafts):
        mine = fresh.get(affiliate_id, [])
        month = next((s for s in mine if s.period == inputs.first), None)
        if month is not None and month.status == "closed":
            result.closed += 1  # closed while this run computed: it never changes
        elif any(s.period > inputs.first and s.status == "closed" for s in mine):
            result.skipped.append({"affiliate_id": affiliate_id, "reason": "later_month_closed"})
        elif month is not None and _newer(month, inputs.covered, computed.computed_at):
            result.skipped.append({"affiliate_id": affiliate_id, "reason": "newer_run"})
        else:
            if month is not None:
                current[affiliate_id] = month
                if month.id != drafts[affiliate_id].statement_id:  # another run created it
                    renamed[drafts[affiliate_id].statement_id] = month.id
                    drafts[affiliate_id].statement_id = month.id
            continue
        del drafts[affiliate_id]
    for draft in drafts.values():
        for item in draft.sub_affiliates:
            item["statement_id"] = renamed.get(item["statement_id"], item["statement_id"])
    stale = [
        s.id
        for affiliate_id, mine in fresh.items()
        for s in mine
        if s.period == inputs.first
        and s.status == "draft"
        and affiliate_id not in drafts
        and affiliate_id not in {item["affiliate_id"] for item in result.skipped}
        and not _newer(s, inputs.covered, computed.computed_at)
    ]
    _delete_children(session, [s.id for s in current.values()] + stale)
    for chunk in in_chunks(stale):
        session.execute(delete(Statement).where(Statement.id.in_(chunk)))
    result.removed = len(stale)
    for affiliate_id in sorted(drafts):
        draft = drafts[affiliate_id]
        statement: Statement | None = current.get(affiliate_id)
        if statement is None:
            statement = Statement(
                id=draft.statement_id,
                operator_id=inputs.operator_id,
                affiliate_id=affiliate_id,
                period=inputs.first,
                status="draft",
            )
            result.created += 1
        else:
            result.updated += 1
        currency = computed.payout[affiliate_id]
        _fill(
            statement, draft, inputs, currency, computed.rates[currency], now=computed.computed_at
        )
        session.add(statement)
        result.statements.append(statement.id)
    session.flush()
    line_rows = [
        {**line, "statement_id": draft.statement_id}
        for draft in drafts.values()
        for line in draft.lines.values()
    ]
    adjustment_rows = [
        {
            **row,
            "statement_id": draft.statement_id,
            "operator_id": inputs.operator_id,
            "affiliate_id": draft.affiliate_id,
        }
        for draft in drafts.values()
        for row in draft.adjustments
    ]
    for start in range(0, len(line_rows), 5000):
        session.execute(insert(LINES), line_rows[start : start + 5000])
    if adjustment_rows:
        session.execute(insert(ADJUSTMENTS), adjustment_rows)
    return result


def _newer(statement: Statement, covered: tuple[int, int], computed_at: datetime) -> bool:
    """A draft a concurrent run wrote from a later snapshot than this run's."""
    theirs = (statement.covered_tx_id, statement.covered_seq)
    return theirs > covered or (theirs == covered and statement.computed_at > computed_at)


def _fill(
    statement: Statement,
    draft: _Draft,
    inputs: _Inputs,
    payout_currency: str,
    rate: Decimal | None,
    *,
    now: datetime,
) -> None:
    amounts = draft.figures
    with localcontext(EXACT):
        total = amounts["revshare"] + amounts["cpa"] + amounts["sub_affiliate"]
        payable = rounded(total * rate) if rate is not None else None
        if payable is None and total == 0:
            payable = ZERO.quantize(CENT)  # nothing to pay needs no rate
    statement.reporting_currency = inputs.currency
    statement.payout_currency = payout_currency
    statement.fx_rate = rate
    statement.fx_rate_day = inputs.last
    statement.covered_tx_id, statement.covered_seq = inputs.covered
    statement.players = len(draft.lines)
    for name in ("ngr", "adjustments_ngr", "carry_in", "carry_out", "revshare", "cpa"):
        setattr(statement, name, amounts[name])
    statement.sub_affiliate = amounts["sub_affiliate"]
    statement.total = total
    statement.payable = payable
    statement.computed_at = now
    statement.closed_at = statement.closed_by = None
    statement.details = {
        "sections": [figures.section_json(section) for section in draft.sections],
        "sub_affiliates": [figures.section_json(item) for item in draft.sub_affiliates],
        "unvalued": {
            c: figures.section_json({"a": a})["a"] for c, a in sorted(draft.unvalued.items())
        },
    }
    if draft.pending:
        statement.details["pending_adjustments"] = sorted(draft.pending)


def _delete_children(session: Session, statement_ids: list[str]) -> None:
    for chunk in in_chunks(statement_ids):
        session.execute(delete(StatementLine).where(StatementLine.statement_id.in_(chunk)))
        session.execute(
            delete(StatementAdjustment).where(StatementAdjustment.statement_id.in_(chunk))
        )
