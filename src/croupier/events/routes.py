"""Integrators read back their own operator's stored canonical events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from croupier.events import repository
from croupier.events.model import Kind
from croupier.ingest.auth import READ_OWN_EVENTS
from croupier.ingest.examples import error_responses
from croupier.kit.errors import ApiError
from croupier.kit.timeparse import parse_iso
from croupier.web import authorize, json_response, read_store

router = APIRouter(tags=["Events"])
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}


@router.get(
    "/api/v1/events/{event_id}",
    summary="One stored event",
    openapi_extra=_SECURITY,
    responses=error_responses("401", "403", "404", "429", "503"),
)
async def get_event(request: Request, event_id: str) -> Response:
    key = await authorize(request, READ_OWN_EVENTS)

    def load(session: Session) -> dict[str, object] | None:
        event = repository.get_event(session, operator_id=key.operator_id, event_id=event_id)
        return None if event is None else repository.event_json(event)

    found = await read_store(request, load)
    if found is None:
        raise ApiError(404, "not_found", f"no event {event_id} for this operator")
    return json_response(request, found)


@router.get(
    "/api/v1/events",
    summary="Stored events, oldest first, paged by cursor",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def list_events(
    request: Request,
    player_ref: Annotated[str | None, Query(max_length=255)] = None,
    kind: Kind | None = None,
    since: Annotated[
        str | None, Query(description="ISO 8601; events that occurred at or after")
    ] = None,
    cursor: Annotated[
        int | None, Query(ge=0, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    key = await authorize(request, READ_OWN_EVENTS)
    since_at: datetime | None = None
    if since is not None:
        since_at = parse_iso(since)
        if since_at is None:
            raise ApiError(
                400,
                "invalid_query",
                f"since={since!r} is not an ISO 8601 time",
                details=[
                    {"field": "since", "code": "invalid_timestamp", "message": "expected ISO 8601"}
                ],
            )

    def load(session: Session) -> list[dict[str, object]]:
        events = repository.list_events(
            session,
            operator_id=key.operator_id,
            player_ref=player_ref,
            kind=kind.value if kind else None,
            since=since_at,
            after_seq=cursor,
            limit=limit,
        )
        return [repository.event_json(event) for event in events]

    events = await read_store(request, load)
    next_cursor = events[-1]["seq"] if len(events) == limit else None
    return json_response(request, {"events": events, "next_cursor": next_cursor})
