"""Commission plans: versions with effective dates, and their assignment to affiliates.

Rules:
- A version takes effect on the first day of a month and applies to whole months: a
  statement month, and a CPA qualified in it, use the version in force on the month's
  first day. Versions are never edited; a change is a new version.
- An assignment gives an affiliate a plan from a month's first day, for one brand or (no
  brand) for every brand without an assignment of its own; a ``plan_id`` of None ends
  the earlier one. The latest assignment in force wins, a brand's own before the
  all-brands one.
- A change never rewrites a past period: a version or assignment for a month on or
  before a closed statement of an affiliate it concerns is refused (409).

Callers own the transaction.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from croupier.affiliates import management
from croupier.commissions import plan_terms
from croupier.commissions.plan_terms import Terms
from croupier.commissions.statement_models import (
    CommissionAssignment,
    CommissionPlan,
    CommissionPlanVersion,
    Statement,
)
from croupier.kit.errors import ApiError, invalid
from croupier.tenancy.models import Brand


def month_start(value: date) -> date:
    return value.replace(day=1)


def _first_of_month(value: date, field_name: str) -> date:
    if value.day != 1:
        raise invalid(field_name, "plans change on a month's first day (YYYY-MM-01)")
    return value


def _not_found(what: str, object_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} {object_id} for this operator")


def _closed_conflict(affiliate_id: str, closed: date, effective_from: date) -> ApiError:
    return ApiError(
        409,
        "period_closed",
        f"affiliate {affiliate_id} has a closed statement for {closed:%Y-%m}: a change "
        f"from {effective_from} would rewrite it; start it after that month",
    )


# -- plans and versions -------------------------------------------------------------------


def create_plan(
    session: Session,
    *,
    operator_id: str,
    name: str,
    version: Mapping[str, Any],
    now: datetime,
) -> CommissionPlan:
    name = name.strip()
    if not name:
        raise invalid("name", "a non-empty name")
    taken = session.scalar(
        select(CommissionPlan.id).where(
            CommissionPlan.operator_id == operator_id, CommissionPlan.name == name
        )
    )
    if taken is not None:
        raise ApiError(409, "conflict", f"a plan named {name!r} already exists")
    plan = CommissionPlan(id=str(uuid.uuid4()), operator_id=operator_id, name=name, created_at=now)
    session.add(plan)
    session.flush()
    add_version(session, operator_id=operator_id, plan_id=plan.id, version=version, now=now)
    return plan


def add_version(
    session: Session,
    *,
    operator_id: str,
    plan_id: str,
    version: Mapping[str, Any],
    now: datetime,
) -> CommissionPlanVersion:
    plan = get_plan(session, operator_id=operator_id, plan_id=plan_id)
    effective_from = _first_of_month(version["effective_from"], "effective_from")
    terms = plan_terms.parse(version)
    existing = session.scalar(
        select(CommissionPlanVersion.id).where(
            CommissionPlanVersion.plan_id == plan.id,
            CommissionPlanVersion.effective_from == effective_from,
        )
    )
    if existing is not None:
        raise ApiError(
            409,
            "conflict",
            f"the plan already has a version from {effective_from}; versions are never "
            "edited: add one from a later month",
        )
    affiliates = session.scalars(
        select(CommissionAssignment.affiliate_id).where(CommissionAssignment.plan_id == plan.id)
    )
    _ensure_open(session, affiliate_ids=set(affiliates), effective_from=effective_from)
    number = session.scalar(select(func.count()).where(CommissionPlanVersion.plan_id == plan.id))
    row = CommissionPlanVersion(
        id=str(uuid.uuid4()),
        plan_id=plan.id,
        operator_id=operator_id,
        number=int(number or 0) + 1,
        effective_from=effective_from,
        kind=terms.kind,
        terms=plan_terms.to_json(terms),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def affiliates_of(session: Session, *, plan_id: str) -> set[str]:
    """The affiliates ever assigned the plan."""
    query = select(CommissionAssignment.affiliate_id).where(CommissionAssignment.plan_id == plan_id)
    return set(session.scalars(query))


def get_plan(session: Session, *, operator_id: str, plan_id: str) -> CommissionPlan:
    plan = session.get(CommissionPlan, plan_id)
    if plan is None or plan.operator_id != operator_id:
        raise _not_found("commission plan", plan_id)
    return plan


def list_plans(session: Session, *, operator_id: str) -> list[CommissionPlan]:
    query = (
        select(CommissionPlan)
        .where(CommissionPlan.operator_id == operator_id)
        .order_by(CommissionPlan.created_at, CommissionPlan.id)
    )
    return list(session.scalars(query))


def versions_of(session: Session, *, plan_ids: list[str]) -> dict[str, list[CommissionPlanVersion]]:
    found: dict[str, list[CommissionPlanVersion]] = defaultdict(list)
    query = (
        select(CommissionPlanVersion)
        .where(CommissionPlanVersion.plan_id.in_(plan_ids))
        .order_by(CommissionPlanVersion.effective_from)
    )
    for version in session.scalars(query):
        found[version.plan_id].append(version)
    return found


# -- assignments --------------------------------------------------------------------------


def assign(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str,
    plan_id: str | None,
    brand_id: str | None,
    effective_from: date,
    now: datetime,
) -> CommissionAssignment:
    management.get_affiliate(
        session, operator_id=operator_id, affiliate_id=affiliate_id, field="affiliate_id"
    )
    effective_from = _first_of_month(effective_from, "effective_from")
    if plan_id is not None:
        plan = session.get(CommissionPlan, plan_id)
        if plan is None or plan.operator_id != operator_id:
            raise invalid("plan_id", f"no commission plan {plan_id} for this operator", "not_found")
    if brand_id is not None:
        brand = session.get(Brand, brand_id)
        if brand is None or brand.operator_id != operator_id:
            raise invalid("brand_id", f"no brand {brand_id} for this operator", "not_found")
    clash = session.scalar(
        select(CommissionAssignment.id).where(
            CommissionAssignment.affiliate_id == affiliate_id,
            CommissionAssignment.effective_from == effective_from,
            CommissionAssignment.brand_id.is_(None)
            if brand_id is None
            else CommissionAssignment.brand_id == brand_id,
        )
    )
    if clash is not None:
        raise ApiError(
            409,
            "conflict",
            f"the affiliate already has an assignment from {effective_from} for "
            f"{'every brand' if brand_id is None else 'this brand'}",
        )
    _ensure_open(session, affiliate_ids={affiliate_id}, effective_from=effective_from)
    row = CommissionAssignment(
        id=str(uuid.uuid4()),
        operator_id=operator_id,
        affiliate_id=affiliate_id,
        plan_id=plan_id,
        brand_id=brand_id,
        effective_from=effective_from,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def list_assignments(
    session: Session, *, operator_id: str, affiliate_id: str | None
) -> list[CommissionAssignment]:
    query = select(CommissionAssignment).where(CommissionAssignment.operator_id == operator_id)
    if affiliate_id is not None:
        query = query.where(CommissionAssignment.affiliate_id == affiliate_id)
    query = query.order_by(
        CommissionAssignment.affiliate_id,
        CommissionAssignment.effective_from,
        CommissionAssignment.created_at,
    )
    return list(session.scalars(query))


def _ensure_open(session: Session, *, affiliate_ids: set[str], effective_from: date) -> None:
    if not affiliate_ids:
        return
    query = (
        select(Statement.affiliate_id, func.max(Statement.period))
        .where(
            Statement.affiliate_id.in_(sorted(affiliate_ids)),
            Statement.status == "closed",
            Statement.period >= effective_from,
        )
        .group_by(Statement.affiliate_id)
        .order_by(Statement.affiliate_id)
    )
    row = session.execute(query.limit(1)).first()
    if row is not None:
        raise _closed_conflict(row[0], row[1], effective_from)


# -- what is in force ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    plan_id: str
    number: int
    effective_from: date
    terms: Terms


@dataclass
class PlanBook:
    """One operator's plans and assignments, read once: which version applies to an
    affiliate's players of a brand on a day."""

    versions: dict[str, list[Version]] = field(default_factory=dict)
    # affiliate_id -> brand_id ('' for all brands) -> [(effective_from, plan_id)] sorted
    assignments: dict[str, dict[str, list[tuple[date, str | None]]]] = field(default_factory=dict)

    def version_for(self, affiliate_id: str, brand_id: str, day: date) -> Version | None:
        by_brand = self.assignments.get(affiliate_id)
        if by_brand is None:
            return None
        plan_id = _in_force(by_brand.get(brand_id), day)
        if plan_id is None and not _has_started(by_brand.get(brand_id), day):
            plan_id = _in_force(by_brand.get(""), day)
        if plan_id is None:
            return None
        versions = self.versions.get(plan_id, [])
        index = bisect_right([v.effective_from for v in versions], day)
        return versions[index - 1] if index else None

    def affiliates(self) -> list[str]:
        return sorted(self.assignments)

    def has_cpa(self) -> bool:
        return any(v.terms.cpa is not None for vs in self.versions.values() for v in vs)

    def cpa_window(self) -> timedelta | None:
        """The longest CPA window of any version (None: some version has none)."""
        windows = [
            v.terms.cpa.window_days
            for vs in self.versions.values()
            for v in vs
            if v.terms.cpa is not None
        ]
        if not windows or any(days is None for days in windows):
            return None
        return timedelta(days=max(days for days in windows if days is not None))

    def cpa_affiliates(self) -> set[str]:
        """Affiliates ever assigned a plan that has (or had) CPA terms."""
        plans = {
            plan_id
            for plan_id, versions in self.versions.items()
            if any(version.terms.cpa is not None for version in versions)
        }
        return {
            affiliate_id
            for affiliate_id, by_brand in self.assignments.items()
            if any(plan_id in plans for history in by_brand.values() for _, plan_id in history)
        }


