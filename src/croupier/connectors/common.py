"""What both brokers share: bound sources, messages into the ingest pipeline, dead letters.

A consumer hands each batch of messages to :class:`InOrder`. Each message is
authenticated (a binding's operator, or a key header checked like HTTP's), decoded and
parsed by the same readers as the HTTP endpoints, and its events are prepared by the ingest
service (``prepare``, the first half of ``submit``) and handed to the group-commit writer
as one job: the batch's events and rejections commit in one transaction. Messages the
pipeline refuses (not JSON, invalid, unknown type, conflict) come back as dead letters,
recorded like rejected HTTP events. A store that is down raises nothing to the broker: the
batch is retried until it commits, and only then may the consumer acknowledge it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.connectors.config import Binding
from croupier.dialects.fasttrack import FtType
from croupier.events.model import EventDraft, Format
from croupier.ingest.auth import SEND, KeyInfo, KeyRegistry
from croupier.ingest.outcome import Outcome, Status
from croupier.ingest.routes import Items, Reader, decode_body, message_reader
from croupier.ingest.service import IngestService, Submission
from croupier.kit import jsoncodec
from croupier.kit.errors import ApiError, FieldError, StoreUnavailable
from croupier.kit.observability import Metrics
from croupier.kit.timeparse import utcnow
from croupier.settings import Settings
from croupier.tenancy import service as tenancy
from croupier.tenancy.models import Brand, Operator
from croupier.tenancy.service import Scope, TenancyError

log = logging.getLogger(__name__)

_RETRY_FIRST_SECONDS = 0.2
T = TypeVar("T")
_FT_TYPES = ", ".join(FtType)


class ConnectorConfigError(Exception):
    """A binding names an operator or brand that does not exist, or no binding is given."""


@dataclass(frozen=True, slots=True)
class Source:
    """A bound topic or queue. ``key`` is None when each message carries its own API key."""

    binding: Binding
    key: KeyInfo | None

    @property
    def name(self) -> str:
        return self.binding.name

    @property
    def endpoint(self) -> str:  # the rejected_events column; the source column names the broker
        return self.binding.name[:100]


@dataclass(slots=True)
class Inbound:
    """One message as the pipeline sees it; ``receipt`` is the broker's own handle."""

    source: Source
    body: bytes
    event_type: str | None  # Fast Track: the RabbitMQ ``type`` property / Kafka ``type`` header
    api_key: str | None  # the binding's key header, when it has one
    receipt: Any = None


@dataclass(slots=True)
class DeadLetter:
    message: Inbound
    error: str
    text: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def report(self, broker: str) -> bytes:
        """The error as JSON, for the dead letter's ``x-croupier-error`` header."""
        return jsoncodec.encode(
            {
                "error": self.error,
                "message": self.text,
                "details": self.details,
                "broker": broker,
                "source": self.message.source.name,
            }
        )


def resolve_sources(engine: Engine, bindings: Sequence[Binding]) -> dict[str, Source]:
    """Each binding with the tenant it names, read once at start (a deleted operator or a
    typo stops the consumer here, not at the first message)."""
    if not bindings:
        raise ConnectorConfigError("no topics or queues are bound: set the *_BINDINGS setting")
    sources: dict[str, Source] = {}
    with Session(engine) as session:
        for binding in bindings:
            if binding.name in sources:
                raise ConnectorConfigError(f"{binding.name!r} is bound twice")
            key = None if binding.operator is None else _binding_key(session, binding)
            sources[binding.name] = Source(binding, key)
    return sources


def _binding_key(session: Session, binding: Binding) -> KeyInfo:
    name = binding.operator
    operator = session.scalar(
        select(Operator).where(or_(Operator.name == name, Operator.id == name))
    )
    if operator is None:
        raise ConnectorConfigError(f"binding {binding.name!r}: no operator {name!r}")
    try:
        brand = tenancy.resolve_brand(session, operator=operator, brand=binding.brand)
    except TenancyError as exc:
        raise ConnectorConfigError(f"binding {binding.name!r}: {exc}") from None
    brand_ids = session.scalars(select(Brand.id).where(Brand.operator_id == operator.id))
    return KeyInfo(
        key_id="",  # no key: stored as NULL
        operator_id=operator.id,
        default_brand_id=brand.id,
        brand_ids=frozenset(brand_ids),
        scope=Scope.INGEST,
        rate_limit=None,
        is_test=binding.is_test,
    )


