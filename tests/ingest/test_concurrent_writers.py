"""Writers in concurrent transactions (PostgreSQL: ``serve --workers N``, ``croupier
consume``) never both settle one DataPulse bet."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from helpers import bet, pending_of, settle
from sqlalchemy.engine import Engine

from croupier.ingest.outcome import Outcome, PendingEvent, Status
from croupier.ingest.store import EventStore, _write
from factories import make_tenant

pytestmark = pytest.mark.integration


def _second_writer_while_first_is_open(
    engine: Engine, first: PendingEvent, second: PendingEvent
) -> tuple[Outcome, Outcome, bool]:
    """The first event written in a transaction held open while another writer writes the
    second; returns both outcomes, and whether the second had to wait for the commit."""
    with ThreadPoolExecutor(max_workers=1) as pool, engine.connect() as conn:
        transaction = conn.begin()
        [first_outcome] = _write(conn, [first], [])
        later: Future[list[Outcome]] = pool.submit(EventStore(engine).write, [second], [])
        time.sleep(0.5)  # the second writer's transaction has long reached its checks
        waited = not later.done()
        transaction.commit()
        [second_outcome] = later.result(timeout=30)
    return first_outcome, second_outcome, waited


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (
            bet("b1", bet_result="win", bet_result_amount=2),
            settle("w1", "b1"),
            "parent_transaction_id",
        ),
        (settle("w2", "b2"), bet("b2", bet_result="loss", bet_result_amount=-5), "bet_result"),
    ],
    ids=["pattern A first", "pattern B first"],
)
def test_the_later_of_two_concurrent_settlements_of_one_bet_is_rejected(
    pg_engine: Engine, first: dict[str, object], second: dict[str, object], field: str
) -> None:
    tenant = make_tenant(pg_engine, name="concurrent")
    accepted, refused, waited = _second_writer_while_first_is_open(
        pg_engine, pending_of(tenant, first), pending_of(tenant, second)
    )
    assert accepted.status is Status.ACCEPTED
    assert waited, "the second writer must wait for the first one's commit"
    assert refused.status is Status.REJECTED
    assert [(e.field, e.code) for e in refused.errors] == [(field, "double_settlement")]


def test_writers_of_unrelated_bets_do_not_wait_for_each_other(pg_engine: Engine) -> None:
    tenant = make_tenant(pg_engine, name="unrelated")
    first, second, waited = _second_writer_while_first_is_open(
        pg_engine,
        pending_of(tenant, bet("b3", bet_result="win", bet_result_amount=2)),
        pending_of(tenant, settle("w4", "b4")),
    )
    assert (first.status, second.status) == (Status.ACCEPTED, Status.ACCEPTED)
    assert not waited
