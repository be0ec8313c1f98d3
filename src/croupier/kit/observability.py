"""Prometheus metrics and structured (JSON, one line) logs."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "croupier_events",
            "Events received, by wire format, kind and result",
            ["format", "kind", "result"],
            registry=self.registry,
        )
        # labels() validates and locks on every call; the children are few, keep them.
        self._event_children: dict[tuple[str, str, str], Any] = {}
        self._request_children: dict[tuple[str, int], Any] = {}
        self.group_requests = Histogram(
            "croupier_writer_group_requests",
            "Requests sharing one group commit",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.group_events = Histogram(
            "croupier_writer_group_events",
            "Events in one group commit",
            registry=self.registry,
            buckets=(1, 10, 100, 500, 1000, 2000, 5000),
        )
        self.group_seconds = Histogram(
            "croupier_writer_commit_seconds",
            "Time to write and commit one group",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
        )
        self.requests = Histogram(
            "croupier_request_duration_seconds",
            "HTTP request latency",
            ["route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

        self.projected = Counter(
            "croupier_projection_events",
            "Events applied to the projections (test-key events excluded)",
            registry=self.registry,
        )
        self.projection_seconds = Histogram(
            "croupier_projection_batch_seconds",
            "Time to apply and commit one projection batch",
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.projection_lag = Gauge(
            "croupier_projection_lag_seconds",
            "Age of the last event applied while the projector is behind; 0 once caught up",
            registry=self.registry,
        )

    def observe_projection(self, result: Any, seconds: float) -> None:
        """Told of every projection batch (a projections.engine.BatchResult)."""
        self.projected.inc(result.applied)
        self.projection_seconds.observe(seconds)
        if result.more and result.last_received_at is not None:
            lag = time.time() - result.last_received_at.timestamp()
            self.projection_lag.set(max(0.0, lag))
        else:
            self.projection_lag.set(0)

    def count_events(self, fmt: str, kind: str, result: str, count: int) -> None:
        child = self._event_children.get((fmt, kind, result))
        if child is None:
            child = self._event_children[fmt, kind, result] = self.events.labels(fmt, kind, result)
        child.inc(count)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        """``path`` is the route's template (or "unmatched"): a few dozen children at most."""
        child = self._request_children.get((path, status))
        if child is None:
            child = self._request_children[path, status] = self.requests.labels(path, str(status))
        child.observe(seconds)

    def observe_group(self, requests: int, events: int, seconds: float) -> None:
        self.group_requests.observe(requests)
        self.group_events.observe(events)
        self.group_seconds.observe(seconds)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each record, not as it was at configuration:
    whoever swaps the stream (a test runner capturing output) must not leave the log
    writing to a closed file."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


request_log = logging.getLogger("croupier.request")


class AccessLog:
    """One log line and one latency sample per request. Handlers add fields (key id,
    format, counts) to ``request.state.log``; the key itself is never logged."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, enabled: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        fields: dict[str, Any] = {}
        scope.setdefault("state", {})["log"] = fields

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.observe_request(path, status, elapsed)
            if self.enabled:
                fields.update(
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    latency_ms=round(elapsed * 1000, 2),
                )
                request_log.info("request", extra={"fields": fields})
