"""The public click redirect, ``GET /t/{code}``, and the lean front that serves it.

The click path is hot, so ``ClickFront`` answers it ahead of FastAPI's routing and
middleware (as the ingest front does for events); the FastAPI route stays for the
OpenAPI document and for HEAD.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from croupier.affiliates import clicks, management
from croupier.kit.timeparse import utcnow
from croupier.web import Services, error_response

log = logging.getLogger(__name__)
router = APIRouter(tags=["Clicks"])


_NOT_FOUND_PAGE = (
    "<!doctype html><html><head><title>Not found</title></head>"
    "<body><h1>Not found</h1><p>This link does not exist or is no longer active.</p>"
    "</body></html>"
)


class _ClickMachinery:
    """Per app: the link cache, the click group-committer, the trusted proxies."""

    def __init__(self, svc: Services) -> None:
        self.links = clicks.LinkCache(svc.engine)
        self.recorder = clicks.ClickRecorder(
            svc.engine,
            run_serialized=svc.writer.run_in_writer_thread,
            unique_window=timedelta(hours=svc.settings.click_unique_window_hours),
        )
        self.trusted = clicks.parse_networks(svc.settings.trusted_proxies)


def link_changed(app: Any, code: str) -> None:
    """A link was changed through this process: its next click reads it again. (Other
    processes follow within their cache time, see clicks.LinkCache.)"""
    machinery = _built(app)
    if machinery is not None:  # no click served yet: nothing cached
        machinery.links.forget(code)


async def settle(app: Any) -> None:
    """At shutdown, before the engine goes: the link lookups under way in the background."""
    machinery = _built(app)
    if machinery is not None:
        await machinery.links.settle()


def _machinery(app: Any) -> _ClickMachinery:
    # Built on first use, so the app factory needs no change for it.
    machinery = _built(app)
    if machinery is None:
        machinery = app.state.affiliate_clicks = _ClickMachinery(app.state.services)
    return machinery


def _built(app: Any) -> _ClickMachinery | None:
    machinery: _ClickMachinery | None = getattr(app.state, "affiliate_clicks", None)
    return machinery


async def _follow(
    machinery: _ClickMachinery,
    code: str,
    query: Mapping[str, str | None],
    peer: str | None,
    header: Callable[[str], str | None],
) -> str | None:
    """Record the click of link ``code``; the redirect's Location, or None for "not found"."""
    target = await machinery.links.get(code)
    if target is None:
        return None
    click = clicks.new_click(
        target,
        subs=clicks.click_subs(target.default_subs, query),
        ip_address=clicks.client_ip(peer, header("x-forwarded-for"), machinery.trusted),
        user_agent=header("user-agent"),
        referer=header("referer"),
        clicked_at=utcnow(),
    )
    try:
        await machinery.recorder.record(click)
    except Exception:
        # The player still lands: a lost click costs less than a stranded visitor. The
        # click_id is then unknown to us, and attribution treats it as an external one.
        log.exception("click %s not recorded", click["click_id"])
    subs = {key: click[key] for key in management.SUB_KEYS if click[key]}
    return clicks.landing_location(target.landing_url, click["click_id"], subs)


@router.get(
    "/t/{code}",
    summary="Follow a tracking link: records the click, redirects to the landing page",
    tags=["Clicks"],
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the landing URL, with click_id and sub1..sub5 appended"},
        404: {"description": "Unknown or disabled link (a small HTML page)"},
    },
)
async def follow_link(
    request: Request,
    code: str,
    sub1: str | None = None,
    sub2: str | None = None,
    sub3: str | None = None,
    sub4: str | None = None,
    sub5: str | None = None,
) -> Response:
    """Described for OpenAPI and served for HEAD; ``ClickFront`` serves GET."""
    location = await _follow(
        _machinery(request.app),
        code,
        {"sub1": sub1, "sub2": sub2, "sub3": sub3, "sub4": sub4, "sub5": sub5},
        request.client.host if request.client else None,
        request.headers.get,
    )
    if location is None:
        return HTMLResponse(_NOT_FOUND_PAGE, status_code=404)
    return Response(status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


_NOT_FOUND_BODY = _NOT_FOUND_PAGE.encode()
_NOT_FOUND_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(_NOT_FOUND_BODY)).encode()),
]


class ClickFront:
    """Serves ``GET /t/{code}`` straight from the ASGI scope (no Request or Response
    objects: this path is the hottest there is); everything else goes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        code = path[3:]
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not path.startswith("/t/")
            or not code
            or "/" in code
        ):
            await self.app(scope, receive, send)
            return
        try:
            location = await self._serve(scope, code)
        except Exception as exc:  # answered in the error model, like every route
            await error_response(Request(scope, receive), exc)(scope, receive, send)
            return
        if location is None:
            await send(
                {"type": "http.response.start", "status": 404, "headers": _NOT_FOUND_HEADERS}
            )
            await send({"type": "http.response.body", "body": _NOT_FOUND_BODY})
            return
        headers = [
            (b"location", location.encode("latin-1")),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _serve(scope: Scope, code: str) -> str | None:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        raw_headers: list[tuple[bytes, bytes]] = scope.get("headers", [])

        def header(name: str) -> str | None:
            wanted = name.encode()
            for key, value in raw_headers:
                if key == wanted:
                    return value.decode("latin-1")
            return None

        client = scope.get("client")
        return await _follow(
            _machinery(scope["app"]), code, query, client[0] if client else None, header
        )
