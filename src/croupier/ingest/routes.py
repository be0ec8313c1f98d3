"""The three wire formats' endpoints, served by a lean ASGI front (``IngestApp``).

The ingest routes are the hot path, so they skip FastAPI's routing and middleware layers:
the front matches (method, path) exactly and calls the handler with a Starlette
``Request``; everything else goes on to the FastAPI app. The routes are still described
in the OpenAPI document (see ``openapi_paths``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from croupier.dialects import datapulse, fasttrack, revvvs
from croupier.dialects.common import Parsed
from croupier.dialects.fasttrack import FtType
from croupier.events.model import EventDraft, Format
from croupier.ingest import examples, render
from croupier.ingest.auth import SEND
from croupier.ingest.outcome import Outcome
from croupier.kit import jsoncodec
from croupier.kit.errors import ApiError, FieldError
from croupier.kit.timeparse import utcnow
from croupier.kit.turns import Turns
from croupier.settings import Settings
from croupier.web import Services, authorize, error_response, json_response, read_body, services

Items = list[tuple[Any, Parsed]]
# Bodies this large (about 30 events and more) are parsed one per pass of the event loop
# (kit.turns). With 64 connections sending batches of 100 to SQLite, three pairs of runs
# gave 13.8k-18.2k events/s without turns and 18.1k-23.7k with. Single events skip them:
# their parsing is short, and their group leaves at the pass's end anyway (ingest.writer).
_TURN_BYTES = 8192
_PARSING = Turns()
Reader = Callable[[Any, datetime], tuple[Items, bool]]
Answer = Callable[[Items, list[Outcome], bool], dict[str, Any]]


async def _ingest(
    request: Request,
    *,
    fmt: Format,
    endpoint: str,
    batch_body: bool,
    read: Callable[[Any, datetime], tuple[Items, bool]],
    answer: Callable[[Items, list[Outcome], bool], dict[str, Any]],
) -> Response:
    svc = services(request)
    key = await authorize(request, SEND)
    settings = svc.settings
    request.state.log.update(format=fmt.value, endpoint=endpoint)
    limit = settings.max_batch_body_bytes if batch_body else settings.max_body_bytes
    body = await read_body(request, limit=limit)
    if len(body) >= _TURN_BYTES:  # a batch: milliseconds of parsing
        await _PARSING.take()
    future_limit = utcnow() + timedelta(seconds=settings.future_tolerance_seconds)
    try:  # a body refused whole (not JSON, wrong shape, too many events) is kept too
        items, batch = read(decode_body(body), future_limit)
    except ApiError as error:
        await svc.ingest.reject_request(
            key,
            fmt=fmt,
            endpoint=endpoint,
            source="http",
            body=body,
            error=FieldError("", error.code, error.message),
        )
        raise
    outcomes = await svc.ingest.submit(
        key, fmt=fmt, endpoint=endpoint, source="http", items=items, batch=batch
    )
    _count(svc, request.state.log, fmt, items, outcomes)
    return json_response(request, answer(items, outcomes, batch))


def _count(
    svc: Services, log: dict[str, Any], fmt: Format, items: Items, outcomes: list[Outcome]
) -> None:
    """Metrics and the log line's counts, tallied first: one counter update per kind and
    status, not one per event."""
    tally: dict[tuple[str, str], int] = {}
    for (_wire, parsed), outcome in zip(items, outcomes, strict=True):
        kind = parsed.kind.value if isinstance(parsed, EventDraft) else "unknown"
        key = (kind, outcome.status.value)
        tally[key] = tally.get(key, 0) + 1
    log["events"] = len(outcomes)
    for (kind, status), count in tally.items():
        svc.metrics.count_events(fmt.value, kind, status, count)
        log[status] = log.get(status, 0) + count


def decode_body(body: bytes) -> Any:
    """A JSON body (HTTP or a broker message) as Python values, or a 400 saying why not."""
    try:
        return jsoncodec.decode(body)
    except jsoncodec.NumberOutOfRange as exc:
        raise ApiError(400, "number_out_of_range", f"a number is far too large: {exc}") from None
    except jsoncodec.InvalidJson as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _events_array(value: Any, *, limit: int, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ApiError(400, "invalid_batch", f"{where} must be a JSON array of events")
    if not value:
        raise ApiError(400, "empty_batch", "the batch holds no events")
    if len(value) > limit:
        raise ApiError(
            413, "batch_too_large", f"a batch holds at most {limit} events, this one {len(value)}"
        )
    return value


def _answer_plain(items: Items, outcomes: list[Outcome], batch: bool) -> dict[str, Any]:
    if not batch:
        return render.single(outcomes[0])
    return render.batch(outcomes, [render.result(o, i) for i, o in enumerate(outcomes)])


def _answer_revvvs(items: Items, outcomes: list[Outcome], batch: bool) -> dict[str, Any]:
    results = []
    for index, ((wire, _parsed), outcome) in enumerate(zip(items, outcomes, strict=True)):
        key = wire.get("idempotency_key") if isinstance(wire, dict) else None
        results.append(
            render.result(
                outcome,
                index if batch else None,
                idempotency_key=key if isinstance(key, str) else None,
            )
        )
    return render.batch(outcomes, results)


# --- DataPulse -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestRoute:
    method: str
    path: str
    fmt: Format
    endpoint: str
    batch_body: bool
    read: Reader
    answer: Answer
    summary: str
    examples: tuple[tuple[str, Any], ...]
    schema: dict[str, Any] | None = None

    async def handle(self, request: Request) -> Response:
        return await _ingest(
            request,
            fmt=self.fmt,
            endpoint=self.endpoint,
            batch_body=self.batch_body,
            read=self.read,
            answer=self.answer,
        )


def _single(parse: Callable[..., Parsed]) -> Reader:
    def read(value: Any, future_limit: datetime) -> tuple[Items, bool]:
        return [(value, parse(value, future_limit=future_limit))], False

    return read


def _datapulse_batch(limit: int) -> Reader:
    def read(value: Any, future_limit: datetime) -> tuple[Items, bool]:
        events = _events_array(value, limit=limit, where="the body")
        return [(v, datapulse.parse(v, future_limit=future_limit)) for v in events], True

    return read


def _revvvs(limit: int) -> Reader:
    def read(value: Any, future_limit: datetime) -> tuple[Items, bool]:
        if isinstance(value, dict) and "events" in value:
            events = _events_array(value["events"], limit=limit, where="events")
            return [(v, revvvs.parse(v, future_limit=future_limit)) for v in events], True
        return [(value, revvvs.parse(value, future_limit=future_limit))], False

    return read


def _fasttrack(ft_type: FtType) -> Reader:
    def parse(value: Any, *, future_limit: datetime) -> Parsed:
        return fasttrack.parse(ft_type, value, future_limit=future_limit)

    return _single(parse)


_FASTTRACK = (
    ("POST", "/v1/integration/casino", FtType.CASINO),
    ("POST", "/v1/integration/bonus", FtType.BONUS),
    ("POST", "/v1/integration/payment", FtType.PAYMENT),
    ("POST", "/v2/integration/user", FtType.USER_CREATE_V2),
    ("PUT", "/v2/integration/user", FtType.USER_UPDATE_V2),
    ("PUT", "/v2/integration/user/blocks", FtType.USER_BLOCK_V2),
    ("POST", "/v2/integration/login", FtType.LOGIN_V2),
)


def ingest_routes(settings: Settings) -> list[IngestRoute]:
    dp_batch_limit, rv_batch_limit = settings.datapulse_max_batch, settings.revvvs_max_batch
    routes = [
        IngestRoute(
            "POST",
            "/v2/s2s/event",
            Format.DATAPULSE,
            "datapulse.event",
            False,
            _single(datapulse.parse),
            _answer_plain,
            "DataPulse: one event",
            (
                ("deposit", examples.DATAPULSE_DEPOSIT),
                ("bet, pattern A", examples.DATAPULSE_BET_PATTERN_A),
            ),
        ),
        IngestRoute(
            "POST",
            "/v2/s2s/batch",
            Format.DATAPULSE,
            "datapulse.batch",
            True,
            _datapulse_batch(dp_batch_limit),
            _answer_plain,
            f"DataPulse: a JSON array of at most {dp_batch_limit} events",
            (("batch", [examples.DATAPULSE_DEPOSIT, examples.DATAPULSE_BET_PATTERN_A]),),
            {"type": "array", "items": {"type": "object"}},
        ),
        IngestRoute(
            "POST",
            "/api/v1/events",
            Format.REVVVS,
            "revvvs.events",
            True,
            _revvvs(rv_batch_limit),
            _answer_revvvs,
            f'Revvvs: one event, or {{"events": [...]}} with at most {rv_batch_limit}',
            (("registration", examples.REVVVS_REGISTRATION), ("batch", examples.REVVVS_BATCH)),
        ),
    ]
    for method, path, ft_type in _FASTTRACK:
        routes.append(
            IngestRoute(
                method,
                path,
                Format.FASTTRACK,
                f"fasttrack.{ft_type.value.lower()}",
                False,
                _fasttrack(ft_type),
                _answer_plain,
                f"Fast Track: {ft_type.value}",
                ((ft_type.value, examples.FASTTRACK[ft_type.value]),),
            )
        )
    return routes


def message_reader(fmt: Format, settings: Settings, ft_type: FtType | None = None) -> Reader:
    """How a broker message's JSON becomes items: the same readers as the HTTP endpoints, so a
    payload means the same whichever way it arrives (``connectors/``). A DataPulse message
    holds one event or an array (``/event`` or ``/batch``); a Revvvs message one event or
    ``{"events": [...]}``; a Fast Track message one event of ``ft_type``."""
    if fmt is Format.FASTTRACK:
        if ft_type is None:
            raise ValueError("a Fast Track reader needs the event type")
        return _fasttrack(ft_type)
    if fmt is Format.REVVVS:
        return _revvvs(settings.revvvs_max_batch)
    one, many = _single(datapulse.parse), _datapulse_batch(settings.datapulse_max_batch)

    def read(value: Any, future_limit: datetime) -> tuple[Items, bool]:
        return (many if isinstance(value, list) else one)(value, future_limit)

    return read


class FrontRoute(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    async def handle(self, request: Request) -> Response: ...


class IngestApp:
    """ASGI front: the ingest routes here, everything else on to ``app`` (FastAPI's router)."""

    def __init__(
        self, app: ASGIApp, routes: list[FrontRoute], fallback_methods: dict[str, set[str]]
    ) -> None:
        """``fallback_methods``: the methods ``app`` serves on each path, so that a wrong
        method on a path both serve (POST and GET /api/v1/events) names them all."""
        self.fallback = app
        self.routes = {(route.method, route.path): route for route in routes}
        self.fallback_methods = fallback_methods
        self.allowed: dict[str, list[str]] = {}
        for route in routes:
            methods = {route.method, *fallback_methods.get(route.path, ())}
            self.allowed[route.path] = sorted({*self.allowed.get(route.path, ()), *methods})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if route is None:
            allowed = self.allowed.get(scope["path"]) if scope["type"] == "http" else None
            if allowed is None or scope["method"] in self.fallback_methods.get(scope["path"], ()):
                await self.fallback(scope, receive, send)
                return
            error = ApiError(
                405,
                "method_not_allowed",
                f"use {' or '.join(allowed)} here",
                headers={"Allow": ", ".join(allowed)},
            )
            await error_response(Request(scope, receive), error)(scope, receive, send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.handle(request)
        except Exception as exc:  # every failure still answers in the error model
            response = error_response(request, exc)
        await response(scope, receive, send)


def openapi_paths(routes: list[IngestRoute]) -> dict[str, dict[str, Any]]:
    """The ingest routes as OpenAPI operations, with the specs' examples."""
    paths: dict[str, dict[str, Any]] = {}
    tags = {Format.DATAPULSE: "DataPulse", Format.REVVVS: "Revvvs", Format.FASTTRACK: "Fast Track"}
    for route in routes:
        operation = {
            "tags": [tags[route.fmt]],
            "summary": route.summary,
            "operationId": route.endpoint.replace(".", "_") + "_" + route.method.lower(),
            **examples.body(*route.examples, schema=route.schema),
            "responses": examples.RESPONSES,
        }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return paths