class ConnectorMetrics:
    """Prometheus series of the consumers, on the process's registry (one set per registry,
    shared by every consumer in the process)."""

    _by_registry: ClassVar[dict[int, ConnectorMetrics]] = {}

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ConnectorMetrics:
        found = cls._by_registry.get(id(registry))
        if found is None or found.registry is not registry:
            found = cls._by_registry[id(registry)] = cls(registry)
        return found

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        labels = ["broker", "source"]
        self.consumed = Counter(
            "croupier_connector_messages", "Messages consumed", labels, registry=registry
        )
        self.events = Counter(
            "croupier_connector_events",
            "Events from broker messages, by result (accepted = newly stored)",
            [*labels, "result"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "croupier_connector_dead_letters",
            "Messages sent to the dead-letter topic/queue, by error",
            [*labels, "error"],
            registry=registry,
        )
        self.lag = Gauge(
            "croupier_connector_lag_messages",
            "Messages waiting in the topic (all partitions) or queue",
            labels,
            registry=registry,
        )
        self.store_retries = Counter(
            "croupier_connector_store_retries",
            "Batches retried because the store was unavailable",
            ["broker"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "croupier_connector_batch_seconds",
            "Time to store one batch of messages, dead letters included",
            ["broker"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


@dataclass(slots=True)
class _Unit:
    """Consecutive messages under one key, format and source: one submission to ingest."""

    key: KeyInfo
    source: Source
    items: Items = field(default_factory=list)
    # (message index, first item, end item) of each message in ``items``
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    rows: Submission | None = None  # built while the batch before is committed


@dataclass(slots=True)
class Prepared:
    """A batch authenticated and parsed, ready for the writer (retried as it is)."""

    messages: Sequence[Inbound]
    units: list[_Unit]
    refused: list[dict[str, Any]]  # whole messages refused, kept as rejected events
    dead: dict[int, DeadLetter]  # by message index: refused before the store


class Pipeline:
    def __init__(
        self,
        *,
        broker: str,
        settings: Settings,
        ingest: IngestService,
        keys: KeyRegistry,
        metrics: Metrics,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.ingest = ingest
        self.keys = keys
        self.metrics = metrics
        self.connector_metrics = ConnectorMetrics.on(metrics.registry)
        self._readers: dict[tuple[Format, FtType | None], Reader] = {}

    async def prepare(self, messages: Sequence[Inbound], stop: asyncio.Event) -> Prepared | None:
        """Authenticate and parse a batch and build its rows, no write; None if stopped
        while the store (which key headers are checked against) was down."""
        return await self._retrying(lambda: self._prepare(messages), len(messages), stop)

    async def store(
        self,
        prepared: Prepared,
        *,
        dead_letter: Callable[[list[DeadLetter]], Awaitable[None]],
        stop: asyncio.Event,
    ) -> bool:
        """Commit a prepared batch (retrying while the store is down), then dead-letter what
        it refused. False: stopped before it could be stored; acknowledge nothing."""
        started = time.perf_counter()
        dead = await self._retrying(lambda: self._store(prepared), len(prepared.messages), stop)
        if dead is None:
            return False
        if dead:
            await dead_letter(dead)
            for letter in dead:
                source = letter.message.source.name
                self.connector_metrics.dead_letters.labels(self.broker, source, letter.error).inc()
        self.connector_metrics.batch_seconds.labels(self.broker).observe(
            time.perf_counter() - started
        )
        return True

    async def _retrying(
        self, attempt: Callable[[], Awaitable[T]], messages: int, stop: asyncio.Event
    ) -> T | None:
        delay = _RETRY_FIRST_SECONDS
        while True:
            try:
                return await attempt()
            except StoreUnavailable as exc:
                self.connector_metrics.store_retries.labels(self.broker).inc()
                log.warning(
                    "store unavailable; the batch stays unacknowledged and is retried",
                    extra={"fields": {"broker": self.broker, "messages": messages}},
                    exc_info=exc if log.isEnabledFor(logging.DEBUG) else None,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return None
                delay = min(delay * 2, float(self.settings.store_retry_after_seconds))

    async def _prepare(self, messages: Sequence[Inbound]) -> Prepared:
        received_at = utcnow()
        future_limit = received_at + timedelta(seconds=self.settings.future_tolerance_seconds)
        prepared = Prepared(messages, [], [], {})
        units, dead = prepared.units, prepared.dead
        keys: dict[str, KeyInfo | ApiError] = {}
        consumed: dict[str, int] = {}
        for index, message in enumerate(messages):
            consumed[message.source.name] = consumed.get(message.source.name, 0) + 1
            key = message.source.key or await self._authenticate(message, keys)
            if isinstance(key, ApiError):
                dead[index] = DeadLetter(message, key.code, key.message)
                continue
            try:
                items = self._read(message, future_limit)
            except ApiError as error:
                dead[index] = DeadLetter(message, error.code, error.message)
                prepared.refused.append(
                    self.ingest.rejection(
                        key,
                        fmt=message.source.binding.format,
                        endpoint=message.source.endpoint,
                        source=self.broker,
                        payload=message.body,
                        errors=[FieldError("", error.code, error.message)],
                        position=None,
                        received_at=received_at,
                    )
                )
                continue
            unit = units[-1] if units else None
            if unit is None or unit.key is not key or unit.source is not message.source:
                unit = _Unit(key, message.source)
                units.append(unit)
            start = len(unit.items)
            unit.items.extend(items)
            unit.spans.append((index, start, len(unit.items)))
        for unit in units:
            unit.rows = self._rows(unit)
        for name, count in consumed.items():
            self.connector_metrics.consumed.labels(self.broker, name).inc(count)
        return prepared

    async def _store(self, prepared: Prepared) -> list[DeadLetter]:
        """One attempt, one writer job: the batch's events and every rejection (refused
        messages, invalid events) commit in one transaction or not at all, so a retry after
        the store failed neither loses nor repeats a rejection. If the store refuses the
        data itself (not an outage), the units are stored one by one to find the culprit."""
        dead = dict(prepared.dead)
        messages, units = prepared.messages, prepared.units
        submissions = [unit.rows or self._rows(unit) for unit in units]
        pending = [event for rows in submissions for event in rows.pending]
        rejections = [row for rows in submissions for row in rows.rejections]
        rejections.extend(prepared.refused)
        try:
            stored = (
                await self.ingest.writer.write(pending, rejections) if pending or rejections else []
            )
        except StoreUnavailable:
            raise
        except Exception as exc:
            log.warning("a batch could not be stored (%s); storing it unit by unit", exc)
            return await self._store_apart(prepared, dead)
        results = iter(stored)
        for unit, rows in zip(units, submissions, strict=True):
            outcomes = [
                outcome if outcome is not None else next(results) for outcome in rows.outcomes
            ]
            self._settle(unit, outcomes, messages, dead)
        return [dead[index] for index in sorted(dead)]

    async def _store_apart(
        self, prepared: Prepared, dead: dict[int, DeadLetter]
    ) -> list[DeadLetter]:
        """Each unit its own writer job (the message at fault is dead-lettered alone)."""
        messages = prepared.messages
        jobs: list[Awaitable[Any]] = [self._submit(unit, messages, dead) for unit in prepared.units]
        if prepared.refused:
            jobs.append(self.ingest.writer.write([], prepared.refused))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [dead[index] for index in sorted(dead)]

    async def _authenticate(
        self, message: Inbound, cache: dict[str, KeyInfo | ApiError]
    ) -> KeyInfo | ApiError:
        secret = message.api_key or ""
        found = cache.get(secret)
        if found is None:
            try:
                found = await self.keys.authenticate(message.api_key, SEND)
            except ApiError as error:
                header = message.source.binding.key_header
                if error.code == "missing_api_key":
                    error = ApiError(401, error.code, f"send the API key in the {header!r} header")
                found = error
            cache[secret] = found
        return found

    def _read(self, message: Inbound, future_limit: datetime) -> Items:
        fmt = message.source.binding.format
        if len(message.body) > self.settings.max_batch_body_bytes:
            limit = self.settings.max_batch_body_bytes
            raise ApiError(413, "payload_too_large", f"the message is larger than {limit} bytes")
        ft_type = None
        if fmt is Format.FASTTRACK:
            ft_type = _fasttrack_type(message.event_type)
        reader = self._readers.get((fmt, ft_type))
        if reader is None:
            reader = self._readers[fmt, ft_type] = message_reader(fmt, self.settings, ft_type)
        items, _batch = reader(decode_body(message.body), future_limit)
        return items

    def _rows(self, unit: _Unit) -> Submission:
        return self.ingest.prepare(
            unit.key,
            fmt=unit.source.binding.format,
            endpoint=unit.source.endpoint,
            source=self.broker,
            items=unit.items,
            batch=False,
        )

    async def _submit(
        self, unit: _Unit, messages: Sequence[Inbound], dead: dict[int, DeadLetter]
    ) -> None:
        if unit.rows is None:
            unit.rows = self._rows(unit)
        try:
            outcomes = await self.ingest.commit(unit.rows)
        except StoreUnavailable:
            raise
        except Exception:
            # Not the store being down: data the store refused, or a bug. Find the message
            # at fault by storing the unit's messages one by one; only it is dead-lettered.
            if len(unit.spans) == 1:
                index = unit.spans[0][0]
                log.exception("a message could not be stored; dead-lettered")
                dead[index] = DeadLetter(
                    messages[index], "internal_error", "the message could not be stored"
                )
                return
            for index, start, end in unit.spans:
                alone = _Unit(
                    unit.key, unit.source, unit.items[start:end], [(index, 0, end - start)]
                )
                await self._submit(alone, messages, dead)
            return
        self._settle(unit, outcomes, messages, dead)

    def _settle(
        self,
        unit: _Unit,
        outcomes: list[Outcome],
        messages: Sequence[Inbound],
        dead: dict[int, DeadLetter],
    ) -> None:
        """Count a stored unit's outcomes; a message with refused events is dead-lettered."""
        self._count(unit, outcomes)
        for index, start, end in unit.spans:
            refused = [
                (position, outcome)
                for position, outcome in enumerate(outcomes[start:end])
                if not outcome.ok
            ]
            if refused:
                dead[index] = _refusal(messages[index], refused, several=end - start > 1)

    def _count(self, unit: _Unit, outcomes: list[Outcome]) -> None:
        tally: dict[tuple[str, str], int] = {}
        for (_wire, parsed), outcome in zip(unit.items, outcomes, strict=True):
            kind = parsed.kind.value if isinstance(parsed, EventDraft) else "unknown"
            tally_key = (kind, outcome.status.value)
            tally[tally_key] = tally.get(tally_key, 0) + 1
        by_status: dict[str, int] = {}
        for (kind, status), count in tally.items():
            self.metrics.count_events(unit.source.binding.format.value, kind, status, count)
            by_status[status] = by_status.get(status, 0) + count
        for status, count in by_status.items():
            self.connector_metrics.events.labels(self.broker, unit.source.name, status).inc(count)


class InOrder:
    """One batch storing while the next is prepared: parsing overlaps the commit before it,
    but a batch reaches the writer only once the one before it is stored and acknowledged,
    so the log keeps the broker's order, across a store outage too.

    ``settle`` (Kafka, before partitions are given up in a rebalance) stores and
    acknowledges the batch in flight and starts a new epoch: a batch read before it and
    pushed after it is dropped unstored, for whoever owns its partitions now to re-read."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        dead_letter: Callable[[list[DeadLetter]], Awaitable[None]],
        acknowledge: Callable[[Any], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        self.pipeline = pipeline
        self.dead_letter = dead_letter
        self.acknowledge = acknowledge
        self.stop = stop
        self.epoch = 0
        self._lock = asyncio.Lock()  # one hand on the batch in flight at a time
        self._storing: asyncio.Task[bool] | None = None
        self._receipt: Any = None

    @property
    def idle(self) -> bool:
        return self._storing is None

    async def push(
        self, messages: Sequence[Inbound], receipt: Any, *, epoch: int | None = None
    ) -> bool | None:
        """Prepare ``messages``, wait for the batch in flight, then start storing these;
        ``receipt`` is what ``acknowledge`` gets once they are stored. False: stopped with
        the store down (nothing more is acknowledged). None: dropped unstored, since
        ``epoch`` (read before the messages were) is over."""
        prepared = await self.pipeline.prepare(messages, self.stop)
        if prepared is None:
            return False
        async with self._lock:
            if epoch is not None and epoch != self.epoch:
                return None
            if not await self._finish():
                return False
            self._storing = asyncio.create_task(
                self.pipeline.store(prepared, dead_letter=self.dead_letter, stop=self.stop)
            )
            self._receipt = receipt
        return True

    async def finish(self) -> bool:
        """Wait for the batch in flight and acknowledge it."""
        async with self._lock:
            return await self._finish()

    async def settle(self) -> bool:
        """Finish the batch in flight and end the epoch (see the class)."""
        async with self._lock:
            try:
                return await self._finish()
            finally:
                self.epoch += 1

    async def _finish(self) -> bool:
        storing, self._storing = self._storing, None
        if storing is None:
            return True
        if not await storing:
            return False
        await self.acknowledge(self._receipt)
        return True

    def cancel(self) -> None:
        """Abandon the batch in flight unacknowledged (its connection is gone)."""
        if self._storing is not None:
            self._storing.cancel()
            self._storing = None


def _fasttrack_type(value: str | None) -> FtType:
    if not value:
        raise ApiError(
            400,
            "missing_event_type",
            "a Fast Track message names its type in the 'type' property (RabbitMQ) "
            f"or header (Kafka): one of {_FT_TYPES}",
        )
    try:
        return FtType(value)
    except ValueError:
        raise ApiError(
            400, "unknown_event_type", f"{value!r} is not a Fast Track type: one of {_FT_TYPES}"
        ) from None


def _refusal(message: Inbound, refused: list[tuple[int, Outcome]], *, several: bool) -> DeadLetter:
    details = [
        error.as_dict(position if several else None)
        for position, outcome in refused
        for error in outcome.errors
    ]
    conflict = all(outcome.status is Status.CONFLICT for _position, outcome in refused)
    if conflict:
        return DeadLetter(
            message, "conflict", "an idempotency key was already used for other content", details
        )
    return DeadLetter(message, "invalid_event", "the message holds invalid events", details)
