"""The Kafka consumer (aiokafka): batches from ``getmany``, offsets committed after the commit.

Offsets are committed by hand, per partition, only once the batch's events are committed
to the store and its refused messages are on their dead-letter topic. A crash in between
re-reads the batch, whose events then come back as duplicates: at-least-once delivery,
exactly-once storage. One batch at a time, in partition order, so each partition is stored
in the order it was written.

A rebalance (a member joins or leaves the group) awaits :class:`_Rebalance` before any
partition is given up: the batch in flight is stored and its offsets committed, and a
batch read but not yet handed to the store is dropped, and its partitions sought back to
their committed offsets. Each partition's messages are thus stored by one member at a time,
in offset order; after the assignment every member resumes from the committed offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    TopicAlreadyExistsError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import OffsetAndMetadata

from croupier.connectors.common import DeadLetter, Inbound, InOrder, Pipeline, Source
from croupier.settings import Settings

log = logging.getLogger(__name__)

BROKER = "kafka"
TYPE_HEADER = "type"
_POLL_MS = 500
_LAG_EVERY_SECONDS = 1.0


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection, TLS and SASL options shared by the consumer, producer and admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if settings.kafka_sasl_mechanism is not None:
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return options


class KafkaConnector:
    broker = BROKER

    def __init__(self, settings: Settings, pipeline: Pipeline, sources: dict[str, Source]) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sources = sources
        self._producer: AIOKafkaProducer | None = None
        self._lag_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished first."""
        settings = self.settings
        options = client_options(settings)
        if settings.kafka_create_dead_letter_topics:
            await self._create_dead_letter_topics(options)
        consumer = AIOKafkaConsumer(
            group_id=settings.kafka_group_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.kafka_auto_offset_reset,
            max_poll_records=settings.kafka_max_batch,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(100, settings.kafka_session_timeout_ms // 3),
            **options,
        )
        rebalance = _Rebalance()
        consumer.subscribe(list(self.sources), listener=rebalance)
        producer = self._producer = AIOKafkaProducer(acks="all", linger_ms=5, **options)
        await producer.start()
        try:
            await consumer.start()
            try:
                await self._consume(consumer, stop, rebalance)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()
            self._producer = None

    async def _consume(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event, rebalance: _Rebalance
    ) -> None:
        log.info("consuming", extra={"fields": {"broker": BROKER, "topics": list(self.sources)}})

        async def commit(offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
            try:
                await consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # The group moved these partitions to another member meanwhile; it re-reads
                # the batch, stored already: duplicates, nothing lost.
                log.warning("offset commit refused after a rebalance: %s", exc)

        batches = InOrder(
            self.pipeline, dead_letter=self._send_dead_letters, acknowledge=commit, stop=stop
        )
        rebalance.batches = batches
        try:
            while not stop.is_set():
                epoch = batches.epoch  # read first: a rebalance during getmany drops its records
                fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
                fetched = await consumer.getmany(
                    timeout_ms=_POLL_MS if batches.idle else 0,
                    max_records=self.settings.kafka_max_batch,
                )
                if fetched:
                    messages = [
                        self._inbound(record) for records in fetched.values() for record in records
                    ]
                    offsets = {
                        tp: OffsetAndMetadata(records[-1].offset + 1, "")
                        for tp, records in fetched.items()
                    }
                    stored = await batches.push(messages, offsets, epoch=epoch)
                    if stored is None:  # a rebalance came first: read them again if still ours
                        await _rewind(consumer, fetched)
                        log.info(
                            "a batch read before a rebalance was dropped unstored",
                            extra={"fields": {"broker": BROKER, "messages": len(messages)}},
                        )
                        continue
                else:  # nothing more yet: let the batch in flight finish and commit
                    stored = await batches.finish()
                if not stored:  # stopped while the store was down: the group re-reads them
                    return
                await self._observe_lag(consumer)
            await batches.finish()
        finally:
            batches.cancel()

    def _inbound(self, record: ConsumerRecord[bytes, bytes]) -> Inbound:
        source = self.sources[record.topic]
        key_header = source.binding.key_header
        event_type = api_key = None
        for name, value in record.headers:
            lowered = name.lower()
            if lowered == TYPE_HEADER:
                event_type = value.decode("utf-8", "replace") if value is not None else None
            elif key_header is not None and lowered == key_header.lower() and value is not None:
                api_key = value.decode("utf-8", "replace")
        return Inbound(source, record.value or b"", event_type, api_key, record)

    async def _send_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Each refused message on its dead-letter topic: same key, bytes and headers, plus the
        error. Awaited (acks=all) before any offset is committed."""
        assert self._producer is not None
        sends = []
        for letter in letters:
            record: ConsumerRecord[bytes, bytes] = letter.message.receipt
            headers = [
                *record.headers,
                ("x-croupier-error", letter.report(BROKER)),
                (
                    "x-croupier-origin",
                    f"{record.topic}/{record.partition}/{record.offset}".encode(),
                ),
            ]
            sends.append(
                await self._producer.send(
                    letter.message.source.binding.dead_letter_name,
                    value=record.value,
                    key=record.key,
                    headers=headers,
                )
            )
        await asyncio.gather(*sends)

    async def _create_dead_letter_topics(self, options: dict[str, Any]) -> None:
        names = {source.binding.dead_letter_name for source in self.sources.values()}
        admin = AIOKafkaAdminClient(**options)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = sorted(names - existing)
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(name, num_partitions=1, replication_factor=1) for name in missing]
                    )
        finally:
            await admin.close()

    async def _observe_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if now - self._lag_at < _LAG_EVERY_SECONDS:
            return
        self._lag_at = now
        lag: dict[str, int] = {}
        for tp in _sorted(consumer.assignment()):
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - position)
        gauge = self.pipeline.connector_metrics.lag
        for topic, waiting in lag.items():
            gauge.labels(BROKER, topic).set(waiting)


async def _rewind(
    consumer: AIOKafkaConsumer, dropped: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
) -> None:
    """Partitions of a dropped batch still assigned: back to their committed offset (or to
    the batch's first record when nothing is committed yet), so nothing is skipped."""
    for tp, records in dropped.items():
        if tp not in consumer.assignment():
            continue
        committed = await consumer.committed(tp)
        with contextlib.suppress(IllegalStateError):  # given up meanwhile: not ours to read
            consumer.seek(tp, records[0].offset if committed is None else committed)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Awaited by aiokafka before partitions are given up and after new ones are assigned."""

    def __init__(self) -> None:
        self.batches: InOrder | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self.batches is None or not revoked:
            return
        stored = await self.batches.settle()
        log.info(
            "partitions revoked; the batch in flight was %s",
            "stored and committed" if stored else "abandoned (stopping with the store down)",
            extra={"fields": {"broker": BROKER, "partitions": _names(revoked)}},
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # A fresh assignment has no position: aiokafka reads each partition's committed offset.
        log.info(
            "partitions assigned",
            extra={"fields": {"broker": BROKER, "partitions": _names(assigned)}},
        )


def _names(partitions: set[TopicPartition]) -> list[str]:
    return [f"{tp.topic}/{tp.partition}" for tp in _sorted(partitions)]


def _sorted(partitions: Sequence[TopicPartition] | set[TopicPartition]) -> list[TopicPartition]:
    return sorted(partitions, key=lambda tp: (tp.topic, tp.partition))
