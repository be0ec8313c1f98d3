"""A full writer queue refuses new requests at once (503 overloaded), instead of piling up.

The store is made slow from outside: another connection holds the write lock (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's table lock on ``events``) for a couple of seconds. The
writer's commit waits behind it, its small queue fills, and every further request must be
turned away quickly, with nothing stored; the queued ones complete once the lock goes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import httpx
import pytest
from faults_support import assert_retryable_503, count_events, dp_event, headers, stored_ids
from sqlalchemy.engine import Engine, make_url

from conftest import app_client
from croupier.settings import Settings
from factories import Tenant

pytestmark = pytest.mark.anyio

HOLD_SECONDS = 2.0
REQUESTS = 30
QUEUE_SIZE = 2


def hold_write_lock(engine: Engine, acquired: threading.Event, release: threading.Event) -> None:
    """Take the store's write lock on a connection of our own, keep it until told to let go."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        raw = sqlite3.connect(url.database, isolation_level=None, timeout=10)
        try:
            raw.execute("BEGIN IMMEDIATE")
            acquired.set()
            release.wait(timeout=30)
            raw.execute("ROLLBACK")
        finally:
            raw.close()
        return
    with engine.connect() as conn, conn.begin():
        # EXCLUSIVE blocks INSERT but not SELECT: the writer gets as far as its commit's insert.
        conn.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")
        acquired.set()
        release.wait(timeout=30)


async def timed_post(
    client: httpx.AsyncClient, key: str, number: int
) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = await client.post(
        "/v2/s2s/event", json=dp_event(f"load-{number}"), headers=headers(key)
    )
    return time.monotonic() - started, response


@pytest.mark.parametrize("writer_process", [False, True], ids=["thread", "process"])
async def test_full_writer_queue_answers_503_fast_and_the_queued_requests_complete(
    settings: Settings, engine: Engine, tenant: Tenant, writer_process: bool
) -> None:
    # The key is cached for the whole test, so only the writer touches the store under load.
    async with app_client(
        settings,
        engine,
        writer_queue_size=QUEUE_SIZE,
        key_cache_seconds=60,
        writer_process=writer_process,
    ) as client:
        warm = await client.post(
            "/v2/s2s/event", json=dp_event("warm"), headers=headers(tenant.key)
        )
        assert warm.status_code == 200, warm.text

        acquired, release = threading.Event(), threading.Event()
        holder = asyncio.create_task(asyncio.to_thread(hold_write_lock, engine, acquired, release))
        try:
            assert await asyncio.to_thread(acquired.wait, 10), "could not take the write lock"
            released_at = asyncio.get_running_loop().call_later(HOLD_SECONDS, release.set)
            started = time.monotonic()
            answers = await asyncio.gather(
                *(timed_post(client, tenant.key, number) for number in range(REQUESTS))
            )
            released_at.cancel()
        finally:
            release.set()
            await holder

    statuses = sorted(response.status_code for _elapsed, response in answers)
    assert set(statuses) <= {200, 503}, statuses
    refused = [(elapsed, r) for elapsed, r in answers if r.status_code == 503]
    taken = [(elapsed, r) for elapsed, r in answers if r.status_code == 200]
    assert taken, statuses
    # Bounded: on a thread, at most one full queue in the writer's hands and one more
    # waiting behind it; with the store process, at most a queue's worth in flight.
    assert len(taken) <= (QUEUE_SIZE if writer_process else 2 * QUEUE_SIZE), statuses
    for elapsed, response in refused:
        assert_retryable_503(response)
        assert response.json()["error"] == "overloaded"
        # "Quickly": long before the lock goes, not after waiting their turn.
        assert elapsed < HOLD_SECONDS / 2, elapsed
    for elapsed, response in taken:
        assert response.json()["status"] == "accepted"
        assert elapsed >= HOLD_SECONDS * 0.9, "a 200 before the lock was released"
    assert time.monotonic() - started >= HOLD_SECONDS * 0.9

    # Exactly what was answered 200 is stored; every refused event is absent.
    stored = stored_ids(engine, tenant.operator_id)
    accepted = {response.json()["event_id"] for _elapsed, response in taken}
    assert set(stored.values()) - {warm.json()["event_id"]} == accepted
    assert count_events(engine) == len(taken) + 1
