"""Running the consumers: as their own process (``croupier consume``) or inside ``serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal, Protocol

from sqlalchemy.engine import Engine

from croupier.connectors.common import Pipeline, resolve_sources
from croupier.ingest.auth import KeyRegistry
from croupier.ingest.service import IngestService
from croupier.ingest.store import EventStore
from croupier.ingest.writer import GroupWriter
from croupier.kit.db import in_db_thread
from croupier.kit.observability import Metrics
from croupier.settings import Settings

log = logging.getLogger(__name__)

BrokerName = Literal["kafka", "rabbitmq"]


class Connector(Protocol):
    broker: str

    async def run(self, stop: asyncio.Event) -> None: ...


async def build_connector(
    broker: BrokerName,
    settings: Settings,
    *,
    engine: Engine,
    ingest: IngestService,
    keys: KeyRegistry,
    metrics: Metrics,
) -> Connector:
    """The consumer for ``broker``, its topics/queues bound (ConnectorConfigError if not)."""
    bindings = settings.kafka_bindings if broker == "kafka" else settings.rabbitmq_bindings
    sources = await in_db_thread(resolve_sources, engine, bindings)
    pipeline = Pipeline(broker=broker, settings=settings, ingest=ingest, keys=keys, metrics=metrics)
    if broker == "kafka":
        from croupier.connectors.kafka import KafkaConnector

        return KafkaConnector(settings, pipeline, sources)
    from croupier.connectors.rabbitmq import RabbitConnector

    return RabbitConnector(settings, pipeline, sources)


async def consume(
    broker: BrokerName,
    settings: Settings,
    stop: asyncio.Event,
    *,
    engine: Engine | None = None,
    metrics: Metrics | None = None,
) -> None:
    """A consumer with its own group-commit writer, until ``stop`` is set; the writer is
    drained before it returns."""
    own_engine = engine is None
    engine = engine or settings.store_engine(long_running=True)
    metrics = metrics or Metrics()
    writer = GroupWriter(
        EventStore(engine),
        queue_size=settings.writer_queue_size,
        max_group_events=settings.writer_max_batch_events,
        on_commit=metrics.observe_group,
    )
    ingest = IngestService(writer, max_rejected_payload=settings.rejected_max_payload_bytes)
    keys = KeyRegistry(engine, cache_seconds=settings.key_cache_seconds)
    try:
        connector = await build_connector(
            broker, settings, engine=engine, ingest=ingest, keys=keys, metrics=metrics
        )
        await writer.start()
        try:
            await connector.run(stop)
        finally:
            await writer.stop()
    finally:
        if own_engine:
            engine.dispose()


class ServeConsumers:
    """``CROUPIER_CONSUME_IN_SERVE``: the consumers as tasks of ``croupier serve``, sharing
    its writer (their batches join the HTTP requests' group commits)."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        ingest: IngestService,
        keys: KeyRegistry,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.ingest = ingest
        self.keys = keys
        self.metrics = metrics
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for broker in self.settings.consume_in_serve:
            connector = await build_connector(
                broker,
                self.settings,
                engine=self.engine,
                ingest=self.ingest,
                keys=self.keys,
                metrics=self.metrics,
            )
            self.tasks.append(asyncio.create_task(self._run(connector), name=f"consume-{broker}"))

    async def _run(self, connector: Connector) -> None:
        try:
            await connector.run(self.stopping)
        except Exception:  # the API keeps serving; the consumer's failure is loud
            log.exception("the %s consumer stopped on an error", connector.broker)

    async def stop(self) -> None:
        """Finish the batches in hand (before the writer stops)."""
        self.stopping.set()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
