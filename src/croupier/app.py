"""``create_app(settings)``: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from croupier import __version__
from croupier.affiliates import click_routes
from croupier.affiliates.click_routes import ClickFront
from croupier.affiliates.postback_delivery import PostbackSender, policy_from
from croupier.events import routes as event_routes
from croupier.ingest import routes as ingest_routes
from croupier.ingest.auth import KeyRegistry
from croupier.ingest.ratelimit import RateLimiter
from croupier.ingest.routes import FrontRoute
from croupier.ingest.service import IngestService
from croupier.ingest.store import EventStore
from croupier.ingest.store_process import StoreProcess
from croupier.ingest.writer import GroupWriter
from croupier.kit.errors import ApiError, StoreUnavailable
from croupier.kit.observability import AccessLog, Metrics
from croupier.projections import registry
from croupier.projections.embedded import EmbeddedProjector
from croupier.projections.engine import Projector
from croupier.settings import Settings
from croupier.web import Services, error_response, json_response, services

log = logging.getLogger(__name__)
_PRUNE_EVERY_SECONDS = 3600


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    own_engine = engine is None
    engine = engine or settings.store_engine(long_running=True)
    store = EventStore(engine)
    metrics = Metrics()
    projector = Projector(
        engine,
        registry.handlers(),
        batch_size=settings.projector_embedded_batch_events,
        observe=metrics.observe_projection,
    )

    def on_commit(requests: int, events: int, seconds: float) -> None:
        metrics.observe_group(requests, events, seconds)
        embedded.notify()

    writer = GroupWriter(
        store,
        queue_size=settings.writer_queue_size,
        max_group_events=settings.writer_max_batch_events,
        on_commit=on_commit,
        process=_store_process(settings, engine, on_commit),
    )
    embedded = EmbeddedProjector(
        projector,
        run_serialized=writer.run_in_writer_thread,
        busy=writer.busy,
        poll_seconds=settings.projector_poll_seconds,
        busy_batch=settings.projector_embedded_busy_batch_events,
    )
    # On SQLite the sender's store work takes the writer's thread too, never its lock.
    postback_sender = PostbackSender(
        engine,
        policy=policy_from(settings),
        poll_seconds=settings.postback_poll_seconds,
        run_db=writer.run_in_writer_thread,
    )
    svc = Services(
        settings=settings,
        engine=engine,
        keys=KeyRegistry(engine, cache_seconds=settings.key_cache_seconds),
        limiter=RateLimiter(
            default=settings.rate_limit_default, storage_uri=settings.rate_limit_storage
        ),
        store=store,
        writer=writer,
        ingest=IngestService(writer, max_rejected_payload=settings.rejected_max_payload_bytes),
        metrics=metrics,
        projector=projector,
    )

    @contextlib.asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        await writer.start()
        svc.keys.warm()
        pruner = asyncio.create_task(_prune_forever(svc), name="croupier-prune-rejected")
        if settings.projector_in_process:
            embedded.start()
        if settings.sends_postbacks_in_process:
            postback_sender.start()
        consumers = None
        if settings.consume_in_serve:  # broker consumers sharing this writer
            from croupier.connectors.runner import ServeConsumers

            consumers = ServeConsumers(
                settings, engine=engine, ingest=svc.ingest, keys=svc.keys, metrics=metrics
            )
            await consumers.start()
        try:
            yield
        finally:
            if consumers is not None:
                await consumers.stop()
            pruner.cancel()
            await svc.keys.settle()
            await click_routes.settle(served)
            await postback_sender.stop()
            await embedded.stop()
            await writer.stop()
            await svc.limiter.close()
            if own_engine:  # its connections, and its background checkpointer (kit.wal)
                engine.dispose()

    app = CroupierAPI(
        title="Croupier",
        version=__version__,
        summary="Player events in the DataPulse, Revvvs and Fast Track formats, stored once.",
        lifespan=lifespan,
    )
    app.state.services = svc
    app.include_router(event_routes.router)
    for router in registry.routers():
        app.include_router(router)
    _add_operations(app)
    _add_error_handlers(app)
    ingest = ingest_routes.ingest_routes(settings)
    front_routes: list[FrontRoute] = list(ingest)
    if settings.bench_null_endpoint:
        front_routes.append(_NullRoute())
    _describe_api(app, ingest_routes.openapi_paths(ingest))
    # Innermost first: the ingest front sits inside the access log, before FastAPI's router.
    fastapi_methods: dict[str, set[str]] = {}
    # Included routers sit in app.routes as mounts without a path: list their routes too.
    included = [
        route for router in [event_routes.router, *registry.routers()] for route in router.routes
    ]
    for route in [*app.routes, *included]:
        methods = set(getattr(route, "methods", None) or ())
        if "GET" in methods:
            methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
        fastapi_methods.setdefault(getattr(route, "path", ""), set()).update(methods)
    app.front = AccessLog(
        ClickFront(
            ingest_routes.IngestApp(
                app.fastapi_stack, routes=front_routes, fallback_methods=fastapi_methods
            )
        ),
        metrics=metrics,
        enabled=settings.log_requests,
    )
    return app


def _store_process(
    settings: Settings, engine: Engine, on_commit: Callable[[int, int, float], None]
) -> StoreProcess | None:
    database = engine.url.database
    if not settings.writer_process or (
        engine.dialect.name == "sqlite" and database in (None, "", ":memory:")
    ):
        return None
    return StoreProcess(
        engine.url.render_as_string(hide_password=False),
        sqlite_synchronous=settings.sqlite_synchronous,
        log_level=settings.log_level,
        max_group_events=settings.writer_max_batch_events,
        on_commit=on_commit,
    )


class CroupierAPI(FastAPI):
    """FastAPI, with the hot ingest routes served in front of its middleware stack.

    Every request passes the access log, then the ingest front; what the front does not
    serve (reads, operations, docs, lifespan) goes on through FastAPI's own stack. The
    front answers its own errors in the same error model.
    """

    front: ASGIApp

    async def fastapi_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self.front(scope, receive, send)


async def _prune_forever(svc: Services) -> None:
    keep = timedelta(days=svc.settings.rejected_retention_days)
    while True:
        try:
            removed = await svc.writer.run_in_writer_thread(
                functools.partial(svc.store.prune_rejected, older_than=keep)
            )
            if removed:
                log.info("pruned rejected events", extra={"fields": {"removed": removed}})
        except StoreUnavailable as exc:
            log.warning("could not prune rejected events: %s", exc)
        await asyncio.sleep(_PRUNE_EVERY_SECONDS)


def _add_operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["Operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["Operations"], summary="The store is reachable")
    async def readyz(request: Request) -> Response:
        try:
            await run_in_threadpool(services(request).store.ping)
        except StoreUnavailable:
            return json_response(request, {"status": "unavailable"}, 503, {"Retry-After": "5"})
        return json_response(request, {"status": "ready"})

    @app.get(
        "/metrics",
        tags=["Operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics(request: Request) -> Response:
        data = generate_latest(services(request).metrics.registry)
        return PlainTextResponse(data, media_type=CONTENT_TYPE_LATEST)


class _NullRoute:
    """Benchmarks only: reads the body and answers 200 with no work (the HTTP ceiling)."""

    method = "POST"
    path = "/_bench/null"

    async def handle(self, request: Request) -> Response:
        await request.body()
        return Response(b'{"status":"ok"}', media_type="application/json")


def _add_error_handlers(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> Response:
        return error_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:]),
                "code": "invalid_value",
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        error = ApiError(400, "invalid_query", "invalid request parameters", details=details)
        return error_response(request, error)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        error = ApiError(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
        return error_response(request, error)

    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(StoreUnavailable, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _describe_api(app: FastAPI, ingest_paths: dict[str, dict[str, Any]]) -> None:
    """The OpenAPI document: FastAPI's routes, the ingest front's routes, the key scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            for operations in schema["paths"].values():
                for operation in operations.values():
                    # Bad parameters answer 400 in the error model, never FastAPI's 422.
                    operation.get("responses", {}).pop("422", None)
            for path, operations in ingest_paths.items():
                schema["paths"].setdefault(path, {}).update(operations)
            schema.setdefault("components", {})["securitySchemes"] = {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                # The affiliate-side API: an affiliate's own token, never an API key.
                "AffiliateToken": {"type": "http", "scheme": "bearer"},
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["create_app"]
