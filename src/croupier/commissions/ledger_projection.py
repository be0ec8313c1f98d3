"""Projection handler for the NGR ledger: folds the log into ``ngr_lines``.

Runs after the bonuses handler (it reads the bonus histories that handler has just
updated). Most lines belong to one event and are written once; reported NGR series and
Fast Track bonus costs are re-booked whole whenever one of their events arrives, so the
lines depend on the set of events, not their order. Deduction percentages come from the
operator's ``ngr_deductions`` version in force on each line's day (changing them re-books
the affected lines in the same transaction, see ``commissions.deductions``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from croupier.commissions import ledger
from croupier.kit import rows
from croupier.projections.engine import Context, EventRow


class Handler:
    # ngr_deductions is operator configuration, like fx_rates: replay must keep it.
    tables: tuple[Table, ...] = (ledger.NGR_LINES,)

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        lines = [booked for event in events for booked in ledger.event_lines(event)]
        bases = [booked for booked in lines if booked["component"] in (ledger.GGR, ledger.DEPOSIT)]
        if bases:
            deductions = ledger.load_deductions(session, {base["operator_id"] for base in bases})
            for base in bases:
                lines.extend(ledger.deduction_lines(base, deductions[base["operator_id"]]))
        lines.extend(ledger.reported_lines(session, events))
        bonus_lines, stale = ledger.bonus_cost_lines(session, events)
        if stale:
            rows.delete(session, ledger.NGR_LINES, stale)
        lines.extend(bonus_lines)
        for start in range(0, len(lines), 1000):
            rows.upsert(session, ledger.NGR_LINES, lines[start : start + 1000])
