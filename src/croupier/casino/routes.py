"""CRM read API for casino: a player's rounds and sessions, one round with its activities
(read or admin keys, own operator only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from croupier.casino import repository
from croupier.casino.repository import Position
from croupier.ingest.examples import error_responses
from croupier.kit.errors import ApiError
from croupier.web import (
    READ_PROJECTIONS,
    authorize,
    json_response,
    read_store,
)

router = APIRouter(tags=["Casino"])
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
Brand = Annotated[
    str | None,
    Query(max_length=64, description="brand id; without it, every brand of the operator"),
]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the last page")]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get(
    "/api/v1/players/{player_ref}/rounds",
    summary="A player's game rounds, newest first, paged by cursor",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def list_player_rounds(
    request: Request,
    player_ref: str,
    brand: Brand = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    after = _position(cursor, size=3)

    def load(session: Session) -> list[dict[str, Any]]:
        return repository.player_rounds(
            session,
            operator_id=key.operator_id,
            player_ref=player_ref,
            brand_id=brand,
            after=after,
            limit=limit + 1,
        )

    rounds, next_cursor = _page(
        await read_store(request, load),
        limit,
        position=lambda last: (last["started_at"], last["brand_id"], last["round_ref"]),
        to_json=repository.round_json,
    )
    return json_response(request, {"rounds": rounds, "next_cursor": next_cursor})


@router.get(
    "/api/v1/players/{player_ref}/sessions",
    summary="A player's game sessions, newest first, paged by cursor",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def list_player_sessions(
    request: Request,
    player_ref: str,
    brand: Brand = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    after = _position(cursor, size=2)

    def load(session: Session) -> list[dict[str, Any]]:
        return repository.player_sessions(
            session,
            operator_id=key.operator_id,
            player_ref=player_ref,
            brand_id=brand,
            after=after,
            limit=limit + 1,
        )

    sessions, next_cursor = _page(
        await read_store(request, load),
        limit,
        position=lambda last: (last["started_at"], last["brand_id"]),
        to_json=repository.session_json,
    )
    return json_response(request, {"sessions": sessions, "next_cursor": next_cursor})


def _page(
    found: list[dict[str, Any]],
    limit: int,
    *,
    position: Callable[[dict[str, Any]], tuple[Any, ...]],
    to_json: Callable[[dict[str, Any]], dict[str, Any]],
) -> tuple[list[dict[str, Any]], str | None]:
    """One page (``found`` holds one row more than ``limit`` when there is a next page)."""
    page = found[:limit]
    next_cursor = repository.make_cursor(position(page[-1])) if len(found) > limit else None
    return [to_json(row) for row in page], next_cursor


@router.get(
    "/api/v1/rounds/{round_id}",
    summary="One game round with its bets, settlements and rollbacks",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def get_round(
    request: Request,
    round_id: str,
    brand: Brand = None,
    player_ref: Annotated[
        str | None, Query(max_length=255, description="needed when players share a round id")
    ] = None,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)

    def load(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        found = repository.find_rounds(
            session,
            operator_id=key.operator_id,
            round_ref=round_id,
            brand_id=brand,
            player_ref=player_ref,
        )
        if len(found) != 1:
            return found, []
        return found, repository.round_activities(found[0])

    found, activities = await read_store(request, load)
    if not found:
        raise ApiError(404, "not_found", f"no round {round_id!r} for this operator")
    if len(found) > 1:
        owners = ", ".join(f"{row['brand_id']}/{row['player_ref']}" for row in found)
        raise ApiError(
            400,
            "ambiguous_round",
            f"round {round_id!r} exists for several brand/player pairs ({owners}): "
            "pass ?brand= and/or ?player_ref=",
            details=[
                {"field": "player_ref", "code": "required", "message": "one of " + owners},
            ],
        )
    body = repository.round_json(found[0])
    body["activities"] = [repository.activity_json(row) for row in activities]
    return json_response(request, body)


def _position(cursor: str | None, *, size: int) -> Position | None:
    if cursor is None:
        return None
    position = repository.read_cursor(cursor, size=size)
    if position is None:
        raise ApiError(
            400,
            "invalid_query",
            "cursor is not a next_cursor this API gave",
            details=[{"field": "cursor", "code": "invalid_value", "message": "use next_cursor"}],
        )
    return position
