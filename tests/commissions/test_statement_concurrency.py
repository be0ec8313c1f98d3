"""A statement run computes in a read transaction and writes in a short one: ingest is not
held up by a long run, and the write re-checks what changed meanwhile (a statement closed
since stays closed, two runs do not duplicate a statement). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from statement_support import (
    RV,
    close,
    post,
    project_and_run,
    registration,
    revshare_affiliate,
    rv,
    send_rv,
    statement,
)

from croupier.commissions import statements
from croupier.commissions.statement_models import Statement, StatementLine
from croupier.kit.db import write_session
from factories import Tenant

pytestmark = pytest.mark.anyio
OCTOBER = date(2026, 10, 1)


async def _october(client: httpx.AsyncClient, engine: Engine, tenant: Tenant) -> str:
    """A 25 % affiliate whose players won the operator 1000 and lost it 240 in October."""
    affiliate_id = await revshare_affiliate(client, tenant, "busy")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "a", "2026-10-01T08:00:00Z"),
        rv(tenant, "wager_settled", "a", "2026-10-10T10:00:00Z", "-1000"),
        registration(engine, tenant, affiliate_id, "b", "2026-10-02T08:00:00Z"),
        rv(tenant, "wager_settled", "b", "2026-10-11T10:00:00Z", "240.125"),
    )
    return affiliate_id


def _without_times(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != "computed_at"}


async def test_ingest_answers_while_a_run_computes(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    affiliate_id = await _october(client, engine, tenant)
    await project_and_run(client, engine, tenant, "2026-10")
    alone = await statement(client, tenant, "2026-10", affiliate_id)
    assert (alone["ngr"], alone["revshare"]) == ("759.88", "189.97")
    # The next run stops in its compute phase until the test lets it go (at most 20 s).
    entered, release = threading.Event(), threading.Event()
    original = statements._sub_affiliates

    def slow(*args: Any) -> None:
        entered.set()
        release.wait(20)
        original(*args)

    monkeypatch.setattr(statements, "_sub_affiliates", slow)
    running = asyncio.create_task(
        post(client, tenant.admin_key, "/api/v1/statements/run", {"period": "2026-10"})
    )
    deadline = time.monotonic() + 10
    while not entered.is_set():
        assert time.monotonic() < deadline, "the run never reached its compute phase"
        await asyncio.sleep(0.01)
    started = time.monotonic()
    event = rv(tenant, "wager_settled", "a", "2026-11-02T10:00:00Z", "-5")
    ingest = await asyncio.wait_for(post(client, tenant.key, RV, {"events": [event]}), timeout=10)
    waited = time.monotonic() - started
    assert ingest.status_code == 200, ingest.text
    assert ingest.json()["summary"]["accepted"] == 1
    assert not running.done(), "the run should still be computing"
    assert waited < 5, waited
    release.set()
    answer = await asyncio.wait_for(running, timeout=20)
    assert answer.status_code == 200, answer.text
    assert answer.json()["updated"] == 1
    concurrent = await statement(client, tenant, "2026-10", affiliate_id)
    assert _without_times(concurrent) == _without_times(alone)


async def test_a_statement_closed_during_the_run_is_not_overwritten(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await _october(client, engine, tenant)
    await project_and_run(client, engine, tenant, "2026-10")
    before = await statement(client, tenant, "2026-10", affiliate_id)
    later = datetime.now(UTC) + timedelta(seconds=1)
    with Session(engine) as session:
        computed = statements.compute(
            session, operator_id=tenant.operator_id, period=OCTOBER, now=later
        )
    assert (await close(client, tenant, before["id"])).status_code == 200
    closed = await statement(client, tenant, "2026-10", affiliate_id)
    with write_session(engine) as session, session.begin():
        result = statements.store(session, computed)
    assert (result.closed, result.updated, result.created, result.statements) == (1, 0, 0, [])
    assert await statement(client, tenant, "2026-10", affiliate_id) == closed
    assert closed["status"] == "closed"


async def test_two_runs_at_once_write_one_statement(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await _october(client, engine, tenant)
    await project_and_run(client, engine, tenant, "2026-11")  # projects; October not yet run
    now = datetime.now(UTC)
    computed = []
    for offset in (0, 1, 2):
        with Session(engine) as session:
            computed.append(
                statements.compute(
                    session,
                    operator_id=tenant.operator_id,
                    period=OCTOBER,
                    now=now + timedelta(seconds=offset),
                )
            )
    first, second, third = computed
    assert first.drafts[affiliate_id].statement_id != third.drafts[affiliate_id].statement_id
    with write_session(engine) as session, session.begin():
        assert statements.store(session, second).created == 1
    with write_session(engine) as session, session.begin():
        # Computed from an older snapshot than the stored draft: left as it is.
        older = statements.store(session, first)
    assert older.skipped == [{"affiliate_id": affiliate_id, "reason": "newer_run"}]
    with write_session(engine) as session, session.begin():
        newer = statements.store(session, third)
    assert (newer.created, newer.updated) == (0, 1)
    with Session(engine) as session:
        found = session.scalars(select(Statement).where(Statement.period == OCTOBER)).all()
        assert [s.id for s in found] == newer.statements
        assert found[0].computed_at == now + timedelta(seconds=2)
        lines = session.scalar(select(func.count()).select_from(StatementLine))
    assert lines == 2
    document = await statement(client, tenant, "2026-10", affiliate_id)
    assert (document["ngr"], document["revshare"]) == ("759.88", "189.97")
