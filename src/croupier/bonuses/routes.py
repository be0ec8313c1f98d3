"""Read API for bonuses: a player's Fast Track bonus lifecycles."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from croupier.bonuses import repository
from croupier.bonuses.repository import BonusQuery
from croupier.ingest.examples import error_responses
from croupier.kit.errors import ApiError
from croupier.web import (
    READ_PROJECTIONS,
    authorize,
    json_response,
    read_store,
)

router = APIRouter(tags=["Bonuses"])
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}


def encode_cursor(brand_id: str, bonus_ref: str) -> str:
    raw = json.dumps([brand_id, bonus_ref], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (brand_id, bonus_ref) a cursor names; ApiError 400 if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        value = None
    if isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value):
        return value[0], value[1]
    raise ApiError(
        400,
        "invalid_query",
        "cursor is not a next_cursor this API gave",
        details=[{"field": "cursor", "code": "invalid_cursor", "message": "unknown cursor"}],
    )


@router.get(
    "/api/v1/players/{player_ref}/bonuses",
    summary="A player's bonus lifecycles: status, amounts, wagering, sequence violations",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def list_player_bonuses(
    request: Request,
    player_ref: str,
    brand: Annotated[
        str | None, Query(max_length=64, description="brand id; all brands when absent")
    ] = None,
    status: Annotated[
        str | None, Query(max_length=32, description="current status, e.g. ongoing")
    ] = None,
    flagged: Annotated[
        bool | None, Query(description="only bonuses with (true) or without (false) violations")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    wanted = BonusQuery(
        operator_id=key.operator_id,
        player_ref=player_ref,
        brand_id=brand,
        status=status.lower() if status is not None else None,
        flagged=flagged,
        after=decode_cursor(cursor) if cursor is not None else None,
        limit=limit,
    )

    def load(session: Session) -> list[dict[str, Any]] | None:
        bonuses = repository.list_bonuses(session, wanted=wanted)
        if bonuses or repository.player_known(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        ):
            return bonuses
        return None

    bonuses = await read_store(request, load)
    if bonuses is None:
        raise ApiError(404, "not_found", f"no player {player_ref} for this operator")
    last = bonuses[-1] if len(bonuses) == limit else None
    next_cursor = encode_cursor(last["brand_id"], last["bonus_ref"]) if last else None
    return json_response(
        request, {"player_ref": player_ref, "bonuses": bonuses, "next_cursor": next_cursor}
    )
