"""The Kafka consumer against a real Kafka-protocol broker (tansu): formats, dead letters,
a crash mid-batch, a store outage, a graceful stop."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from connector_support import (
    KINDS,
    Consumer,
    ConsumerProcess,
    body,
    committed_offsets,
    connector_settings,
    consume_to_the_end,
    count_events,
    create_topics,
    dp_deposit,
    events,
    keys_stored_twice,
    kill_mid_stream,
    process_env,
    produce,
    read_topic,
    rejected,
    tansu,
    unique,
    wait_until,
)
from sqlalchemy.engine import Engine

from conftest import app_client
from croupier.connectors.common import Pipeline
from croupier.connectors.config import Binding
from croupier.ingest.examples import FASTTRACK
from croupier.ingest.store import EventStore
from croupier.kit.db import create_db_engine
from croupier.kit.errors import StoreUnavailable
from croupier.settings import Settings
from factories import Tenant, add_key, make_tenant
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
__all__ = ["tansu"]  # the session fixture, imported so pytest finds it

# tansu answers a group join after half the session timeout, and a killed member's
# partitions move after all of it: short, so the tests are quick.
SESSION_TIMEOUT_MS = 1500


def binding(topic: str, fmt: str, operator: str = "acme", **extra: object) -> dict[str, object]:
    return {"topic": topic, "format": fmt, "operator": operator, **extra}


def kafka_settings(
    database_url: str, bootstrap: str, *bindings: dict[str, object], **extra: object
) -> Settings:
    return connector_settings(
        database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_group_id=unique("group"),
        kafka_bindings=list(bindings),
        kafka_session_timeout_ms=SESSION_TIMEOUT_MS,
        **extra,
    )


async def test_every_fasttrack_type_by_its_header(
    tansu: str, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    topic = unique("ft")
    await create_topics(tansu, topic)
    messages = [(body(FASTTRACK[ft_type]), {"type": ft_type}) for ft_type in KINDS]
    await produce(tansu, topic, messages)
    settings = kafka_settings(database_url, tansu, binding(topic, "fasttrack"))
    async with Consumer("kafka", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 7, what="7 events", check=run.check)
        labels = {"broker": "kafka", "source": topic}
        await wait_until(
            lambda: (
                run.metric("croupier_connector_messages_total", **labels) == 7
                and run.metric("croupier_connector_lag_messages", **labels) == 0
            ),
            what="the consumed and lag metrics",
        )
    stored = events(engine)
    assert [event.kind for event in stored] == list(KINDS.values())  # in partition order
    assert {(e.source, e.format, e.operator_id, e.brand_id) for e in stored} == {
        ("kafka", "fasttrack", tenant.operator_id, tenant.brand_id)
    }
    assert {e.api_key_id for e in stored} == {None}  # bound by configuration, no key
    assert stored[0].amount == Decimal("5.0")
    assert await committed_offsets(tansu, settings.kafka_group_id, topic) == 7
    assert (
        run.metric(
            "croupier_connector_events_total", broker="kafka", source=topic, result="accepted"
        )
        == 7
    )


async def test_datapulse_and_revvvs_topics(
    tansu: str, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    dp_topic, rv_topic = unique("dp"), unique("rv")
    await create_topics(tansu, dp_topic, rv_topic)
    revvvs = {
        "event_type": "deposit",
        "event_time": "2026-03-15T10:30:00Z",
        "brand_id": tenant.other_brand_id,
        "player_external_ref": "p1",
        "idempotency_key": "rv-1",
        "amount": 20.5,
        "currency": "EUR",
    }
    await produce(
        tansu,
        dp_topic,
        [
            (body(dp_deposit("tx-1")), {}),
            (body([dp_deposit("tx-2"), dp_deposit("tx-3", event_name="withdraw")]), {}),
        ],
    )
    await produce(
        tansu,
        rv_topic,
        [
            (body(revvvs), {}),
            (body({"events": [{**revvvs, "idempotency_key": "rv-2"}]}), {}),
        ],
    )
    settings = kafka_settings(
        database_url, tansu, binding(dp_topic, "datapulse"), binding(rv_topic, "revvvs")
    )
    async with Consumer("kafka", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 5, what="5 events", check=run.check)
    datapulse = events(engine, format="datapulse")
    assert [(e.transaction_id, e.kind, e.amount) for e in datapulse] == [
        ("tx-1", "deposit", Decimal("50.25")),
        ("tx-2", "deposit", Decimal("50.25")),
        ("tx-3", "withdrawal", Decimal("50.25")),
    ]
    assert [(e.idempotency_key, e.brand_id) for e in events(engine, format="revvvs")] == [
        ("rv-1", tenant.other_brand_id),
        ("rv-2", tenant.other_brand_id),
    ]
    assert rejected(engine) == []


async def test_poison_messages_are_dead_lettered_and_the_stream_goes_on(
    tansu: str, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    topic = unique("ft")
    await create_topics(tansu, topic)
    casino = FASTTRACK["CASINO"]
    missing_user = {key: value for key, value in casino.items() if key != "user_id"}
    messages = [
        (body({**casino, "activity_id": "a1"}), {"type": "CASINO"}),
        (b'{"activity_id": "a2", ', {"type": "CASINO", "trace": "t-7"}),  # not JSON
        (body({**missing_user, "activity_id": "a3"}), {"type": "CASINO"}),  # invalid
        (body({**casino, "activity_id": "a4"}), {"type": "JACKPOT"}),  # unknown type
        (body({**casino, "activity_id": "a5"}), {}),  # no type
        (body({**casino, "activity_id": "a1", "amount": 7, "wager_amount": 7}), {"type": "CASINO"}),
        (body({**casino, "activity_id": "a1"}), {"type": "CASINO"}),  # a replay: duplicate
        (body({**casino, "activity_id": "a6"}), {"type": "CASINO"}),
    ]
    await produce(tansu, topic, messages)
    settings = kafka_settings(database_url, tansu, binding(topic, "fasttrack"))
    async with Consumer("kafka", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 2, what="2 events", check=run.check)
        dead = await read_topic(tansu, topic + ".dead-letter", 5)
        await wait_until(
            lambda: (
                run.metric(
                    "croupier_connector_events_total",
                    broker="kafka",
                    source=topic,
                    result="duplicate",
                )
                == 1
            ),
            what="the duplicate counted",
        )
    assert [e.transaction_id for e in events(engine)] == ["a1", "a6"]
    assert len(dead) == 5
    errors = [json.loads(dict(record.headers)["x-croupier-error"]) for record in dead]
    assert [error["error"] for error in errors] == [
        "invalid_json",
        "invalid_event",
        "unknown_event_type",
        "missing_event_type",
        "conflict",
    ]
    assert errors[1]["details"] == [
        {"field": "user_id", "code": "missing", "message": "is required"}
    ]
    assert [record.value for record in dead] == [messages[i][0] for i in (1, 2, 3, 4, 5)]
    first = dict(dead[0].headers)
    assert (first["type"], first["trace"]) == (b"CASINO", b"t-7")  # original headers kept
    assert first["x-croupier-origin"] == f"{topic}/0/1".encode()
    # Kept like rejected HTTP events (the writer orders a group's rejections its own way).
    kept = rejected(engine)
    assert sorted((r.source, r.endpoint, r.errors[0]["code"]) for r in kept) == [
        ("kafka", topic, "conflict"),
        ("kafka", topic, "invalid_json"),
        ("kafka", topic, "missing"),
        ("kafka", topic, "missing_event_type"),
        ("kafka", topic, "unknown_event_type"),
    ]
    assert await committed_offsets(tansu, settings.kafka_group_id, topic) == len(messages)
    assert (
        run.metric(
            "croupier_connector_dead_letters_total", broker="kafka", source=topic, error="conflict"
        )
        == 1
    )


async def test_a_key_header_binds_each_message_like_http(
    tansu: str, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    key_id, secret = add_key(engine, operator="acme")
    other = make_tenant(engine, name="other")
    topic = unique("dp")
    await create_topics(tansu, topic)
    await produce(
        tansu,
        topic,
        [
            (body(dp_deposit("tx-1")), {"X-Api-Key": secret}),
            (body(dp_deposit("tx-2")), {"x-api-key": other.key}),
            (body(dp_deposit("tx-3")), {"x-api-key": "crp_unknown"}),
            (body(dp_deposit("tx-4")), {}),
            (body(dp_deposit("tx-5")), {"x-api-key": other.read_key}),  # may not send
        ],
    )
    settings = kafka_settings(
        database_url,
        tansu,
        {"topic": topic, "format": "datapulse", "key_header": "x-api-key"},
    )
    async with Consumer("kafka", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 2, what="2 events", check=run.check)
        dead = await read_topic(tansu, topic + ".dead-letter", 3)
    stored = events(engine)
    assert [(e.transaction_id, e.operator_id, e.api_key_id) for e in stored] == [
        ("tx-1", tenant.operator_id, key_id),
        ("tx-2", other.operator_id, stored[1].api_key_id),
    ]
    assert stored[1].api_key_id is not None
    codes = [json.loads(dict(r.headers)["x-croupier-error"])["error"] for r in dead]
    assert codes == ["invalid_api_key", "missing_api_key", "forbidden_scope"]


@pytest.mark.slow
async def test_killed_mid_batch_then_restarted_stores_every_message_once(
    tansu: str, database_url: str, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    topic = unique("dp")
    total = 3000
    await create_topics(tansu, topic, partitions=2)
    await produce(tansu, topic, [(body(dp_deposit(f"tx-{n}")), {}) for n in range(total)], key=None)
    group = unique("group")
    env = process_env(
        database_url,
        kafka_bootstrap_servers=tansu,
        kafka_group_id=group,
        kafka_bindings=[binding(topic, "datapulse")],
        kafka_max_batch=50,  # many small batches, so the kill lands mid-stream
        kafka_session_timeout_ms=SESSION_TIMEOUT_MS,
    )
    process = ConsumerProcess("kafka", env, tmp_path / "consumer.log")
    try:
        stored_at_kill = await kill_mid_stream(process, engine)
        assert stored_at_kill < total, "the kills came too late to land mid-stream"
        assert await committed_offsets(tansu, group, topic, partitions=2) <= stored_at_kill
        await consume_to_the_end(process, engine, total)
    finally:
        process.kill()
    assert count_events(engine) == total
    assert keys_stored_twice(engine) == []
    assert await committed_offsets(tansu, group, topic, partitions=2) == total


async def test_store_down_nothing_committed_then_stored_after_recovery(
    tansu: str, pg_schema_url: str
) -> None:
    """PostgreSQL behind a proxy the test cuts: the consumer retries, commits nothing, and
    stores the batch once the store is back."""
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    direct = create_db_engine(pg_schema_url)
    via_proxy = create_db_engine(proxy.url_for(pg_schema_url))
    name = unique("outage")
    make_tenant(direct, name=name)
    operator_id = _operator(direct, name)
    topic = unique("dp")
    await create_topics(tansu, topic)
    settings = kafka_settings(pg_schema_url, tansu, binding(topic, "datapulse", operator=name))
    try:
        async with Consumer("kafka", settings, via_proxy) as run:
            await produce(tansu, topic, [(body(dp_deposit("before")), {})])
            await wait_until(
                lambda: len(events(direct, operator_id=operator_id)) == 1, check=run.check
            )
            await wait_until(
                lambda: run.metric("croupier_connector_batch_seconds_count", broker="kafka") >= 1
            )
            await proxy.cut()
            await produce(tansu, topic, [(body(dp_deposit(f"during-{n}")), {}) for n in range(3)])
            await wait_until(
                lambda: run.metric("croupier_connector_store_retries_total", broker="kafka") >= 2,
                what="retries while the store is down",
                check=run.check,
            )
            assert await committed_offsets(tansu, settings.kafka_group_id, topic) == 1
            await proxy.start()
            await wait_until(
                lambda: len(events(direct, operator_id=operator_id)) == 4,
                what="the batch stored after recovery",
                check=run.check,
            )
        assert await committed_offsets(tansu, settings.kafka_group_id, topic) == 4
        assert [e.transaction_id for e in events(direct, operator_id=operator_id)] == [
            "before",
            "during-0",
            "during-1",
            "during-2",
        ]
    finally:
        await proxy.cut()
        via_proxy.dispose()
        direct.dispose()


def _operator(engine: Engine, name: str) -> str:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from croupier.tenancy.models import Operator

    with Session(engine) as session:
        found = session.scalar(select(Operator.id).where(Operator.name == name))
        assert found is not None
        return found


async def test_a_graceful_stop_commits_what_it_stored(
    tansu: str, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    topic = unique("dp")
    await create_topics(tansu, topic)
    await produce(tansu, topic, [(body(dp_deposit(f"tx-{n}")), {}) for n in range(2000)])
    settings = kafka_settings(database_url, tansu, binding(topic, "datapulse"), kafka_max_batch=100)
    async with Consumer("kafka", settings, engine) as run:
        await wait_until(lambda: count_events(engine) >= 300, what="some events", check=run.check)
    # Stopped mid-stream: the batch in hand was finished, stored and committed.
    stored = count_events(engine)
    assert await committed_offsets(tansu, settings.kafka_group_id, topic) == stored


@pytest.mark.slow
async def test_a_member_joining_mid_stream_stores_each_message_once_in_partition_order(
    tansu: str,
    database_url: str,
    engine: Engine,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second consumer joins the group while the first is storing: the rebalance settles
    the batch in flight first, so no message is stored by both and each partition's events
    are logged in offset order. While the second joins, each batch takes a second to store
    (longer than the join), so a batch is in flight whenever partitions are revoked."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.structs import RecordMetadata

    topic, partitions, total = unique("dp"), 4, 4000
    await create_topics(tansu, topic, partitions=partitions)
    placed: list[RecordMetadata] = []

    async def stream() -> None:  # 40 messages every 50 ms: about 5 s of traffic
        producer = AIOKafkaProducer(bootstrap_servers=tansu, linger_ms=5)
        await producer.start()
        try:
            for chunk in range(0, total, 40):
                sent = [
                    await producer.send(topic, body(dp_deposit(f"tx-{n}")), partition=n % 4)
                    for n in range(chunk, chunk + 40)
                ]
                placed.extend([await future for future in sent])
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()

    settings = kafka_settings(database_url, tansu, binding(topic, "datapulse"), kafka_max_batch=40)
    first, second = Consumer("kafka", settings, engine), Consumer("kafka", settings, engine)
    slow_until = [0.0]
    store = Pipeline.store

    async def slow_store(self: Pipeline, *args: Any, **kwargs: Any) -> bool:
        if time.monotonic() < slow_until[0]:
            await asyncio.sleep(1.0)
        return await store(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "store", slow_store)
    streaming = asyncio.create_task(stream())
    async with first:
        await wait_until(lambda: count_events(engine) >= 400, what="some events", check=first.check)
        slow_until[0] = time.monotonic() + 3
        async with second:
            await wait_until(
                lambda: count_events(engine) >= total,
                timeout=60,
                what=f"{total} events",
                check=lambda: (
                    first.check(),
                    second.check(),
                    streaming.done() and streaming.result(),
                ),
            )
    await streaming
    by_offset: dict[int, list[str]] = {p: [] for p in range(partitions)}
    for n, meta in sorted(enumerate(placed), key=lambda pair: pair[1].offset):
        by_offset[meta.partition].append(f"tx-{n}")
    stored = events(engine)
    assert len(stored) == total
    assert keys_stored_twice(engine) == []
    partition_of = {f"tx-{n}": meta.partition for n, meta in enumerate(placed)}
    in_log: dict[int, list[str]] = {p: [] for p in range(partitions)}
    for event in stored:
        in_log[partition_of[str(event.transaction_id)]].append(str(event.transaction_id))
    assert in_log == by_offset
    accepted = [
        run.metric("croupier_connector_events_total", broker="kafka", source=topic, result=result)
        for run in (first, second)
        for result in ("accepted", "duplicate")
    ]
    first_accepted, first_duplicates, second_accepted, second_duplicates = accepted
    assert second_accepted > 0, "the second member stored nothing: no rebalance was tested"
    assert first_accepted + second_accepted == total
    assert (first_duplicates, second_duplicates) == (0, 0)  # nothing stored by both
    assert await committed_offsets(tansu, settings.kafka_group_id, topic, partitions) == total


async def test_the_consumer_inside_serve(
    tansu: str, settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    topic = unique("dp")
    await create_topics(tansu, topic)
    await produce(tansu, topic, [(body(dp_deposit("tx-1")), {}), (body(dp_deposit("tx-2")), {})])
    group = unique("group")
    overrides = {
        "kafka_bootstrap_servers": tansu,
        "kafka_group_id": group,
        "kafka_session_timeout_ms": SESSION_TIMEOUT_MS,
        "kafka_bindings": [Binding.model_validate(binding(topic, "datapulse"))],
        "consume_in_serve": ["kafka"],
    }
    async with app_client(settings, engine, **overrides) as client:
        await wait_until(lambda: count_events(engine) == 2, what="the events")
        labels = f'broker="kafka",source="{topic}"'
        expected = [
            f"croupier_connector_messages_total{{{labels}}} 2.0",
            # (labels in name order)
            'croupier_connector_events_total{broker="kafka",result="accepted",'
            f'source="{topic}"}} 2.0',
            f"croupier_connector_lag_messages{{{labels}}} 0.0",
        ]
        text = ""
        for _ in range(100):  # counted after the commit, lag sampled after the next poll
            text = (await client.get("/metrics")).text
            if all(line in text for line in expected):
                break
            await asyncio.sleep(0.05)
    assert [line for line in expected if line not in text] == []
    assert [(e.transaction_id, e.source) for e in events(engine)] == [
        ("tx-1", "kafka"),
        ("tx-2", "kafka"),
    ]
    assert await committed_offsets(tansu, group, topic) == 2  # committed before serve stopped


async def test_a_rejection_is_kept_once_when_the_store_fails_mid_batch(
    tansu: str,
    database_url: str,
    engine: Engine,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two keys make two units in one batch, each its own group commit (one event per
    group). The store fails the write holding the second unit's event once: the retry must
    not keep the first unit's rejected event a second time."""
    other = make_tenant(engine, name="other")
    topic = unique("dp")
    await create_topics(tansu, topic)
    invalid = {key: value for key, value in dp_deposit("a-2").items() if key != "amount"}
    await produce(
        tansu,
        topic,
        [
            (body([dp_deposit("a-1"), invalid]), {"x-api-key": tenant.key}),
            (body(dp_deposit("b-1")), {"x-api-key": other.key}),
        ],
    )
    failed: list[int] = []
    write = EventStore.write

    def failing_write(self: EventStore, events: Any, rejections: Any) -> Any:
        if not failed and any(event.row.get("transaction_id") == "b-1" for event in events):
            failed.append(len(events))
            raise StoreUnavailable("the store went away")
        return write(self, events, rejections)

    monkeypatch.setattr(EventStore, "write", failing_write)
    settings = kafka_settings(
        database_url,
        tansu,
        {"topic": topic, "format": "datapulse", "key_header": "x-api-key"},
        writer_max_batch_events=1,
    )
    async with Consumer("kafka", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 2, what="2 events", check=run.check)
        dead = await read_topic(tansu, topic + ".dead-letter", 1)
    assert failed != []  # the failure happened
    assert run.metric("croupier_connector_store_retries_total", broker="kafka") >= 1
    assert [e.transaction_id for e in events(engine)] == ["a-1", "b-1"]
    kept = rejected(engine)
    assert [(r.source, r.errors[0]["field"]) for r in kept] == [("kafka", "amount")]
    assert len(dead) == 1
    assert await committed_offsets(tansu, settings.kafka_group_id, topic) == 2
