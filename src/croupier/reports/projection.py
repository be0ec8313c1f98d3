"""Projection handler for reports (being built)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from croupier.projections.engine import Context, EventRow


class Handler:
    tables: tuple[Table, ...] = ()

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        return None
