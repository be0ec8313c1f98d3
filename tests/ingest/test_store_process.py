"""Ingest through the store process (the server's default): the same answers and rows as the
in-process writer, groups merged in the child, and a child that dies costs a 503, not data."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import signal
from asyncio import Task
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx
import pytest
from helpers import dp_event, headers, pending_event, rejected, stored_events
from sqlalchemy.engine import Engine

from conftest import app_client
from croupier.ingest.store_process import StoreProcess
from croupier.ingest.writer import GroupWriter
from croupier.settings import Settings
from factories import Tenant

T = TypeVar("T")

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@asynccontextmanager
async def served(
    settings: Settings, engine: Engine
) -> AsyncIterator[tuple[Any, GroupWriter, StoreProcess]]:
    client = app_client(settings, engine, writer_process=True)
    async with client as http:
        writer = client.app.state.services.writer
        assert writer.process is not None
        assert writer.process.pid is not None
        yield http, writer, writer.process


async def post_event(http: httpx.AsyncClient, tenant: Tenant, transaction_id: str) -> Any:
    event = dp_event(transaction_id=transaction_id)
    return await http.post("/v2/s2s/event", json=event, headers=headers(tenant.key))


def _stored(engine: Engine) -> list[dict[str, Any]]:
    """Every column a client's data decides (not the ids and times the server makes)."""
    made_here = {"seq", "event_id", "received_at", "tx_id", "api_key_id", "operator_id"}
    return [
        {c: v for c, v in vars(event).items() if not c.startswith("_") and c not in made_here}
        for event in stored_events(engine)
    ]


BATCH = [
    dp_event(transaction_id="a", amount=10.5, ip_address="203.0.113.9"),
    dp_event(transaction_id="a", amount=10.5, ip_address="203.0.113.9"),  # duplicate
    dp_event(transaction_id="b", event_name="bet", amount=2, bet_result="win", bet_result_amount=5),
    dp_event(transaction_id="w", event_name="win", amount=5, parent_transaction_id="b"),
    dp_event(transaction_id="c", amount="not money"),
    dp_event(transaction_id="a", amount=99),  # conflict
]


