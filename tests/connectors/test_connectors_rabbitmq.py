"""The RabbitMQ consumer against the local RabbitMQ: the type property, formats, dead letters,
a crash mid-batch, a store outage, a graceful stop, and the consumer inside ``serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from connector_support import (
    KINDS,
    RABBITMQ_URL,
    Consumer,
    ConsumerProcess,
    Rabbit,
    body,
    connector_settings,
    consume_to_the_end,
    count_events,
    dp_deposit,
    events,
    keys_stored_twice,
    kill_mid_stream,
    process_env,
    rabbitmq,
    rejected,
    unique,
    wait_until,
)
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import app_client
from croupier.connectors.config import Binding
from croupier.ingest.examples import FASTTRACK
from croupier.kit.db import create_db_engine
from croupier.settings import Settings
from croupier.tenancy.models import Operator
from factories import Tenant, add_key, make_tenant
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
__all__ = ["rabbitmq"]  # the fixture, imported so pytest finds it


def binding(queue: str, fmt: str, operator: str = "acme", **extra: object) -> dict[str, object]:
    return {"queue": queue, "format": fmt, "operator": operator, **extra}


def rabbit_settings(database_url: str, *bindings: dict[str, object], **extra: Any) -> Settings:
    return connector_settings(
        database_url, **{"rabbitmq_url": RABBITMQ_URL, "rabbitmq_bindings": list(bindings), **extra}
    )


def error_of(message: Any) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(message.headers["x-croupier-error"])
    return report


async def test_every_fasttrack_type_by_its_property(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    queue = rabbitmq.queue("ft")
    for ft_type in KINDS:
        await rabbitmq.publish(queue, [body(FASTTRACK[ft_type])], message_type=ft_type)
    # A type in a header, not the property, is ignored (Fast Track's rule): no type.
    await rabbitmq.publish(queue, [body(FASTTRACK["LOGIN_V2"])], headers={"type": "LOGIN_V2"})
    settings = rabbit_settings(database_url, binding(queue, "fasttrack"))
    async with Consumer("rabbitmq", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 7, what="7 events", check=run.check)
        [dead] = await rabbitmq.drain(queue + ".dead-letter")
        labels = {"broker": "rabbitmq", "source": queue}
        await wait_until(lambda: run.metric("croupier_connector_messages_total", **labels) == 8)
    stored = events(engine)
    assert [event.kind for event in stored] == list(KINDS.values())  # in queue order
    assert {(e.source, e.format, e.operator_id, e.brand_id, e.api_key_id) for e in stored} == {
        ("rabbitmq", "fasttrack", tenant.operator_id, tenant.brand_id, None)
    }
    assert error_of(dead)["error"] == "missing_event_type"
    assert dead.headers["type"] == "LOGIN_V2"  # the original header, kept
    assert await rabbitmq.ready(queue) == 0


async def test_datapulse_and_revvvs_queues(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    dp_queue, rv_queue = rabbitmq.queue("dp"), rabbitmq.queue("rv")
    revvvs = {
        "event_type": "wager_settled",
        "event_time": "2026-03-15T10:30:00Z",
        "brand_id": tenant.brand_id,
        "player_external_ref": "p1",
        "idempotency_key": "rv-1",
        "amount": -3.75,
        "currency": "EUR",
    }
    await rabbitmq.publish(
        dp_queue, [body(dp_deposit("tx-1")), body([dp_deposit("tx-2"), dp_deposit("tx-3")])]
    )
    await rabbitmq.publish(rv_queue, [body({"events": [revvvs]})])
    settings = rabbit_settings(
        database_url, binding(dp_queue, "datapulse"), binding(rv_queue, "revvvs", is_test=True)
    )
    async with Consumer("rabbitmq", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 4, what="4 events", check=run.check)
    datapulse = events(engine, format="datapulse")
    assert [e.transaction_id for e in datapulse] == ["tx-1", "tx-2", "tx-3"]
    [settled] = events(engine, format="revvvs")
    assert (settled.kind, str(settled.amount), settled.is_test) == ("settlement", "-3.75", True)
    assert {e.is_test for e in datapulse} == {False}


async def test_poison_messages_are_dead_lettered_and_the_stream_goes_on(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    queue = rabbitmq.queue("dp")
    bodies = [
        body(dp_deposit("tx-1")),
        b"\xff\xfe not json",
        body(dp_deposit("tx-2", currency="EURO")),  # invalid currency
        body([dp_deposit("tx-3"), dp_deposit("tx-4", amount="lots")]),  # one of two invalid
        body(dp_deposit("tx-1", amount=99)),  # conflict
        body(dp_deposit("tx-1")),  # duplicate: fine
        body(dp_deposit("tx-5")),
    ]
    await rabbitmq.publish(queue, bodies, headers={"trace": "t-1"})
    settings = rabbit_settings(database_url, binding(queue, "datapulse"))
    async with Consumer("rabbitmq", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 3, what="3 events", check=run.check)
        dead = await rabbitmq.drain(queue + ".dead-letter")
        labels = {"broker": "rabbitmq", "source": queue}
        await wait_until(
            lambda: (
                run.metric("croupier_connector_dead_letters_total", **labels, error="conflict") == 1
            )
        )
    assert [e.transaction_id for e in events(engine)] == ["tx-1", "tx-3", "tx-5"]
    assert [message.body for message in dead] == [bodies[1], bodies[2], bodies[3], bodies[4]]
    reports = [error_of(message) for message in dead]
    assert [report["error"] for report in reports] == [
        "invalid_json",
        "invalid_event",
        "invalid_event",
        "conflict",
    ]
    assert reports[3]["details"][0]["field"] == "transaction_id"
    assert [(d["index"], d["field"]) for d in reports[2]["details"]] == [(1, "amount")]
    assert {message.headers["trace"] for message in dead} == {"t-1"}
    assert {message.headers["x-croupier-origin"] for message in dead} == {queue}
    assert sorted(r.errors[0]["code"] for r in rejected(engine)) == [
        "conflict",
        "invalid_currency",
        "invalid_json",
        "invalid_type",
    ]
    assert {r.source for r in rejected(engine)} == {"rabbitmq"}
    assert await rabbitmq.ready(queue) == 0


async def test_an_unknown_type_and_a_key_header(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    key_id, secret = add_key(engine, operator="acme")
    queue = rabbitmq.queue("ft")
    casino = body(FASTTRACK["CASINO"])
    await rabbitmq.publish(queue, [casino], message_type="CASINO", headers={"X-API-Key": secret})
    await rabbitmq.publish(queue, [casino], message_type="SPORTS", headers={"x-api-key": secret})
    await rabbitmq.publish(queue, [casino], message_type="CASINO", headers={"x-api-key": "nope"})
    settings = rabbit_settings(
        database_url, {"queue": queue, "format": "fasttrack", "key_header": "x-api-key"}
    )
    async with Consumer("rabbitmq", settings, engine) as run:
        await wait_until(lambda: count_events(engine) == 1, check=run.check)
        dead = await rabbitmq.drain(queue + ".dead-letter")
    [stored] = events(engine)
    assert (stored.operator_id, stored.api_key_id) == (tenant.operator_id, key_id)
    assert [error_of(message)["error"] for message in dead] == [
        "unknown_event_type",
        "invalid_api_key",
    ]
    assert dead[0].type == "SPORTS"
    [kept] = rejected(engine)  # the unknown key has no operator to keep it under
    assert (kept.errors[0]["code"], kept.api_key_id) == ("unknown_event_type", key_id)


@pytest.mark.slow
async def test_killed_mid_batch_then_restarted_stores_every_message_once(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    queue = rabbitmq.queue("dp")
    total = 3000
    await rabbitmq.publish(queue, [body(dp_deposit(f"tx-{n}")) for n in range(total)])
    env = process_env(
        database_url,
        rabbitmq_url=RABBITMQ_URL,
        rabbitmq_bindings=[binding(queue, "datapulse")],
        rabbitmq_max_batch=50,
        rabbitmq_prefetch=200,
    )
    process = ConsumerProcess("rabbitmq", env, tmp_path / "consumer.log")
    try:
        stored_at_kill = await kill_mid_stream(process, engine)
        assert stored_at_kill < total, "the kills came too late to land mid-stream"
        await consume_to_the_end(process, engine, total)
    finally:
        process.kill()
    assert count_events(engine) == total
    assert keys_stored_twice(engine) == []
    assert await rabbitmq.ready(queue) == 0  # every message acked, none requeued


async def test_store_down_no_ack_then_stored_after_recovery(
    rabbitmq: Rabbit, pg_schema_url: str
) -> None:
    """PostgreSQL behind a proxy the test cuts: the messages stay unacked while the consumer
    retries, and are stored and acked once the store is back."""
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    direct = create_db_engine(pg_schema_url)
    via_proxy = create_db_engine(proxy.url_for(pg_schema_url))
    name = unique("outage")
    make_tenant(direct, name=name)
    with Session(direct) as session:
        operator_id = session.scalar(select(Operator.id).where(Operator.name == name))
    queue = rabbitmq.queue("dp")
    settings = rabbit_settings(pg_schema_url, binding(queue, "datapulse", operator=name))
    try:
        async with Consumer("rabbitmq", settings, via_proxy) as run:
            await rabbitmq.publish(queue, [body(dp_deposit("before"))])
            await wait_until(lambda: len(events(direct, operator_id=operator_id)) == 1)
            # Its commit acknowledged too: a reply lost in the cut would leave it unacked.
            await wait_until(
                lambda: run.metric("croupier_connector_batch_seconds_count", broker="rabbitmq") >= 1
            )
            await proxy.cut()
            await rabbitmq.publish(queue, [body(dp_deposit(f"during-{n}")) for n in range(3)])
            await wait_until(
                lambda: (
                    run.metric("croupier_connector_store_retries_total", broker="rabbitmq") >= 2
                ),
                what="retries while the store is down",
                check=run.check,
            )
            assert await rabbitmq.ready(queue) == 0  # delivered to the consumer, not acked
            await proxy.start()
            await wait_until(
                lambda: len(events(direct, operator_id=operator_id)) == 4,
                what="the batch stored after recovery",
                check=run.check,
            )
        # Closed: an unacked message would be back in the queue now.
        assert await rabbitmq.ready(queue) == 0
        stored = events(direct, operator_id=operator_id)
        assert [e.transaction_id for e in stored] == ["before", "during-0", "during-1", "during-2"]
    finally:
        await proxy.cut()
        via_proxy.dispose()
        direct.dispose()


async def test_a_stop_while_the_store_is_down_acks_nothing(
    rabbitmq: Rabbit, pg_schema_url: str
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    direct = create_db_engine(pg_schema_url)
    via_proxy = create_db_engine(proxy.url_for(pg_schema_url))
    name = unique("outage")
    make_tenant(direct, name=name)
    queue = rabbitmq.queue("dp")
    settings = rabbit_settings(pg_schema_url, binding(queue, "datapulse", operator=name))
    try:
        async with Consumer("rabbitmq", settings, via_proxy) as run:
            await rabbitmq.publish(queue, [body(dp_deposit("before", client_user_id=name))])
            await wait_until(lambda: len(events(direct, player_ref=name)) == 1)
            # Its commit acknowledged too: a reply lost in the cut would leave it unacked.
            await wait_until(
                lambda: run.metric("croupier_connector_batch_seconds_count", broker="rabbitmq") >= 1
            )
            await proxy.cut()
            await rabbitmq.publish(queue, [body(dp_deposit(f"tx-{n}")) for n in range(5)])
            await wait_until(
                lambda: (
                    run.metric("croupier_connector_store_retries_total", broker="rabbitmq") >= 1
                ),
                check=run.check,
            )
        assert await rabbitmq.ready(queue) == 5  # back in the queue for the next consumer
    finally:
        await proxy.cut()
        via_proxy.dispose()
        direct.dispose()


async def test_a_graceful_stop_acks_what_it_stored(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    queue = rabbitmq.queue("dp")
    total = 2000
    await rabbitmq.publish(queue, [body(dp_deposit(f"tx-{n}")) for n in range(total)])
    settings = rabbit_settings(
        database_url, binding(queue, "datapulse"), rabbitmq_max_batch=100, rabbitmq_prefetch=300
    )
    async with Consumer("rabbitmq", settings, engine) as run:
        await wait_until(lambda: count_events(engine) >= 300, check=run.check)
    stored = count_events(engine)
    assert await rabbitmq.ready(queue) == total - stored  # stored = acked; the rest requeued


async def test_the_consumer_inside_serve(
    rabbitmq: Rabbit, settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    queue = rabbitmq.queue("dp")
    await rabbitmq.publish(queue, [body(dp_deposit("tx-1"))])
    overrides = {
        "rabbitmq_url": SecretStr(RABBITMQ_URL),
        "rabbitmq_bindings": [Binding.model_validate(binding(queue, "datapulse"))],
        "consume_in_serve": ["rabbitmq"],
    }
    async with app_client(settings, engine, **overrides) as client:
        await wait_until(lambda: count_events(engine) == 1, what="the event")
        metrics = (await client.get("/metrics")).text
    assert f'croupier_connector_messages_total{{broker="rabbitmq",source="{queue}"}} 1.0' in metrics
    assert await rabbitmq.ready(queue) == 0


async def test_a_lost_connection_reconnects_and_loses_nothing(
    rabbitmq: Rabbit, database_url: str, engine: Engine, tenant: Tenant
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    queue = rabbitmq.queue("dp")
    total = 1500
    await rabbitmq.publish(queue, [body(dp_deposit(f"tx-{n}")) for n in range(total)])
    settings = rabbit_settings(
        database_url,
        binding(queue, "datapulse"),
        rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
        rabbitmq_max_batch=50,
        rabbitmq_prefetch=100,
    )
    try:
        async with Consumer("rabbitmq", settings, engine) as run:
            await wait_until(lambda: count_events(engine) >= 200, check=run.check)
            await proxy.cut()  # mid-stream: unacked deliveries go back to the queue
            assert count_events(engine) < total
            await proxy.start()
            await wait_until(
                lambda: count_events(engine) == total, what="every event", check=run.check
            )
            labels = {"broker": "rabbitmq", "source": queue}  # some maybe consumed twice
            assert run.metric("croupier_connector_messages_total", **labels) >= total
    finally:
        await proxy.cut()
    assert keys_stored_twice(engine) == []
    assert await rabbitmq.ready(queue) == 0
