"""CRM read API: a player's profile and timeline (read or admin keys, own operator only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from croupier.events.repository import event_json
from croupier.ingest.examples import error_responses
from croupier.kit.errors import ApiError
from croupier.kit.timeparse import parse_iso
from croupier.players import repository
from croupier.web import (
    READ_PROJECTIONS,
    authorize,
    json_response,
    read_store,
)

router = APIRouter(tags=["Players"])
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
Brand = Annotated[
    str | None,
    Query(max_length=64, description="brand id; needed when the player_ref exists in several"),
]


@router.get(
    "/api/v1/players/{player_ref}",
    summary="A player: registration, first deposit, totals per currency, account flag history",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def get_player(request: Request, player_ref: str, brand: Brand = None) -> Response:
    key = await authorize(request, READ_PROJECTIONS)

    def load(session: Session) -> list[dict[str, Any]]:
        found = repository.find_players(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        )
        return [repository.profile(session, player) for player in found]

    profiles = await read_store(request, load)
    if not profiles:
        raise ApiError(404, "not_found", f"no player {player_ref!r} for this operator")
    if len(profiles) > 1:
        brands = [profile["brand_id"] for profile in profiles]
        raise ApiError(
            400,
            "ambiguous_player",
            f"player {player_ref!r} exists in brands {', '.join(brands)}: pass ?brand=",
            details=[
                {"field": "brand", "code": "required", "message": "one of " + ", ".join(brands)}
            ],
        )
    return json_response(request, profiles[0])


@router.get(
    "/api/v1/players/{player_ref}/timeline",
    summary="A player's events, newest first, paged by cursor",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def get_timeline(
    request: Request,
    player_ref: str,
    brand: Brand = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    before = _parse_cursor(cursor) if cursor is not None else None

    def load(session: Session) -> list[dict[str, Any]]:
        events = repository.timeline(
            session,
            operator_id=key.operator_id,
            player_ref=player_ref,
            brand_id=brand,
            before=before,
            limit=limit,
        )
        return [event_json(event) for event in events]

    events = await read_store(request, load)
    next_cursor = None
    if len(events) == limit:
        next_cursor = f"{events[-1]['occurred_at']}~{events[-1]['seq']}"
    return json_response(request, {"events": events, "next_cursor": next_cursor})


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    at_text, _, seq_text = cursor.rpartition("~")
    at = parse_iso(at_text)
    if at is None or not seq_text.isdigit():
        raise ApiError(
            400,
            "invalid_query",
            "cursor is not a next_cursor this API gave",
            details=[{"field": "cursor", "code": "invalid_value", "message": "use next_cursor"}],
        )
    return at, int(seq_text)