def _in_force(history: list[tuple[date, str | None]] | None, day: date) -> str | None:
    if not history:
        return None
    index = bisect_right([start for start, _ in history], day)
    return history[index - 1][1] if index else None


def _has_started(history: list[tuple[date, str | None]] | None, day: date) -> bool:
    """Whether a brand's own assignment is in force on ``day`` (even one ending the plan)."""
    return history is not None and bool(history) and history[0][0] <= day


# Prebuilt: the projector loads the book every batch (a select built anew costs a few
# hundred µs of Python, more than these small reads).
_VERSION_ROWS: Table = CommissionPlanVersion.__table__  # type: ignore[assignment]
_ASSIGNMENT_ROWS: Table = CommissionAssignment.__table__  # type: ignore[assignment]
_VERSION_COLUMNS = ("id", "plan_id", "number", "effective_from", "terms")
_ASSIGNMENT_COLUMNS = ("affiliate_id", "brand_id", "effective_from", "plan_id")
_VERSIONS = (
    select(*(_VERSION_ROWS.c[name] for name in _VERSION_COLUMNS))
    .where(_VERSION_ROWS.c.operator_id == bindparam("operator_id"))
    .order_by(_VERSION_ROWS.c.plan_id, _VERSION_ROWS.c.effective_from)
)
_ASSIGNMENTS = (
    select(*(_ASSIGNMENT_ROWS.c[name] for name in _ASSIGNMENT_COLUMNS))
    .where(_ASSIGNMENT_ROWS.c.operator_id == bindparam("operator_id"))
    .order_by(_ASSIGNMENT_ROWS.c.effective_from, _ASSIGNMENT_ROWS.c.created_at)
)


