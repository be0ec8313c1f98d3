"""The affiliate-side API: an affiliate's own stats, players and links, with its own token.

Every list answers JSON, or CSV with ``Accept: text/csv``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from croupier.affiliates import portal
from croupier.affiliates.affiliate_auth import authenticate_affiliate
from croupier.affiliates.routes import link_json
from croupier.ingest.examples import error_responses
from croupier.kit.csvexport import CSV_OR_JSON, list_response
from croupier.kit.errors import ApiError
from croupier.kit.timeparse import utcnow
from croupier.web import json_response, parse_body, read_store, write_store

router = APIRouter(tags=["Affiliate portal"])
# The lead registers this scheme (HTTP bearer, an affiliate's crpa_ token) in the document.
SECURITY: dict[str, Any] = {"security": [{"AffiliateToken": []}]}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    200: CSV_OR_JSON,
    **error_responses("400", "401", "403", "503"),
}
_MAX_BODY = 16 * 1024
Limit = Annotated[int, Query(ge=1, le=1000)]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC)")]


class NewLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: str
    campaign_id: str | None = Field(default=None, description="one of your campaigns")
    landing_url: str | None = Field(default=None, description="default: the brand's")
    default_subs: dict[str, str] = Field(default_factory=dict, description="sub1..sub5")


@router.get(
    "/api/v1/affiliate/stats",
    summary="Your clicks, registrations and first deposits, grouped (JSON or CSV)",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def stats(
    request: Request,
    from_: Annotated[
        str | None, Query(alias="from", max_length=10, description="YYYY-MM-DD (UTC)")
    ] = None,
    to: Day = None,
    group_by: Annotated[str, Query(pattern="^(day|link|sub1|brand|country)$")] = "day",
) -> Response:
    affiliate = await authenticate_affiliate(request)
    period = portal.parse_period(from_, to, today=utcnow().date())
    assert period is not None

    def work(session: Session) -> dict[str, Any]:
        return portal.stats(session, affiliate=affiliate, period=period, group_by=group_by)

    body = await read_store(request, work)
    filename = f"stats-{group_by}-{period.first_day}-{period.last_day}.csv"
    return list_response(request, body, items="groups", filename=filename)


@router.get(
    "/api/v1/affiliate/players",
    summary="The players credited to you, by registration time, no personal data (JSON or CSV)",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_players(
    request: Request,
    from_: Annotated[
        str | None, Query(alias="from", max_length=10, description="registered on or after")
    ] = None,
    to: Annotated[str | None, Query(max_length=10, description="registered on or before")] = None,
    cursor: Annotated[
        str | None, Query(max_length=12, description="next_cursor of the previous page")
    ] = None,
    limit: Limit = 100,
) -> Response:
    affiliate = await authenticate_affiliate(request)
    period = portal.parse_period(from_, to, today=utcnow().date(), required=False)
    offset = _offset(cursor)

    def work(session: Session) -> list[dict[str, Any]]:
        return portal.list_players(
            session, affiliate=affiliate, period=period, offset=offset, limit=limit
        )

    players = await read_store(request, work)
    # An offset: a cursor of (time, player_ref) would hand the affiliate the operator's ids.
    next_cursor = str(offset + limit) if len(players) == limit else None
    body = {"players": players, "next_cursor": next_cursor}
    return list_response(request, body, items="players", filename="players.csv")


@router.get(
    "/api/v1/affiliate/attribution-changes",
    summary="The audit log of players credited to you or taken from you (JSON or CSV)",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_attribution_changes(
    request: Request,
    cursor: Annotated[
        str | None, Query(max_length=12, description="next_cursor of the previous page")
    ] = None,
    limit: Limit = 100,
) -> Response:
    affiliate = await authenticate_affiliate(request)
    offset = _offset(cursor)

    def work(session: Session) -> list[dict[str, Any]]:
        return portal.list_attribution_changes(
            session, affiliate=affiliate, offset=offset, limit=limit
        )

    changes = await read_store(request, work)
    next_cursor = str(offset + limit) if len(changes) == limit else None
    body = {"changes": changes, "next_cursor": next_cursor}
    return list_response(request, body, items="changes", filename="attribution-changes.csv")


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ApiError(
            400,
            "invalid_query",
            "cursor: not a cursor this API gave",
            details=[{"field": "cursor", "code": "invalid_cursor", "message": "unknown cursor"}],
        )
    return int(cursor)


@router.get(
    "/api/v1/affiliate/links",
    summary="Your tracking links with their click counts, oldest first (JSON or CSV)",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_links(
    request: Request,
    cursor: Annotated[
        str | None, Query(max_length=36, description="next_cursor of the previous page")
    ] = None,
    limit: Limit = 100,
) -> Response:
    affiliate = await authenticate_affiliate(request)

    def work(session: Session) -> list[dict[str, Any]]:
        found = portal.list_links(session, affiliate=affiliate, after_id=cursor, limit=limit)
        return [{**link_json(link, request), "clicks": counts} for link, counts in found]

    links = await read_store(request, work)
    next_cursor = links[-1]["id"] if len(links) == limit else None
    body = {"links": links, "next_cursor": next_cursor}
    return list_response(request, body, items="links", filename="links.csv")


@router.post(
    "/api/v1/affiliate/links",
    summary="Create a tracking link of yours, with default sub-ids",
    status_code=201,
    openapi_extra={
        **SECURITY,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NewLink.model_json_schema()}},
        },
    },
    responses=error_responses("400", "401", "403", "503"),
)
async def create_link(request: Request) -> Response:
    affiliate = await authenticate_affiliate(request)
    body = await _parse_link(request)

    def work(session: Session) -> dict[str, Any]:
        link = portal.create_link(session, affiliate=affiliate, **body.model_dump())
        return link_json(link, request)

    return json_response(request, await write_store(request, work), 201)


async def _parse_link(request: Request) -> NewLink:
    link, _ = await parse_body(request, NewLink, limit=_MAX_BODY)
    return link
