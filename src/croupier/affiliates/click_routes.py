"""The public click redirect, ``GET /t/{code}``, and the lean front that serves it.

The click path is hot, so ``ClickFront`` answers it ahead of FastAPI's routing and
middleware (as the ingest front does for events); the FastAPI route stays for the
OpenAPI document and for HEAD.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from croupier.affiliates import clicks, management
from croupier.kit.db import in_db_thread
from croupier.kit.timeparse import utcnow
from croupier.web import error_response, services

log = logging.getLogger(__name__)
router = APIRouter(tags=["Clicks"])
_SUBS = ("sub1", "sub2", "sub3", "sub4", "sub5")


_NOT_FOUND_PAGE = (
    "<!doctype html><html><head><title>Not found</title></head>"
    "<body><h1>Not found</h1><p>This link does not exist or is no longer active.</p>"
    "</body></html>"
)


class _ClickMachinery:
    """Per app: the link cache, the click group-committer, the trusted proxies."""

    def __init__(self, request: Request) -> None:
        svc = services(request)
        self.links = clicks.LinkCache(svc.engine)
        self.recorder = clicks.ClickRecorder(
            svc.engine,
            run_serialized=svc.writer.run_in_writer_thread,
            unique_window=timedelta(hours=svc.settings.click_unique_window_hours),
        )
        self.trusted = clicks.parse_networks(svc.settings.trusted_proxies)


def _machinery(request: Request) -> _ClickMachinery:
    # Built on first use, so the app factory needs no change for it.
    state = request.app.state
    machinery: _ClickMachinery | None = getattr(state, "affiliate_clicks", None)
    if machinery is None:
        machinery = state.affiliate_clicks = _ClickMachinery(request)
    return machinery


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
    machinery = _machinery(request)
    hit, target = machinery.links.cached(code)
    if not hit:
        target = await in_db_thread(machinery.links.load, code)
    if target is None:
        return HTMLResponse(_NOT_FOUND_PAGE, status_code=404)
    headers = request.headers
    peer = request.client.host if request.client else None
    click = clicks.new_click(
        target,
        subs=clicks.click_subs(
            target.default_subs,
            {"sub1": sub1, "sub2": sub2, "sub3": sub3, "sub4": sub4, "sub5": sub5},
        ),
        ip_address=clicks.client_ip(peer, headers.get("x-forwarded-for"), machinery.trusted),
        user_agent=headers.get("user-agent"),
        referer=headers.get("referer"),
        clicked_at=utcnow(),
    )
    try:
        await machinery.recorder.record(click)
    except Exception:
        # The player still lands: a lost click costs less than a stranded visitor. The
        # click_id is then unknown to us, and attribution treats it as an external one.
        log.exception("click %s not recorded", click["click_id"])
    subs = {key: click[key] for key in management.SUB_KEYS if click[key]}
    location = clicks.landing_location(target.landing_url, click["click_id"], subs)
    return Response(status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


class ClickFront:
    """Serves ``GET /t/{code}`` straight to ``follow_link``; everything else goes on."""

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
        request = Request(scope, receive)
        query = request.query_params
        try:
            response = await follow_link(request, code, *(query.get(name) for name in _SUBS))
        except Exception as exc:  # answered in the error model, like every route
            response = error_response(request, exc)
        await response(scope, receive, send)
