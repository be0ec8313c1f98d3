"""Admin API of the NGR ledger: a player's month with the events behind each figure, and
the operator's deduction settings."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from croupier.commissions import deductions, ledger_view
from croupier.ingest.examples import error_responses
from croupier.kit import jsoncodec
from croupier.kit.errors import ApiError
from croupier.tenancy.service import Scope
from croupier.web import authorize, json_response, read_body, read_store, write_store

router = APIRouter(tags=["Commissions"])
ADMIN = frozenset({Scope.ADMIN})
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_CURSOR = re.compile(r"(\d{1,19}):([a-z_]{1,24})", re.ASCII)
_MAX_BODY = 16 * 1024

Month = Annotated[str, Query(description="the month, YYYY-MM")]
Brand = Annotated[str | None, Query(max_length=64, description="brand id (default: all)")]
_DEDUCTION_BODY = {
    "type": "object",
    "required": ["effective_from"],
    "additionalProperties": False,
    "properties": {
        "brand_id": {"type": ["string", "null"], "description": "null: all brands"},
        "effective_from": {"type": "string", "format": "date"},
        "gaming_tax_pct": {"type": ["string", "number", "null"], "description": "% of GGR"},
        "admin_fee_pct": {"type": ["string", "number", "null"], "description": "% of GGR"},
        "payment_fee_pct": {"type": ["string", "number", "null"], "description": "% of deposits"},
    },
}


@router.get(
    "/api/v1/players/{player_ref}/ngr",
    summary="A player's NGR ledger for a month: per day and component, with the event ids",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def player_ngr(
    request: Request, player_ref: str, month: Month, brand: Brand = None
) -> Response:
    key = await authorize(request, ADMIN)
    first = _month(month)

    def load(session: Session) -> dict[str, Any] | None:
        if not ledger_view.has_player(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        ):
            return None
        return ledger_view.player_month(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand, month=first
        )

    found = await read_store(request, load)
    if found is None:
        raise ApiError(404, "not_found", f"no NGR ledger lines for player {player_ref!r}")
    return json_response(request, found)


@router.get(
    "/api/v1/players/{player_ref}/ngr/lines",
    summary="A player's NGR ledger lines for a month, one per event and component, paged",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def player_ngr_lines(
    request: Request,
    player_ref: str,
    month: Month,
    brand: Brand = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    key = await authorize(request, ADMIN)
    first = _month(month)
    after = _cursor(cursor) if cursor is not None else None

    def load(session: Session) -> tuple[list[dict[str, Any]], tuple[int, str] | None] | None:
        if not ledger_view.has_player(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        ):
            return None
        return ledger_view.line_page(
            session,
            operator_id=key.operator_id,
            player_ref=player_ref,
            brand_id=brand,
            month=first,
            after=after,
            limit=limit,
        )

    found = await read_store(request, load)
    if found is None:
        raise ApiError(404, "not_found", f"no NGR ledger lines for player {player_ref!r}")
    lines, next_key = found
    next_cursor = f"{next_key[0]}:{next_key[1]}" if next_key else None
    return json_response(request, {"lines": lines, "next_cursor": next_cursor})


@router.get(
    "/api/v1/ngr/deductions",
    summary="The operator's deduction versions (gaming tax, admin fee, payment fee)",
    openapi_extra=_SECURITY,
    responses=error_responses("401", "403", "429", "503"),
)
async def list_deductions(request: Request, brand: Brand = None) -> Response:
    key = await authorize(request, ADMIN)

    def load(session: Session) -> list[dict[str, Any]]:
        return deductions.list_versions(session, operator_id=key.operator_id, brand_id=brand)

    return json_response(request, {"deductions": await read_store(request, load)})


@router.post(
    "/api/v1/ngr/deductions",
    summary="Add a deduction version from a day on (replacing one of the same scope and day)",
    status_code=201,
    openapi_extra={
        **_SECURITY,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _DEDUCTION_BODY}},
        },
    },
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def add_deduction(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body = await read_body(request, limit=_MAX_BODY)
    try:
        version = deductions.parse(jsoncodec.decode(body))
    except jsoncodec.InvalidJson as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except deductions.DeductionError as exc:
        raise ApiError(400, "invalid_deductions", str(exc), details=exc.details) from None

    def store(session: Session) -> dict[str, Any]:
        return deductions.add_version(session, operator_id=key.operator_id, version=version)

    try:
        stored = await write_store(request, store)
    except deductions.DeductionError as exc:
        raise ApiError(400, "invalid_deductions", str(exc), details=exc.details) from None
    return json_response(request, stored, 201)


def _month(text: str) -> date:
    match = _MONTH.fullmatch(text)
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1:
        return date(int(match.group(1)), int(match.group(2)), 1)
    raise ApiError(
        400,
        "invalid_query",
        "invalid month",
        details=[{"field": "month", "code": "invalid_month", "message": "a month, YYYY-MM"}],
    )


def _cursor(text: str) -> tuple[int, str]:
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise ApiError(
            400,
            "invalid_query",
            "invalid cursor",
            details=[{"field": "cursor", "code": "invalid_cursor", "message": "pass next_cursor"}],
        )
    return int(match.group(1)), match.group(2)