async def _send_batch(http: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    answer = await http.post("/v2/s2s/batch", json=BATCH, headers=headers(tenant.key))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def test_answers_and_rows_match_the_in_process_writer(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    async with served(settings, engine) as (http, _writer, _process):
        by_process = await _send_batch(http, tenant)
    rows_by_process = _stored(engine)
    rejections_by_process = [(r.position, r.errors) for r in rejected(engine)]
    assert [r["status"] for r in by_process] == [
        "accepted",
        "duplicate",
        "accepted",
        "rejected",  # pattern A and pattern B for one bet
        "rejected",
        "conflict",
    ]
    assert len(rows_by_process) == 2

    with engine.begin() as conn:  # the same batch again, on a thread this time
        conn.exec_driver_sql("DELETE FROM events")
        conn.exec_driver_sql("DELETE FROM rejected_events")
    on_a_thread = app_client(settings, engine, writer_process=False)
    async with on_a_thread as http:
        assert on_a_thread.app.state.services.writer.process is None
        in_process = await _send_batch(http, tenant)

    assert _without_ids(by_process) == _without_ids(in_process)
    assert rows_by_process == _stored(engine)
    in_process_rejections = [(r.position, r.errors) for r in rejected(engine)]
    assert _without_ids(rejections_by_process) == _without_ids(in_process_rejections)


def _without_ids(value: Any) -> str:
    """The value as JSON with every event id (made by the server) blanked."""
    return re.sub(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", json.dumps(value)
    )


@contextmanager
def writers_lock_held(engine: Engine) -> Iterator[None]:
    """Hold the SQLite writers' file lock, as another writing process would."""
    path = f"{engine.url.database}-writers.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


async def _until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def one_group_each(writer: GroupWriter, sends: Iterable[Awaitable[T]]) -> list[Task[T]]:
    """Start each send once the ones before are in flight: a group each."""
    started: list[Task[T]] = []
    for send in sends:
        started.append(asyncio.ensure_future(send))
        await _in_flight(writer, len(started))
    return started


async def _in_flight(writer: GroupWriter, groups: int) -> None:
    await _until(lambda: writer._in_flight == groups)


async def test_batches_leave_for_the_child_at_once_and_single_events_of_one_pass_together(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    client = app_client(settings, engine, writer_process=True)
    async with client:
        services = client.app.state.services
        writer, registry = services.writer, services.metrics.registry
        commits = writer.groups_committed
        batches = [[pending_event(tenant, f"b{n}-{i}") for i in range(60)] for n in range(3)]
        # Started in one pass of the event loop: each batch still leaves on its own.
        await asyncio.gather(*(writer.write(batch, []) for batch in batches))
        assert writer.groups_committed - commits == 3
        commits = writer.groups_committed
        singles = [[pending_event(tenant, f"s{n}")] for n in range(5)]
        answers = await asyncio.gather(*(writer.write(one, []) for one in singles))
        assert writer.groups_committed - commits == 1  # one group for the pass's five
        assert [o.status.value for (o,) in answers] == ["accepted"] * 5
        # The child's commits, as the metrics count them: every request and event once.
        assert registry.get_sample_value("croupier_writer_group_requests_sum") == 3 + 5
        assert registry.get_sample_value("croupier_writer_group_events_sum") == 3 * 60 + 5
    assert len(stored_events(engine)) == 185


# These tests hold SQLite's writers' lock (as another writing process would) to keep the
# child busy: SQLite only.
holds_the_writers_lock = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@holds_the_writers_lock
async def test_groups_sent_while_the_child_is_busy_are_each_answered(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    async with served(settings, engine) as (http, writer, _process):
        with writers_lock_held(engine):
            # The child, waiting for the lock, reads the last three together once it has it.
            sends = (post_event(http, tenant, str(n)) for n in range(1, 5))
            sent = await one_group_each(writer, sends)
            commits_before = writer.groups_committed
        answers = await asyncio.gather(*sent)
        assert [a.json()["status"] for a in answers] == ["accepted"] * 4
        assert writer.groups_committed - commits_before == 4
    assert sorted(e.transaction_id or "" for e in stored_events(engine)) == ["1", "2", "3", "4"]
    # Each answer names its own event, also for the groups the child answered together.
    stored_ids = {e.transaction_id: e.event_id for e in stored_events(engine)}
    assert [a.json()["event_id"] for a in answers] == [stored_ids[str(n)] for n in range(1, 5)]


@holds_the_writers_lock
@pytest.mark.parametrize("writer_process", [False, True], ids=["thread", "process"])
async def test_stopping_waits_for_the_group_in_flight(
    settings: Settings, engine: Engine, tenant: Tenant, writer_process: bool
) -> None:
    client = app_client(settings, engine, writer_process=writer_process)
    async with client:
        writer = client.app.state.services.writer
        with writers_lock_held(engine):
            sends = [writer.write([pending_event(tenant, "w")], [])]
            (write,) = await one_group_each(writer, sends)
            stopping = asyncio.ensure_future(writer.stop())
            await asyncio.sleep(0.2)
            assert not stopping.done()  # the group waits for the lock, and stop() for it
        await asyncio.wait_for(stopping, timeout=10)
        assert [o.status.value for o in await write] == ["accepted"]
    assert [e.transaction_id for e in stored_events(engine)] == ["w"]


@holds_the_writers_lock
async def test_a_group_the_store_refuses_fails_alone_in_a_merged_commit(
    settings: Settings, engine: Engine, tenant: Tenant, capfd: pytest.CaptureFixture[str]
) -> None:
    from croupier.ingest.store_process import StoreProcessError

    async with served(settings, engine) as (_http, writer, _process):
        poison = pending_event(tenant, "bad")
        poison.row["kind"] = None  # NOT NULL: the store refuses the whole transaction
        with writers_lock_held(engine):
            groups = ([pending_event(tenant, "a")], [poison], [pending_event(tenant, "b")])
            # In the child, merged into one commit.
            writes = await one_group_each(writer, (writer.write(g, []) for g in groups))
        good_a, bad, good_b = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(bad, StoreProcessError)
    assert not isinstance(good_a, BaseException)
    assert not isinstance(good_b, BaseException)
    assert [o.status.value for o in good_a + good_b] == ["accepted", "accepted"]
    assert sorted(e.transaction_id or "" for e in stored_events(engine)) == ["a", "b"]
    # The child had merged the bad group with a good one, and split them (its log, on the
    # stderr it shares with the server).
    assert "committing its groups one by one" in capfd.readouterr().err


@holds_the_writers_lock
async def test_a_child_killed_mid_group_costs_a_503_and_the_next_request_a_new_child(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    async with served(settings, engine) as (http, writer, process):
        with writers_lock_held(engine):
            (during,) = await one_group_each(writer, [post_event(http, tenant, "x")])
            pid = process.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            answer = await during
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "store_unavailable"
        assert "Retry-After" in answer.headers

        retry = await post_event(http, tenant, "x")
        assert retry.status_code == 200, retry.text
        assert retry.json()["status"] == "accepted"  # the killed child had committed nothing
        assert process.started == 2
        assert process.pid != pid
    assert [e.transaction_id for e in stored_events(engine)] == ["x"]


async def test_a_child_that_died_idle_is_replaced_without_an_error(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    async with served(settings, engine) as (http, _writer, process):
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.sleep(0.2)  # the reader sees the socket close
        answer = await post_event(http, tenant, "y")
        assert answer.status_code == 200, answer.text
        assert process.started == 2
    assert [e.transaction_id for e in stored_events(engine)] == ["y"]


async def test_stopping_answers_every_request_sent_and_ends_the_child(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    client = app_client(settings, engine, writer_process=True)
    async with client as http:
        process = client.app.state.services.writer.process
        child = process._child
        answers = await asyncio.gather(
            *(
                http.post(
                    "/v2/s2s/batch",
                    json=[dp_event(transaction_id=f"{n}-{i}") for i in range(50)],
                    headers=headers(tenant.key),
                )
                for n in range(20)
            )
        )
    assert all(a.status_code == 200 for a in answers)
    assert child.process.poll() is not None  # the child exited when the server stopped
    assert len(stored_events(engine)) == 1000


async def test_sigterm_to_the_process_group_leaves_the_child_to_the_server(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    """Ctrl-C or SIGTERM reach every process of the group; the child ignores them and
    writes until the server closes its socket."""
    async with served(settings, engine) as (http, _writer, process):
        os.kill(process.pid, signal.SIGTERM)
        os.kill(process.pid, signal.SIGINT)
        await asyncio.sleep(0.2)
        answer = await post_event(http, tenant, "z")
        assert answer.status_code == 200
        assert process.started == 1