def load_book(session: Session, *, operator_id: str) -> PlanBook:
    book = PlanBook()
    params = {"operator_id": operator_id}
    # Through the session (not its connection): callers that add a plan or an assignment
    # read the book back in the same unit of work, and the session flushes it first.
    for row in session.execute(_VERSIONS, params):
        book.versions.setdefault(row.plan_id, []).append(
            Version(
                row.id, row.plan_id, row.number, row.effective_from, plan_terms.from_json(row.terms)
            )
        )
    assignments = session.execute(_ASSIGNMENTS, params)
    for affiliate_id, brand_id, effective_from, plan_id in assignments:
        history = book.assignments.setdefault(affiliate_id, {}).setdefault(brand_id or "", [])
        history.append((effective_from, plan_id))
    return book


# -- JSON shapes --------------------------------------------------------------------------


def version_json(version: CommissionPlanVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "number": version.number,
        "effective_from": version.effective_from.isoformat(),
        "created_at": version.created_at,
        **version.terms,
    }


def plan_json(plan: CommissionPlan, versions: list[CommissionPlanVersion]) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "created_at": plan.created_at,
        "versions": [version_json(version) for version in versions],
    }


def assignment_json(assignment: CommissionAssignment) -> dict[str, Any]:
    return {
        "id": assignment.id,
        "affiliate_id": assignment.affiliate_id,
        "plan_id": assignment.plan_id,
        "brand_id": assignment.brand_id,
        "effective_from": assignment.effective_from.isoformat(),
        "created_at": assignment.created_at,
    }
