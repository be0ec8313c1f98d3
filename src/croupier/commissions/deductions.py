"""The operator's percentage deductions (gaming tax, admin fee, payment fee), versioned.

A version applies from its ``effective_from`` day until the next version of the same
scope (one brand, or all brands), so adding one never changes the days before it. The
ledger books deduction lines from the version in force on each line's day; adding a
version re-books the deduction lines of the days it covers in the same transaction, so
the ledger stays what a replay would build.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from croupier.commissions import ledger
from croupier.commissions.ledger_models import NgrDeduction
from croupier.commissions.statement_models import Statement
from croupier.kit import rows
from croupier.kit.errors import ApiError
from croupier.kit.money import amount_in_range, decimal_text
from croupier.projections.engine import MAIN
from croupier.projections.models import Checkpoint
from croupier.tenancy.models import Brand

SETTINGS = ("gaming_tax_pct", "admin_fee_pct", "payment_fee_pct")
FIELDS = frozenset({"brand_id", "effective_from", *SETTINGS})
MAX_PCT_SCALE = 8
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_PAGE = 5000


class DeductionError(ValueError):
    """A version that cannot be stored; ``details`` name each field's problem."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True, slots=True)
class NewVersion:
    brand_id: str | None
    effective_from: date
    gaming_tax_pct: Decimal | None
    admin_fee_pct: Decimal | None
    payment_fee_pct: Decimal | None


def parse(document: Any) -> NewVersion:
    """A version from the API body; every bad field is reported at once."""
    if not isinstance(document, Mapping):
        raise DeductionError("expected a JSON object", [_detail("body", "invalid_type", "object")])
    details = [
        _detail(str(name), "unknown_field", f"not one of {', '.join(sorted(FIELDS))}")
        for name in document
        if name not in FIELDS
    ]
    brand_id = document.get("brand_id")
    if brand_id is not None and (not isinstance(brand_id, str) or not 0 < len(brand_id) <= 64):
        details.append(_detail("brand_id", "invalid_value", "a brand id, or null for all"))
        brand_id = None
    effective_from = _day(document.get("effective_from"), details)
    pcts = {name: _pct(name, document.get(name), details) for name in SETTINGS}
    if details or effective_from is None:
        raise DeductionError("invalid deduction settings", details)
    return NewVersion(brand_id, effective_from, **pcts)


def _day(value: Any, details: list[dict[str, str]]) -> date | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    code = "missing" if value is None else "invalid_date"
    details.append(_detail("effective_from", code, "an ISO date, YYYY-MM-DD"))
    return None


def _pct(name: str, value: Any, details: list[dict[str, str]]) -> Decimal | None:
    if value is None:
        return None
    parsed: Decimal | None = None
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        parsed = Decimal(value)
    elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            parsed = None
    if parsed is None or not amount_in_range(parsed):
        details.append(_detail(name, "invalid_value", "a percentage: a number from 0 to 100"))
        return None
    exponent = parsed.as_tuple().exponent
    if not 0 <= parsed <= 100:
        details.append(_detail(name, "out_of_range", "a percentage from 0 to 100"))
        return None
    if isinstance(exponent, int) and -exponent > MAX_PCT_SCALE:
        details.append(_detail(name, "too_precise", f"at most {MAX_PCT_SCALE} decimal places"))
        return None
    return parsed


