"""The RabbitMQ consumer (aio-pika): one channel per queue, batches acked with ``multiple``.

Each queue has its own channel, prefetch window and worker, so delivery tags and order are
per queue. The worker takes what has arrived (up to a batch), stores it, publishes its
refused messages to the dead-letter queue with publisher confirms, and only then acks the
batch's last delivery tag with ``multiple=True``. A crash before the ack returns the
messages to the queue; stored already, they come back as duplicates. Deliveries are read
from the channel underneath aio-pika (aiormq): its per-message wrapper cost a quarter of
the consumer's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from croupier.connectors.common import DeadLetter, Inbound, InOrder, Pipeline, Source
from croupier.settings import Settings

log = logging.getLogger(__name__)

BROKER = "rabbitmq"
_RECONNECT_FIRST_SECONDS = 0.5
_RECONNECT_MAX_SECONDS = 15.0
_LAG_EVERY_SECONDS = 5.0
_IDLE_CHECK_SECONDS = 0.5


_CONFIGURATION_ERRORS = (
    aiormq.exceptions.AuthenticationError,
    aiormq.exceptions.ChannelNotFoundEntity,
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelPreconditionFailed,
)
_CONNECTION_ERRORS = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    aiormq.exceptions.ChannelClosed,
)


class _Inbox:
    """Deliveries of one queue waiting for the worker."""

    def __init__(self) -> None:
        self.messages: list[DeliveredMessage] = []
        self.arrived = asyncio.Event()

    async def on_message(self, message: DeliveredMessage) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def take(self, limit: int, *, wait: float, linger: float) -> list[DeliveredMessage]:
        """Up to ``limit`` messages: waits ``wait`` for a first one (empty if none came), then
        ``linger`` for a partial batch to fill."""
        if not self.messages:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), wait)
            if not self.messages:
                return []
        if len(self.messages) < limit and linger > 0:
            await asyncio.sleep(linger)
        batch = self.messages[:limit]
        del self.messages[:limit]
        return batch


class RabbitConnector:
    broker = BROKER

    def __init__(self, settings: Settings, pipeline: Pipeline, sources: dict[str, Source]) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sources = sources

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, reconnecting after a lost connection."""
        delay = _RECONNECT_FIRST_SECONDS
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = _RECONNECT_FIRST_SECONDS
            except _CONFIGURATION_ERRORS:
                raise  # refused credentials, a missing queue: configuration, not weather
            except (ConnectionError, OSError, TimeoutError) as exc:
                if stop.is_set():
                    return
                log.warning("RabbitMQ connection lost (%s); reconnecting in %.1f s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, _RECONNECT_MAX_SECONDS)

    async def _session(self, stop: asyncio.Event) -> None:
        """One connection's life: declare, consume, and close (unacked messages return)."""
        settings = self.settings
        connection = await aio_pika.connect(settings.rabbitmq_url.get_secret_value())
        try:
            dead_channel = await connection.channel(publisher_confirms=True)
            workers = []
            for source in self.sources.values():
                if settings.rabbitmq_declare_queues:
                    await dead_channel.declare_queue(source.binding.dead_letter_name, durable=True)
                workers.append(await self._start_queue(connection, source))
            log.info(
                "consuming", extra={"fields": {"broker": BROKER, "queues": list(self.sources)}}
            )
            tasks = [
                asyncio.create_task(self._work(source, channel, inbox, dead_channel, stop))
                for source, channel, inbox in workers
            ]
            tasks.append(asyncio.create_task(self._watch_lag(connection, stop)))
            closed = asyncio.ensure_future(connection.closed())
            try:
                await _until_done_or_failed(tasks, closed)
            finally:
                closed.cancel()
                for task in tasks:
                    task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result
            if not stop.is_set():
                raise ConnectionError("the connection closed")
        except _CONFIGURATION_ERRORS:
            raise
        except Exception as exc:
            # An operation cut short by a lost connection fails with whatever the client
            # makes of it: aiormq rejects the calls pending on a closing connection with a
            # bare Exception, before the connection says it is closed. Anything else is a
            # bug, and stops the consumer.
            lost = connection.is_closed or type(exc) is Exception
            if lost or isinstance(exc, _CONNECTION_ERRORS):
                raise ConnectionError(f"the connection was lost: {exc!r}") from exc
            raise
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _start_queue(
        self, connection: AbstractConnection, source: Source
    ) -> tuple[Source, aiormq.abc.AbstractChannel, _Inbox]:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.settings.rabbitmq_prefetch)
        await channel.declare_queue(
            source.name, durable=True, passive=not self.settings.rabbitmq_declare_queues
        )
        raw = await channel.get_underlay_channel()
        inbox = _Inbox()
        await raw.basic_consume(source.name, inbox.on_message)
        return source, raw, inbox

    async def _work(
        self,
        source: Source,
        channel: aiormq.abc.AbstractChannel,
        inbox: _Inbox,
        dead_channel: AbstractChannel,
        stop: asyncio.Event,
    ) -> None:
        """Store the queue's messages batch by batch, in order; returns once ``stop`` is set
        (the batch in flight is finished and acked first; prefetched messages not yet taken
        go back to the queue when the connection closes)."""
        settings = self.settings
        linger = settings.connector_batch_wait_ms / 1000

        async def dead_letter(letters: list[DeadLetter]) -> None:
            await asyncio.gather(*(self._publish_dead(dead_channel, letter) for letter in letters))

        async def acknowledge(delivery_tag: int) -> None:
            await channel.basic_ack(delivery_tag, multiple=True)

        batches = InOrder(
            self.pipeline, dead_letter=dead_letter, acknowledge=acknowledge, stop=stop
        )
        try:
            while not stop.is_set():
                batch: list[DeliveredMessage] = await inbox.take(
                    settings.rabbitmq_max_batch,
                    wait=_IDLE_CHECK_SECONDS if batches.idle else 0,
                    linger=linger,
                )
                if channel.is_closed:
                    raise ConnectionError("the channel closed")
                if batch:
                    last = batch[-1].delivery
                    assert isinstance(last, Basic.Deliver)
                    assert last.delivery_tag is not None
                    messages = [self._inbound(source, message) for message in batch]
                    stored = await batches.push(messages, last.delivery_tag)
                else:  # nothing more yet: let the batch in flight finish and ack
                    stored = await batches.finish()
                if not stored:  # stopped while the store was down: unacked, the queue keeps them
                    return
            await batches.finish()
        finally:
            batches.cancel()

    @staticmethod
    def _inbound(source: Source, message: DeliveredMessage) -> Inbound:
        properties = message.header.properties
        api_key = None
        key_header = source.binding.key_header
        if key_header is not None and properties.headers:
            wanted = key_header.lower()
            for name, value in properties.headers.items():
                if name.lower() == wanted:
                    api_key = value.decode() if isinstance(value, bytes) else str(value)
        # Fast Track: the type is the message property; a ``type`` header is ignored.
        return Inbound(source, message.body, properties.message_type, api_key, message)

    async def _publish_dead(self, channel: AbstractChannel, letter: DeadLetter) -> None:
        """The refused message as it came (bytes, headers, properties), plus the error;
        confirmed by the broker before the batch is acked."""
        message: DeliveredMessage = letter.message.receipt
        properties: Basic.Properties = message.header.properties
        headers: dict[str, Any] = dict(properties.headers or {})
        headers["x-croupier-error"] = letter.report(BROKER).decode()
        headers["x-croupier-origin"] = letter.message.source.name
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                content_type=properties.content_type,
                content_encoding=properties.content_encoding,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                correlation_id=properties.correlation_id,
                message_id=properties.message_id,
                timestamp=properties.timestamp,
                type=properties.message_type,
                app_id=properties.app_id,
            ),
            routing_key=letter.message.source.binding.dead_letter_name,
        )

    async def _watch_lag(self, connection: AbstractConnection, stop: asyncio.Event) -> None:
        """Ready messages per queue, from a passive declare every few seconds."""
        channel = await connection.channel()
        gauge = self.pipeline.connector_metrics.lag
        while not stop.is_set():
            for name in self.sources:
                queue = await channel.declare_queue(name, passive=True)
                count = queue.declaration_result.message_count
                gauge.labels(BROKER, name).set(count or 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _LAG_EVERY_SECONDS)


async def _until_done_or_failed(
    tasks: list[asyncio.Task[None]], closed: asyncio.Future[Any]
) -> None:
    """Until every task has returned, one has failed, or the connection closed."""
    pending: set[asyncio.Future[Any]] = {*tasks, closed}
    while True:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if closed in done or all(task.done() for task in tasks):
            return
        if any(not task.cancelled() and task.exception() is not None for task in done):
            return
