"""PostgreSQL connections dropped mid-run, under concurrent load.

``tests/ingest/test_store_outage.py`` covers a store that is already gone when a request
arrives. Here the connections are cut while requests are in flight: queries and commits
die half-way. Every answer must still be a 200 (stored) or a 503 with Retry-After
(not acknowledged), never a 500; ingestion must come back by itself when the store does;
and a client that retries its 503s ends with every event stored exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from faults_support import (
    assert_retryable_503,
    count_events,
    dp_event,
    event_ids_by_transaction,
    headers,
    keys_stored_twice,
    stored_ids,
    unlimited_key,
)

from conftest import app_client
from croupier.kit.db import create_db_engine
from croupier.settings import Settings
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# Small requests keep many connections busy; big ones keep the writer in long inserts
# (PostgreSQL COPY), so some cuts land mid-query, some mid-insert, some mid-commit.
SMALL_WORKERS, SMALL_BATCH = 6, 5
BIG_WORKERS, BIG_BATCH = 2, 500
WORKERS = SMALL_WORKERS + BIG_WORKERS
# Seconds of traffic before each cut; each outage lasts OUTAGE seconds.
CUTS_AFTER = (0.5, 0.35, 0.45, 0.3)
OUTAGE = 0.3


@dataclass
class Traffic:
    client: httpx.AsyncClient
    key: str
    running: bool = True
    sent: int = 0
    # (monotonic time, response, the events it carried)
    answers: list[tuple[float, httpx.Response, list[dict[str, Any]]]] = field(default_factory=list)

    def next_events(self, size: int) -> list[dict[str, Any]]:
        self.sent += 1
        # The note makes big batches weigh ~300 KB on the wire to the database.
        return [dp_event(f"r{self.sent}-e{n}", note="n" * 500) for n in range(size)]


async def send_continuously(traffic: Traffic, size: int) -> None:
    while traffic.running:
        events = traffic.next_events(size)
        response = await traffic.client.post(
            "/v2/s2s/batch", json=events, headers=headers(traffic.key)
        )
        traffic.answers.append((time.monotonic(), response, events))
        if response.status_code != 200:
            await asyncio.sleep(0.01)  # a real client backs off; keeps the loop from spinning


async def test_connections_cut_under_load_give_only_200_or_503_and_recover(
    pg_schema_url: str,
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    via_proxy_url = proxy.url_for(pg_schema_url)
    direct = create_db_engine(pg_schema_url)
    via_proxy = create_db_engine(via_proxy_url)
    settings = Settings(
        database_url=via_proxy_url,
        log_requests=False,
        bootstrap_demo=False,
        # Keys stay cached, so requests get past authentication to the writer, where the
        # interesting failures (a commit cut half-way) happen.
        key_cache_seconds=60,
        store_retry_after_seconds=2,
        _env_file=None,
    )  # type: ignore[call-arg]
    try:
        # The session's schema is shared with other tests: a fresh operator keeps ours apart.
        key, operator_id = unlimited_key(direct, f"drop-{uuid.uuid4().hex[:8]}")
        async with app_client(settings, via_proxy) as client:
            warm = await client.post("/v2/s2s/event", json=dp_event("warm"), headers=headers(key))
            assert warm.status_code == 200, warm.text
            traffic = Traffic(client, key)
            sizes = [SMALL_BATCH] * SMALL_WORKERS + [BIG_BATCH] * BIG_WORKERS
            workers = [asyncio.create_task(send_continuously(traffic, size)) for size in sizes]
            restored_at = time.monotonic()
            try:
                for pause in CUTS_AFTER:
                    await asyncio.sleep(pause)
                    await proxy.cut()  # drops every open connection, whatever it is doing
                    await asyncio.sleep(OUTAGE)
                    restored_at = time.monotonic()
                    await proxy.start()
                # Recovery must happen by itself: wait for a run of successes after the last
                # restore.
                deadline = restored_at + 20
                while time.monotonic() < deadline:
                    recent = [r for t, r, _ in traffic.answers if t > restored_at]
                    if sum(r.status_code == 200 for r in recent) >= 3 * WORKERS:
                        break
                    await asyncio.sleep(0.1)
            finally:
                traffic.running = False
                await asyncio.gather(*workers)

            statuses = [response.status_code for _t, response, _e in traffic.answers]
            unexpected = [
                r.text for _t, r, _e in traffic.answers if r.status_code not in (200, 503)
            ]
            assert not unexpected, (sorted(set(statuses)), unexpected[:3])
            assert 503 in statuses, "the cuts refused nothing; they did not land under load"
            after = [r.status_code for t, r, _ in traffic.answers if t > restored_at]
            assert after.count(200) >= 3 * WORKERS, f"no recovery after restore: {after[-20:]}"

            acknowledged: dict[str, str] = {"warm": warm.json()["event_id"]}
            unanswered: list[list[dict[str, Any]]] = []
            for _t, response, events in traffic.answers:
                if response.status_code == 503:
                    assert_retryable_503(response)
                    unanswered.append(events)
                    continue
                results = response.json()["results"]
                assert [r["status"] for r in results] == ["accepted"] * len(events), results
                acknowledged.update(event_ids_by_transaction(events, results))
            # Every 200 is in the store, under the event id it named.
            stored = stored_ids(direct, operator_id)
            assert {tx: stored.get(tx) for tx in acknowledged} == acknowledged

            # The client retries what was refused. A 503 is "not acknowledged": usually nothing
            # was stored, but a commit cut after the database took it is in doubt, so the
            # retry may find it (duplicate) -- never a conflict, never a second copy.
            for events in unanswered:
                retry = await client.post("/v2/s2s/batch", json=events, headers=headers(key))
                assert retry.status_code == 200, retry.text
                results = retry.json()["results"]
                assert {r["status"] for r in results} <= {"accepted", "duplicate"}, results
                acknowledged.update(event_ids_by_transaction(events, results))

        assert stored_ids(direct, operator_id) == acknowledged
        assert count_events(direct, operator_id) == len(acknowledged)
        assert keys_stored_twice(direct, operator_id) == []
    finally:
        await proxy.cut()
        via_proxy.dispose()
        direct.dispose()
