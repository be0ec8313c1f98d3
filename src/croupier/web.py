"""Shared HTTP plumbing: the app's services, JSON answers, body limits, the key guard."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.ingest.auth import KeyInfo, KeyRegistry
from croupier.ingest.outcome import WriterOverloaded
from croupier.ingest.ratelimit import RateLimiter
from croupier.ingest.service import IngestService
from croupier.ingest.store import EventStore
from croupier.ingest.writer import GroupWriter
from croupier.kit import jsoncodec
from croupier.kit.db import in_db_thread, read_session, write_session
from croupier.kit.errors import ApiError, StoreUnavailable
from croupier.kit.observability import Metrics
from croupier.projections.engine import Projector
from croupier.settings import Settings
from croupier.tenancy.service import UNLIMITED, Scope

# Projections and reports: read or admin keys.
READ_PROJECTIONS = frozenset({Scope.READ, Scope.ADMIN})


@dataclass(slots=True)
class Services:
    """Everything a request handler needs, built once by ``create_app``."""

    settings: Settings
    engine: Engine
    keys: KeyRegistry
    limiter: RateLimiter
    store: EventStore
    writer: GroupWriter
    ingest: IngestService
    metrics: Metrics
    projector: Projector


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def json_response(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # The state's dict read directly: a missing attribute of ``request.state`` raises (and
    # catches) an AttributeError, which cost more than the rest of this function.
    merged = dict(request.scope.get("state", {}).get("rate_headers", {}))
    merged.update(headers or {})
    return Response(
        jsoncodec.encode_answer(body),
        status_code=status,
        headers=merged,
        media_type="application/json",
    )


async def authorize(request: Request, scopes: Collection[Scope]) -> KeyInfo:
    """Authenticate the X-API-Key header (any case), check its scope, count it against its limit."""
    svc = services(request)
    key = await svc.keys.authenticate(request.headers.get("x-api-key"), scopes)
    request.state.log["key_id"] = key.key_id
    if key.rate_limit == UNLIMITED:
        return key
    verdict = await svc.limiter.hit(key.key_id, key.rate_limit)
    request.state.rate_headers = verdict.headers()
    if not verdict.allowed:
        raise svc.limiter.refuse(verdict)
    return key


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def read_body(request: Request, *, limit: int) -> bytes:
    content_type = request.headers.get("content-type")
    if content_type and not _is_json(content_type):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send JSON with Content-Type: application/json, not {content_type!r}",
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    # Straight from the ASGI channel: Starlette's stream() costs more than the copy here.
    body = b""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "client_disconnected", "the client went away mid-body")
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return body


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")


log = logging.getLogger(__name__)


def error_response(request: Request, exc: Exception) -> Response:
    """Any failure as a JSON answer in the error model; a 500 never names a known cause."""
    if isinstance(exc, WriterOverloaded):
        exc = ApiError(
            503,
            "overloaded",
            "too many events in flight; retry shortly",
            headers={"Retry-After": "1"},
        )
    elif isinstance(exc, StoreUnavailable):
        retry = str(services(request).settings.store_retry_after_seconds)
        exc = ApiError(
            503,
            "store_unavailable",
            "the event store is unavailable; nothing was stored, retry later",
            headers={"Retry-After": retry},
        )
    elif not isinstance(exc, ApiError):
        log.exception("unexpected error")
        exc = ApiError(500, "internal_error", "an unexpected error; it has been logged")
    state_log = getattr(request.state, "log", None)
    if state_log is not None:
        state_log["error"] = exc.code
    return json_response(request, exc.body(), exc.status, exc.headers)


Model = TypeVar("Model", bound=BaseModel)


async def parse_body(
    request: Request, model: type[Model], *, limit: int = 64 * 1024
) -> tuple[Model, set[str]]:
    """A JSON request body as ``model``, and which fields it actually carried; a body that
    is not JSON, or not the model, is a 400 with a detail per field."""
    raw = await read_body(request, limit=limit)
    try:
        parsed = model.model_validate(jsoncodec.decode(raw))
    except jsoncodec.InvalidJson as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "body",
                "code": "invalid_value",
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        raise ApiError(400, "invalid_request", "invalid request body", details=details) from None
    return parsed, set(parsed.model_fields_set)


T = TypeVar("T")


async def read_store(request: Request, work: Callable[[Session], T]) -> T:
    """``work`` on a read session, off the event loop (an unreachable store is a 503)."""
    engine = services(request).engine

    def run() -> T:
        with read_session(engine) as session:
            return work(session)

    return await in_db_thread(run)


async def write_store(request: Request, work: Callable[[Session], T]) -> T:
    """``work`` in one committed unit of work, off the event loop."""
    engine = services(request).engine

    def run() -> T:
        with write_session(engine) as session, session.begin():
            return work(session)

    return await in_db_thread(run)
