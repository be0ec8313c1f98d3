"""Tables of commission plans, CPA qualifications and statements.

Plans, their versions and their assignments to affiliates are operator configuration:
replay leaves them alone. CPA qualifications are a projection (rebuilt by replay).
Statements are documents: a draft is recomputed by every run, a closed one never changes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime


class CommissionPlan(Base):
    __tablename__ = "commission_plans"
    __table_args__ = (UniqueConstraint("operator_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CommissionPlanVersion(Base):
    """The plan's terms from ``effective_from`` (always the first day of a month) until the
    next version. Never edited: a change is a new version, for a month not yet closed."""

    __tablename__ = "commission_plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "effective_from"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("commission_plans.id"), index=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    number: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # cpa revshare hybrid
    # The validated terms (see plans.Terms), amounts as decimal strings.
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CommissionAssignment(Base):
    """From ``effective_from`` (a month's first day) the affiliate earns under ``plan_id``
    for ``brand_id`` (None: every brand without an assignment of its own). ``plan_id``
    None ends the earlier assignment."""

    __tablename__ = "commission_assignments"
    __table_args__ = (Index("ix_commission_assignments_affiliate", "operator_id", "affiliate_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"))
    plan_id: Mapped[str | None] = mapped_column(ForeignKey("commission_plans.id"))
    brand_id: Mapped[str | None] = mapped_column(String(64))
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CpaQualification(Base):
    """A projection row per qualified player: when, under which plan version, by which
    rule, and the event that completed it. Recomputed from the player's events."""

    __tablename__ = "cpa_qualifications"
    __table_args__ = (
        Index("ix_cpa_qualifications_affiliate", "operator_id", "affiliate_id", "qualified_at"),
    )

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    affiliate_id: Mapped[str] = mapped_column(String(36))
    plan_id: Mapped[str] = mapped_column(String(36))
    version_id: Mapped[str] = mapped_column(String(36))
    # The CPA in the operator's reporting currency.
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(10))
    qualified_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # first_deposit, min_first_deposit, min_total_deposits, min_turnover, min_bets
    rule: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(36))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    # When Croupier stored the qualifying event (the postback guard compares it).
    event_received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Progress at qualification: deposits, deposits_total, turnover, bets.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)


class Statement(Base):
    """One affiliate's month. Money in the operator's reporting currency, exact; only
    ``payable`` is rounded (2 places, half up), in the affiliate's payout currency."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("operator_id", "affiliate_id", "period"),
        Index("ix_statements_period", "operator_id", "period", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36))
    affiliate_id: Mapped[str] = mapped_column(ForeignKey("affiliates.id"))
    period: Mapped[date] = mapped_column(Date)  # the month's first day
    status: Mapped[str] = mapped_column(String(16))  # draft closed
    reporting_currency: Mapped[str] = mapped_column(String(10))
    payout_currency: Mapped[str] = mapped_column(String(10))
    # 1 reporting_currency = fx_rate payout_currency, the rate of fx_rate_day (None: missing).
    fx_rate: Mapped[Decimal | None] = mapped_column(Money())
    fx_rate_day: Mapped[date] = mapped_column(Date)
    # The projector's checkpoint when computed: ledger lines up to it are covered.
    covered_tx_id: Mapped[int] = mapped_column(BigInteger)
    covered_seq: Mapped[int] = mapped_column(BigInteger)
    players: Mapped[int] = mapped_column(Integer)
    ngr: Mapped[Decimal] = mapped_column(Money())
    adjustments_ngr: Mapped[Decimal] = mapped_column(Money())
    carry_in: Mapped[Decimal] = mapped_column(Money())
    carry_out: Mapped[Decimal] = mapped_column(Money())
    revshare: Mapped[Decimal] = mapped_column(Money())
    cpa: Mapped[Decimal] = mapped_column(Money())
    sub_affiliate: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    payable: Mapped[Decimal | None] = mapped_column(Money())
    # Sections per plan (tiers, bands, policy), sub-affiliate items, unvalued amounts.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(36))


class StatementLine(Base):
    """One player's month on a statement, per component, in the reporting currency."""

    __tablename__ = "statement_lines"

    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    player_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(36))
    deposits: Mapped[Decimal] = mapped_column(Money())
    ggr: Mapped[Decimal] = mapped_column(Money())
    bonus_cost: Mapped[Decimal] = mapped_column(Money())
    chargeback: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money())
    gaming_tax: Mapped[Decimal] = mapped_column(Money())
    admin_fee: Mapped[Decimal] = mapped_column(Money())
    payment_fee: Mapped[Decimal] = mapped_column(Money())
    ngr_computed: Mapped[Decimal] = mapped_column(Money())
    # The operator's reported NGR for periods ending in the month (None: none sent).
    ngr_reported: Mapped[Decimal | None] = mapped_column(Money())
    ngr: Mapped[Decimal] = mapped_column(Money())  # reported when sent, else computed
    revshare: Mapped[Decimal | None] = mapped_column(Money())
    cpa: Mapped[Decimal] = mapped_column(Money())
    cpa_rule: Mapped[str | None] = mapped_column(String(32))
    cpa_qualified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Lines left out of the figures for want of an exchange rate: {currency: amount}.
    unvalued: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class StatementAdjustment(Base):
    """A ledger line (or a CPA) of an already closed month, booked on a later statement."""

    __tablename__ = "statement_adjustments"
    __table_args__ = (
        Index("ix_statement_adjustments_statement", "statement_id"),
        Index("ix_statement_adjustments_item", "operator_id", "affiliate_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    statement_id: Mapped[str] = mapped_column(String(36))
    operator_id: Mapped[str] = mapped_column(String(36))
    affiliate_id: Mapped[str] = mapped_column(String(36))
    for_period: Mapped[date] = mapped_column(Date)
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    # A ledger component, "cpa", or "computed_replaced" (reported NGR replaces computed).
    component: Mapped[str] = mapped_column(String(24))
    # The ledger line's event (None for computed_replaced).
    event_id: Mapped[str | None] = mapped_column(String(36))
    day: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    currency: Mapped[str | None] = mapped_column(String(10))
    native_amount: Mapped[Decimal | None] = mapped_column(Money())
    # The reporting-currency effect on NGR (or the CPA); 0 for an informational item.
    amount: Mapped[Decimal] = mapped_column(Money())
    note: Mapped[str | None] = mapped_column(Text)
