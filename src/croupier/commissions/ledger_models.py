"""Tables of the NGR ledger: the ledger lines (a projection) and the operator's deductions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, Money, UtcDateTime


class NgrLine(Base):
    """One event's contribution to one NGR component (see ``commissions.ledger``).

    ``amount`` is signed as a contribution to NGR, in the event currency: GGR is positive
    when the operator won, every deduction is negative; ``deposit`` lines are information
    (and the base of the payment fee), not NGR; ``ngr_reported`` is the change of the
    operator-reported NGR total for ``period_start``..``period_end``. ``rated_amount`` is
    ``amount`` in the reporting currency when the event carried its own rate; otherwise the
    line is valued when read, with the fx_rates of ``day``. A projection table: replay
    rebuilds it."""

    __tablename__ = "ngr_lines"
    __table_args__ = (
        Index("ix_ngr_lines_operator_day", "operator_id", "day"),
        Index("ix_ngr_lines_operator_player", "operator_id", "player_ref", "day"),
        # Lines booked after a checkpoint: the late lines of closed months.
        Index("ix_ngr_lines_position", "operator_id", "tx_id", "seq"),
    )

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    component: Mapped[str] = mapped_column(String(24), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(64))
    player_ref: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money())
    rated_amount: Mapped[Decimal | None] = mapped_column(Money())
    seq: Mapped[int] = mapped_column(BigInteger)
    tx_id: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)


class NgrDeduction(Base):
    """A version of an operator's percentage deductions, in force from ``effective_from``
    until the next version for the same scope. ``brand_id`` None: every brand without a
    version of its own. A None percentage: that deduction does not apply. Operator
    configuration, not derived from the log: replay leaves it alone."""

    __tablename__ = "ngr_deductions"
    __table_args__ = (Index("ix_ngr_deductions_operator", "operator_id", "effective_from"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36), ForeignKey("operators.id"))
    brand_id: Mapped[str | None] = mapped_column(String(64))
    effective_from: Mapped[date] = mapped_column(Date)
    gaming_tax_pct: Mapped[Decimal | None] = mapped_column(Money())
    admin_fee_pct: Mapped[Decimal | None] = mapped_column(Money())
    payment_fee_pct: Mapped[Decimal | None] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
