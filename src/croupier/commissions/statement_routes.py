"""Statements API: run, list, show, close (admin keys), each list and statement as CSV with
``Accept: text/csv``; and the affiliate-side statements (the affiliate's own token)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from croupier.affiliates.affiliate_auth import authenticate_affiliate
from croupier.commissions import statement_documents as documents
from croupier.commissions import statements
from croupier.ingest.examples import error_responses
from croupier.kit.csvexport import CSV_OR_JSON, csv_response, list_response, wants_csv
from croupier.kit.errors import invalid
from croupier.kit.timeparse import utcnow
from croupier.tenancy.service import Scope
from croupier.web import (
    authorize,
    json_response,
    parse_body,
    read_store,
    write_store,
)

router = APIRouter(tags=["Statements"])
affiliate_router = APIRouter(tags=["Affiliate portal"])
ADMIN = frozenset({Scope.ADMIN})
SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
AFFILIATE_SECURITY: dict[str, Any] = {"security": [{"AffiliateToken": []}]}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    200: CSV_OR_JSON,
    **error_responses("400", "401", "403", "429", "503"),
}
SHOW_ERRORS: dict[int | str, dict[str, Any]] = {
    200: CSV_OR_JSON,
    **error_responses("401", "403", "404", "429", "503"),
}
CLOSE_ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses("401", "403", "404", "429", "503"),
    "409": {"description": "Closed already, or not ready to close (the error says why)"},
}
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=36, description="next_cursor of the previous page")]
Period = Annotated[str | None, Query(max_length=7, description="YYYY-MM")]


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(max_length=7, description="the month, YYYY-MM")


def _period(text: str | None) -> date | None:
    return None if text is None else statements.parse_period(text, today=utcnow().date())


def _status(value: str | None) -> str | None:
    if value is not None and value not in documents.STATUSES:
        raise invalid("status", "draft or closed")
    return value


@router.post(
    "/api/v1/statements/run",
    summary="Compute the month's statements (drafts); closed ones stay as they are",
    openapi_extra={
        **SECURITY,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RunBody.model_json_schema()}},
        },
    },
    responses={**error_responses("400", "401", "403", "429", "503")},
)
async def run(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await parse_body(request, RunBody, limit=1024)
    period = _period(body.period)
    assert period is not None

    def compute(session: Session) -> statements.Computed:
        return statements.compute(session, operator_id=key.operator_id, period=period, now=utcnow())

    # The long part reads in a DB thread (no write lock: ingest goes on), the short write
    # after it.
    computed = await read_store(request, compute)
    result = await write_store(request, lambda session: statements.store(session, computed))
    return json_response(request, result.json())


@router.get(
    "/api/v1/statements",
    summary="Statements, oldest first, by month, affiliate, status (JSON or CSV)",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_statements(
    request: Request,
    period: Period = None,
    affiliate_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[str | None, Query(max_length=8, description="draft or closed")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, ADMIN)
    return await _summaries(
        request,
        limit,
        operator_id=key.operator_id,
        period=_period(period),
        affiliate_id=affiliate_id,
        status=_status(status),
        after_id=cursor,
    )


@router.get(
    "/api/v1/statements/{statement_id}",
    summary="A statement: totals, plan sections, per-player lines, adjustments (or CSV lines)",
    openapi_extra=SECURITY,
    responses=SHOW_ERRORS,
)
async def show(request: Request, statement_id: str) -> Response:
    key = await authorize(request, ADMIN)
    csv = wants_csv(request)

    def work(session: Session) -> Any:
        statement = documents.get(session, operator_id=key.operator_id, statement_id=statement_id)
        if csv:
            return documents.csv_rows(session, statement), _filename(statement)
        return documents.document_json(session, statement)

    found = await read_store(request, work)
    if csv:
        rows, filename = found
        return csv_response(
            request, rows, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )
    return json_response(request, found)


@router.post(
    "/api/v1/statements/{statement_id}/close",
    summary="Close a draft statement: it never changes afterwards",
    openapi_extra=SECURITY,
    responses=CLOSE_ERRORS,
)
async def close(request: Request, statement_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        statement = documents.close(
            session,
            operator_id=key.operator_id,
            statement_id=statement_id,
            key_id=key.key_id,
            now=utcnow(),
        )
        return documents.summary_json(statement)

    return json_response(request, await write_store(request, work))


async def _summaries(request: Request, limit: int, **where: Any) -> Response:
    """A page of statement summaries (``where``: documents.find's filters), JSON or CSV."""

    def work(session: Session) -> list[dict[str, Any]]:
        found = documents.find(session, limit=limit, **where)
        return [documents.summary_json(statement) for statement in found]

    items = await read_store(request, work)
    next_cursor = items[-1]["id"] if len(items) == limit else None
    body = {"statements": items, "next_cursor": next_cursor}
    return list_response(request, body, items="statements", filename="statements.csv")


def _filename(statement: Any) -> str:
    return f"statement-{statement.period:%Y-%m}-{statement.affiliate_id}.csv"


# -- the affiliate's side -------------------------------------------------------------------


@affiliate_router.get(
    "/api/v1/affiliate/statements",
    summary="Your closed statements, oldest first (JSON or CSV)",
    openapi_extra=AFFILIATE_SECURITY,
    responses=LIST_ERRORS,
)
async def my_statements(request: Request, cursor: Cursor = None, limit: Limit = 100) -> Response:
    affiliate = await authenticate_affiliate(request)
    return await _summaries(
        request,
        limit,
        operator_id=affiliate.operator_id,
        affiliate_id=affiliate.affiliate_id,
        status="closed",
        after_id=cursor,
    )


@affiliate_router.get(
    "/api/v1/affiliate/statements/{statement_id}",
    summary="One of your closed statements, players by your player hash (or CSV lines)",
    openapi_extra=AFFILIATE_SECURITY,
    responses=SHOW_ERRORS,
)
async def my_statement(request: Request, statement_id: str) -> Response:
    affiliate = await authenticate_affiliate(request)
    csv = wants_csv(request)

    def work(session: Session) -> Any:
        statement = documents.get_own(session, affiliate=affiliate, statement_id=statement_id)
        if csv:
            rows = documents.csv_rows(session, statement, salt=affiliate.player_salt)
            return rows, _filename(statement)
        return documents.document_json(session, statement, salt=affiliate.player_salt)

    found = await read_store(request, work)
    if csv:
        rows, filename = found
        return csv_response(
            request, rows, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )
    return json_response(request, found)
