"""The projector reads the log from the driver's rows, converted a column at a time: the
values must be exactly those SQLAlchemy's column types give (same types, same UTC)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from test_projector import FUTURE, insert_event

from croupier.dialects import datapulse, fasttrack
from croupier.dialects.fasttrack import FtType
from croupier.events.models import Event
from croupier.ingest.service import event_row
from croupier.kit.db import write_session
from croupier.projections.engine import COLUMNS, EventRecord
from factories import Tenant
from projection_support import D, ft_casino, projector


def stored_rows(tenant: Tenant) -> list[dict[str, Any]]:
    """Events with every kind of value the converted columns hold, NULLs included."""
    drafts = [
        datapulse.parse(
            {"client_user_id": "p-1", "event_name": "registration", "timestamp": 1790000000},
            future_limit=FUTURE,
        ),
        datapulse.parse(
            {
                "client_user_id": "p-1",
                "event_name": "deposit",
                "timestamp": 1790000060,
                "transaction_id": "d-1",
                "amount": D("15.50"),
                "currency": "EUR",
            },
            future_limit=FUTURE,
        ),
        fasttrack.parse(
            FtType.CASINO,
            ft_casino(amount=D("0.000001"), exchange_rate=D("1.2345678901")),
            future_limit=FUTURE,
        ),
        fasttrack.parse(
            FtType.CASINO,
            ft_casino(activity_id="a-2", type="Win", amount=D("12345678.99"), is_round_end=True),
            future_limit=FUTURE,
        ),
    ]
    rows = []
    for number, draft in enumerate(drafts):
        assert not isinstance(draft, list), draft
        # The last one as a test key sends it: is_test true.
        key = replace(tenant.ingest_key(), is_test=number == 3)
        received = datetime(2026, 11, 1, 12, 0, number, 123456, tzinfo=UTC)
        rows.append(event_row(draft, key, source="http", received_at=received))
    return rows


def test_the_log_reads_as_the_column_types_give_it(engine: Engine, tenant: Tenant) -> None:
    with write_session(engine) as session, session.begin():
        for row in stored_rows(tenant):
            insert_event(session.connection(), row)
    reader = projector(engine)
    with Session(engine) as session:
        read = reader._read(session, 0, 0, 100)
        expected = [
            EventRecord._make(row)
            for row in session.execute(select(*COLUMNS).order_by(Event.seq)).all()
        ]
    assert len(read) == len(expected) == 4
    for got, want in zip(read, expected, strict=True):
        for name in EventRecord._fields:
            value, wanted = getattr(got, name), getattr(want, name)
            assert value == wanted, name
            assert type(value) is type(wanted), name
            if isinstance(wanted, datetime):
                assert value.tzinfo is wanted.tzinfo is UTC, name
    amounts = [(event.amount, event.exchange_rate) for event in read]
    assert amounts[2] == (D("0.000001"), D("1.2345678901"))
    assert read[0].amount is None
    assert read[3].attributes["is_round_end"] is True
    assert [event.is_test for event in read] == [False, False, False, True]
