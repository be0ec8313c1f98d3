"""Read API for reports and the operator's exchange rates."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from croupier.ingest.examples import error_responses
from croupier.kit import jsoncodec
from croupier.kit.errors import ApiError
from croupier.reports import daily, fx
from croupier.tenancy.models import Operator
from croupier.tenancy.service import Scope
from croupier.web import (
    READ_PROJECTIONS,
    authorize,
    json_response,
    read_body,
    read_store,
    write_store,
)

router = APIRouter(tags=["Reports"])
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
ADMIN = frozenset({Scope.ADMIN})
MAX_SPAN_DAYS = 366
MAX_BODY = 8 * 1024 * 1024
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)

FromDate = Annotated[str, Query(alias="from", description="first UTC day, YYYY-MM-DD")]
ToDate = Annotated[str, Query(alias="to", description="last UTC day (inclusive), YYYY-MM-DD")]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get(
    "/api/v1/reports/daily",
    summary="Players, payments, turnover and GGR per day, in the reporting currency",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def daily_report(
    request: Request,
    first: FromDate,
    last: ToDate,
    group_by: Literal["brand", "game_type", "vendor"] | None = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    first_day, last_day = _period(first, last)
    after = _decode_cursor(cursor) if cursor is not None else None

    def load(session: Session) -> tuple[str, list[dict[str, Any]], tuple[date, str] | None]:
        currency = _reporting_currency(session, key.operator_id)
        report, next_key = daily.daily_report(
            session,
            operator_id=key.operator_id,
            reporting_currency=currency,
            first=first_day,
            last=last_day,
            group_by=group_by,
            after=after,
            limit=limit,
        )
        return currency, report, next_key

    currency, report, next_key = await read_store(request, load)
    return json_response(
        request,
        {
            "currency": currency,
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "group_by": group_by,
            "days": report,
            "next_cursor": _encode_cursor(next_key) if next_key else None,
        },
    )


@router.get(
    "/api/v1/players/{player_ref}/daily",
    summary="A player's days: activity in the event currency and the reporting currency",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def player_daily(
    request: Request,
    player_ref: str,
    first: FromDate,
    last: ToDate,
    brand: Annotated[str | None, Query(description="brand id (default: all brands)")] = None,
) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    first_day, last_day = _period(first, last)

    def load(session: Session) -> tuple[str, list[dict[str, Any]]] | None:
        known = daily.has_player(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        )
        if not known:
            return None
        currency = _reporting_currency(session, key.operator_id)
        days = daily.player_days(
            session,
            operator_id=key.operator_id,
            reporting_currency=currency,
            player_ref=player_ref,
            brand_id=brand,
            first=first_day,
            last=last_day,
        )
        return currency, days

    found = await read_store(request, load)
    if found is None:
        raise ApiError(404, "not_found", f"no player {player_ref} with activity for this operator")
    currency, days = found
    return json_response(request, {"player_ref": player_ref, "currency": currency, "days": days})


@router.post(
    "/api/v1/fx-rates",
    summary="Load daily exchange rates (replacing any for the same day and pair)",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def load_rates(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body = await read_body(request, limit=MAX_BODY)
    try:
        document = jsoncodec.decode(body)
    except jsoncodec.InvalidJson as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    items = document.get("rates") if isinstance(document, dict) else None
    try:
        rates = fx.parse_items(items)
    except fx.FxError as exc:
        raise ApiError(400, "invalid_rates", str(exc), details=exc.details) from None

    def store(session: Session) -> int:
        return fx.store(session, operator_id=key.operator_id, rates=rates)

    loaded = await write_store(request, store)
    return json_response(request, {"loaded": loaded})


@router.get(
    "/api/v1/fx-rates",
    summary="The operator's exchange rates in a period",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def list_rates(request: Request, first: FromDate, last: ToDate) -> Response:
    key = await authorize(request, READ_PROJECTIONS)
    first_day, last_day = _period(first, last)

    def load(session: Session) -> list[dict[str, Any]]:
        return fx.list_rates(session, operator_id=key.operator_id, first=first_day, last=last_day)

    return json_response(request, {"rates": await read_store(request, load)})


def _reporting_currency(session: Session, operator_id: str) -> str:
    currency = session.get(Operator, operator_id)
    assert currency is not None  # the key authenticated, so its operator exists
    return currency.currency


def _period(first: str, last: str) -> tuple[date, date]:
    details: list[dict[str, Any]] = []
    first_day = _parse_day(first, "from", details)
    last_day = _parse_day(last, "to", details)
    if first_day is not None and last_day is not None:
        if first_day > last_day:
            details.append(_detail("to", "invalid_period", "to must not be before from"))
        elif (last_day - first_day).days >= MAX_SPAN_DAYS:
            details.append(
                _detail("to", "period_too_long", f"at most {MAX_SPAN_DAYS} days per query")
            )
    if details or first_day is None or last_day is None:
        raise ApiError(400, "invalid_query", "invalid period", details=details)
    return first_day, last_day


def _parse_day(text: str, field: str, details: list[dict[str, Any]]) -> date | None:
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    details.append(_detail(field, "invalid_date", f"{text!r} is not a date (YYYY-MM-DD)"))
    return None


def _detail(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _encode_cursor(position: tuple[date, str]) -> str:
    text = jsoncodec.encode([position[0].isoformat(), position[1]])
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[date, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        day, group = jsoncodec.decode(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(day, str) or not isinstance(group, str):
            raise ValueError(cursor)
        return date.fromisoformat(day), group
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(
            400,
            "invalid_query",
            "invalid cursor",
            details=[_detail("cursor", "invalid_cursor", "pass next_cursor back unchanged")],
        ) from None
