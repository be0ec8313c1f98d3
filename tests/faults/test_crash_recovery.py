"""A real server SIGKILLed under load, five times: every 200 is durable, retries never double.

The client is the one a careful producer would write: it sends DataPulse batches without
pause, and when a request dies with the server (no answer at all) it sends the same batch
again once the server is back. Whatever the moment of the kill, the store must end up
holding exactly the events that were acknowledged, each once, under the event id the
answers named.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults_support import (
    ServerProcess,
    assert_retryable_503,
    count_events,
    dp_batch,
    event_ids_by_transaction,
    free_port,
    headers,
    keys_stored_twice,
    stored_ids,
    unlimited_key,
)

from croupier.kit.db import create_db_engine

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.slow]

KILLS = 5
WORKERS = 4
BATCH_SIZE = 20


@dataclass
class Batch:
    number: int
    events: list[dict[str, Any]]
    # Per-event statuses of the 200 that answered it (a batch is retried until one comes).
    statuses: list[str] = field(default_factory=list)
    event_ids: dict[str, str] = field(default_factory=dict)
    unanswered: int = 0  # attempts that died with the server, or were refused with a 503


@dataclass
class Load:
    client: httpx.AsyncClient
    server: ServerProcess
    key: str
    up: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    batches: list[Batch] = field(default_factory=list)
    replays: list[tuple[Batch, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/v2/s2s/batch"

    def new_batch(self) -> Batch:
        batch = Batch(len(self.batches), dp_batch(f"b{len(self.batches)}", BATCH_SIZE))
        self.batches.append(batch)
        return batch


async def send_until_acknowledged(load: Load, batch: Batch) -> None:
    while True:
        await load.up.wait()
        try:
            response = await load.client.post(
                load.url, json=batch.events, headers=headers(load.key), timeout=15.0
            )
        except httpx.TransportError:
            # No answer: the server died mid-request. The batch may or may not be committed;
            # the only safe move is to send it again, which idempotency makes harmless.
            batch.unanswered += 1
            await asyncio.sleep(0.02)
            continue
        if response.status_code == 503:
            # Documented as "nothing stored, retry"; can happen while the store recovers.
            assert_retryable_503(response)
            batch.unanswered += 1
            await asyncio.sleep(0.1)
            continue
        assert response.status_code == 200, f"{response.text}\n{load.server.log_tail()}"
        results = response.json()["results"]
        batch.statuses = [result["status"] for result in results]
        batch.event_ids = event_ids_by_transaction(batch.events, results)
        return


async def produce(load: Load) -> None:
    while not load.stopping:
        await send_until_acknowledged(load, load.new_batch())


async def replay_acknowledged(load: Load, rng: random.Random) -> None:
    """Send again a few batches that already got their 200, as a client that lost the answer
    (after its own crash, say) would: every event must come back a duplicate."""
    acknowledged = [batch for batch in load.batches if batch.statuses]
    for batch in rng.sample(acknowledged, min(3, len(acknowledged))):
        response = await load.client.post(
            load.url, json=batch.events, headers=headers(load.key), timeout=15.0
        )
        assert response.status_code == 200, response.text
        load.replays.append((batch, response.json()))


async def kill_repeatedly(load: Load, rng: random.Random) -> None:
    for _ in range(KILLS):
        # Let traffic flow for a random while, so the kill lands anywhere: mid-parse,
        # queued for the writer, mid-commit, or mid-answer.
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        load.up.clear()
        load.server.kill()
        await load.server.start(load.client)
        await replay_acknowledged(load, rng)
        load.up.set()
    await asyncio.sleep(0.5)
    # The workers finish the batch in hand (retrying it until answered), then stop.
    load.stopping = True


async def test_sigkill_under_load_loses_no_acknowledged_event_and_stores_none_twice(
    database_url: str, tmp_path: Path
) -> None:
    await _crash_five_times(database_url, tmp_path, workers=1)


async def test_two_sqlite_server_processes_sigkilled_under_load_lose_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Two processes on one SQLite file: their writers take turns on the writers' file lock,
    which a killed process lets go of as it dies."""
    path = tmp_path / "croupier.db"
    shutil.copy(sqlite_template, path)
    await _crash_five_times(f"sqlite:///{path}", tmp_path, workers=2)


async def _crash_five_times(database_url: str, tmp_path: Path, *, workers: int) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    engine = create_db_engine(database_url)
    try:
        key, operator_id = unlimited_key(engine, "crash")
        server = ServerProcess(database_url, free_port(), tmp_path / "server.log", workers=workers)
        async with httpx.AsyncClient() as client:
            load = Load(client, server, key)
            try:
                await server.start(client)
                load.up.set()
                # A TaskGroup, so a failing worker or a server that will not come back
                # cancels everything at once instead of leaving clients retrying forever.
                async with asyncio.timeout(50), asyncio.TaskGroup() as group:
                    for _ in range(WORKERS):
                        group.create_task(produce(load))
                    group.create_task(kill_repeatedly(load, rng))
            finally:
                server.stop()

        context = f"seed={seed}, batches={len(load.batches)}\n{server.log_tail()}"
        acknowledged: dict[str, str] = {}
        for batch in load.batches:
            assert batch.statuses, f"batch {batch.number} was never answered ({context})"
            acknowledged.update(batch.event_ids)
            if batch.unanswered:
                # Retried after an attempt died: stored whole by that attempt (all duplicates)
                # or not at all (all accepted) -- a batch commits in one transaction, so a
                # kill never leaves half of it behind; never a conflict or a rejection.
                assert set(batch.statuses) in ({"accepted"}, {"duplicate"}), (batch.number, batch)
            else:
                # Sent once, answered once: nothing could have stored it before.
                assert set(batch.statuses) == {"accepted"}, (batch.number, batch.statuses)
        for batch, body in load.replays:
            statuses = {result["status"] for result in body["results"]}
            assert statuses == {"duplicate"}, (batch.number, body)
            assert event_ids_by_transaction(batch.events, body["results"]) == batch.event_ids

        retried = [batch for batch in load.batches if batch.unanswered]
        assert retried, f"no kill interrupted a request; the test proved nothing ({context})"
        assert len(acknowledged) == len(load.batches) * BATCH_SIZE

        stored = stored_ids(engine, operator_id)
        assert count_events(engine, operator_id) == len(acknowledged), context
        missing = set(acknowledged) - set(stored)
        assert not missing, f"acknowledged but not stored: {sorted(missing)[:10]} ({context})"
        assert stored == acknowledged, context  # the same event ids the answers named
        assert keys_stored_twice(engine, operator_id) == [], context
    finally:
        engine.dispose()
