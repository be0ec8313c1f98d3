"""Projection handler for reports: folds the log into player-day facts.

Every part of a player-day row is a sum over its events, so a batch adds its deltas to
the stored rows: the result depends on the set of events, not on their order. Exchange
rates from the fx_rates table are applied when reports are read, not here, so loading a
rate later needs no replay.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from croupier.kit import rows
from croupier.projections.engine import Context, EventRow
from croupier.reports import daily
from croupier.reports.models import PlayerDay

PLAYER_DAYS: Table = PlayerDay.__table__  # type: ignore[assignment]


class Handler:
    # fx_rates is loaded by operators, not derived from the log: replay must keep it.
    tables: tuple[Table, ...] = (PLAYER_DAYS,)

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        deltas = daily.fold(events)
        if not deltas:
            return
        existing = rows.load(session, PLAYER_DAYS, deltas.keys())
        merged = [daily.merge(key, existing.get(key), delta) for key, delta in deltas.items()]
        rows.upsert(session, PLAYER_DAYS, merged)