def _detail(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def add_version(session: Session, *, operator_id: str, version: NewVersion) -> dict[str, Any]:
    """Store the version (replacing one of the same scope and day) and re-book the
    deduction lines from its day on; the stored version and how many lines it re-booked."""
    if version.brand_id is not None:
        brand = session.get(Brand, version.brand_id)
        if brand is None or brand.operator_id != operator_id:
            raise DeductionError(
                "unknown brand",
                [_detail("brand_id", "unknown_brand", "not a brand of this operator")],
            )
    _refuse_closed_months(session, operator_id=operator_id, first=version.effective_from)
    _hold_projector(session)
    same_scope = (
        NgrDeduction.brand_id.is_(None)
        if version.brand_id is None
        else NgrDeduction.brand_id == version.brand_id
    )
    session.execute(
        delete(NgrDeduction).where(
            NgrDeduction.operator_id == operator_id,
            NgrDeduction.effective_from == version.effective_from,
            same_scope,
        )
    )
    row = NgrDeduction(
        id=str(uuid.uuid4()),
        operator_id=operator_id,
        brand_id=version.brand_id,
        effective_from=version.effective_from,
        gaming_tax_pct=version.gaming_tax_pct,
        admin_fee_pct=version.admin_fee_pct,
        payment_fee_pct=version.payment_fee_pct,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    rebooked = rebook(
        session,
        operator_id=operator_id,
        brand_id=version.brand_id,
        first=version.effective_from,
    )
    return {**version_json(row), "rebooked_lines": rebooked}


def _refuse_closed_months(session: Session, *, operator_id: str, first: date) -> None:
    """A version re-books deduction lines from its day on. A month with a closed statement
    never changes, and lines re-booked in place would never reach a later statement, so a
    version may start only after the last closed month."""
    closed = session.scalar(
        select(func.max(Statement.period)).where(
            Statement.operator_id == operator_id,
            Statement.status == "closed",
            Statement.period >= first.replace(day=1),
        )
    )
    if closed is not None:
        raise ApiError(
            409,
            "period_closed",
            f"a statement for {closed:%Y-%m} is closed: a deductions version may start "
            f"only after that month (effective_from {first.isoformat()} would re-book it)",
        )


def _hold_projector(session: Session) -> None:
    """Wait for a running projector batch and keep the next one out until this commits, so
    no batch books deductions with the versions this transaction replaces (SQLite's
    write lock, taken at BEGIN, already does this)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Checkpoint.name).where(Checkpoint.name == MAIN).with_for_update())


def rebook(session: Session, *, operator_id: str, brand_id: str | None, first: date) -> int:
    """Re-derive the deduction lines of the scope's GGR and deposit lines from ``first`` on;
    the number of deduction lines written."""
    table = ledger.NGR_LINES
    scope = [table.c.operator_id == operator_id, table.c.day >= first]
    if brand_id is not None:
        scope.append(table.c.brand_id == brand_id)
    session.execute(delete(table).where(*scope, table.c.component.in_(ledger.DEDUCTION_COMPONENTS)))
    deductions = ledger.load_deductions(session, [operator_id])[operator_id]
    written = 0
    after: tuple[date, str, str] | None = None
    order = (table.c.day, table.c.event_id, table.c.component)
    while True:
        query = (
            select(table)
            .where(*scope, table.c.component.in_((ledger.GGR, ledger.DEPOSIT)))
            .order_by(*order)
            .limit(_PAGE)
        )
        if after is not None:
            query = query.where(tuple_(*order) > tuple_(*after))
        bases = [dict(row) for row in session.execute(query).mappings()]
        if not bases:
            return written
        lines = [booked for base in bases for booked in ledger.deduction_lines(base, deductions)]
        for start in range(0, len(lines), 1000):
            rows.upsert(session, table, lines[start : start + 1000])
        written += len(lines)
        last = bases[-1]
        after = (last["day"], last["event_id"], last["component"])


def list_versions(
    session: Session, *, operator_id: str, brand_id: str | None = None
) -> list[dict[str, Any]]:
    query = select(NgrDeduction).where(NgrDeduction.operator_id == operator_id)
    if brand_id is not None:
        query = query.where(NgrDeduction.brand_id == brand_id)
    found = list(session.scalars(query))
    found.sort(key=lambda row: (row.brand_id is not None, row.brand_id or "", row.effective_from))
    return [version_json(row) for row in found]


def version_json(row: NgrDeduction) -> dict[str, Any]:
    return {
        "id": row.id,
        "brand_id": row.brand_id,
        "effective_from": row.effective_from.isoformat(),
        **{name: decimal_text(getattr(row, name)) for name in SETTINGS},
        "created_at": row.created_at,
    }
