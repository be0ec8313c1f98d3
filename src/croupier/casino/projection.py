"""Projection handler for casino: game rounds and game sessions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from croupier.casino import rounds, sessions
from croupier.casino.models import ROUNDS, SESSIONS
from croupier.projections.engine import Context, EventRow


class Handler:
    tables: tuple[Table, ...] = (ROUNDS, SESSIONS)

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        # Reads first, then writes: on PostgreSQL the writes are sent without waiting, and
        # a read sent after them would wait for the server to finish them.
        found_rounds = rounds.read(session, events)
        found_sessions = sessions.read(session, events, context)
        rounds.write(session, found_rounds)
        sessions.write(session, found_sessions)
