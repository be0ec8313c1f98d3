"""Concurrent requests share commits, and each still gets its own answer."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from helpers import dp_event, headers, pending_event, stored_events
from sqlalchemy.engine import Engine

from factories import Tenant

pytestmark = pytest.mark.anyio


async def test_concurrent_requests_are_grouped_into_fewer_commits(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    writer = client._transport.app.state.services.writer  # type: ignore[attr-defined]
    before = writer.groups_committed
    requests = [
        client.post(
            "/v2/s2s/batch",
            json=[dp_event(transaction_id=f"r{r}e{e}") for e in range(10)],
            headers=headers(tenant.key),
        )
        for r in range(40)
    ]
    responses = await asyncio.gather(*requests)
    assert all(response.status_code == 200 for response in responses)
    assert all(r.json()["summary"]["accepted"] == 10 for r in responses)
    commits = writer.groups_committed - before
    assert commits < 40  # several requests rode on one commit
    assert len(stored_events(engine)) == 400
    ids = {result["event_id"] for r in responses for result in r.json()["results"]}
    assert len(ids) == 400


async def test_a_request_the_store_refuses_fails_alone(
    settings: object, engine: Engine, tenant: Tenant
) -> None:
    """If a group fails for a reason other than the store being down, each request is
    committed alone: only the one at fault fails, its neighbours are stored."""
    from croupier.ingest.outcome import Status
    from croupier.ingest.store import EventStore
    from croupier.ingest.writer import GroupWriter

    poison = pending_event(tenant, "bad")
    poison.row["kind"] = None  # a NOT NULL column: the store refuses the whole group
    writer = GroupWriter(EventStore(engine), queue_size=10, max_group_events=100)
    await writer.start()
    try:
        results = await asyncio.gather(
            writer.write([pending_event(tenant, "a")], []),
            writer.write([poison], []),
            writer.write([pending_event(tenant, "b")], []),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    good_a, bad, good_b = results
    assert isinstance(bad, Exception)
    assert [o.status for o in good_a] == [Status.ACCEPTED]  # type: ignore[union-attr]
    assert [o.status for o in good_b] == [Status.ACCEPTED]  # type: ignore[union-attr]
    assert sorted(e.transaction_id or "" for e in stored_events(engine)) == ["a", "b"]
