"""Commission plans API (admin keys): plans with versions, and assignments to affiliates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from croupier.commissions import plans, qualification
from croupier.ingest.examples import error_responses
from croupier.kit.timeparse import utcnow
from croupier.tenancy.service import Scope
from croupier.web import authorize, json_response, parse_body, read_store, write_store

router = APIRouter(tags=["Commission plans"])
ADMIN = frozenset({Scope.ADMIN})
SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
READ_ERRORS = error_responses("401", "403", "404", "429", "503")
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses("400", "401", "403", "404", "429", "503"),
    "409": {"description": "A version or assignment exists for that month, or it is closed"},
}
_MAX_BODY = 64 * 1024


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CpaBody(StrictBody):
    amount: Decimal = Field(description="per qualified player, in the reporting currency")
    window_days: int | None = Field(default=None, description="days after registration")
    min_first_deposit: Decimal | None = None
    min_total_deposits: Decimal | None = None
    min_turnover: Decimal | None = None
    min_bets: int | None = None
    excluded_flags: list[str] | None = Field(
        default=None, description="default: self_excluded, duplicate, blocked"
    )


class TierBody(StrictBody):
    from_: Decimal = Field(alias="from", description="NGR, or first depositors")
    rate: Decimal = Field(description="percent")


class RevShareBody(StrictBody):
    rate: Decimal | None = Field(default=None, description="a flat percent of NGR")
    tiers: list[TierBody] | None = None
    basis: str | None = Field(default=None, description="ngr (default) or first_depositors")
    mode: str | None = Field(default=None, description="tiered (default) or ladder")


class VersionBody(StrictBody):
    effective_from: date = Field(description="a month's first day")
    kind: str = Field(description="cpa, revshare or hybrid")
    cpa: CpaBody | None = None
    revshare: RevShareBody | None = None
    negative_ngr: str | None = Field(
        default=None, description="carry_over (default), reset_monthly or ring_fenced"
    )
    carry_over_cap: Decimal | None = None
    sub_affiliate_pct: Decimal | None = Field(
        default=None, description="percent of each child affiliate's commission"
    )


class NewPlan(VersionBody):
    name: str = Field(max_length=200)


class NewAssignment(StrictBody):
    affiliate_id: str
    plan_id: str | None = Field(description="null: no plan from effective_from")
    brand_id: str | None = Field(default=None, description="null: every brand")
    effective_from: date = Field(description="a month's first day")


def _doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = {"content": {"application/json": {"schema": model.model_json_schema()}}}
    return {**SECURITY, "requestBody": {"required": True, **schema}}


def _version(body: VersionBody) -> dict[str, Any]:
    return body.model_dump(by_alias=True, exclude={"name"})


@router.post(
    "/api/v1/commission-plans",
    summary="Create a commission plan with its first version",
    status_code=201,
    openapi_extra=_doc(NewPlan),
    responses=WRITE_ERRORS,
)
async def create_plan(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await parse_body(request, NewPlan, limit=_MAX_BODY)

    def work(session: Session) -> dict[str, Any]:
        plan = plans.create_plan(
            session,
            operator_id=key.operator_id,
            name=body.name,
            version=_version(body),
            now=utcnow(),
        )
        return plans.plan_json(plan, plans.versions_of(session, plan_ids=[plan.id])[plan.id])

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/commission-plans",
    summary="The operator's commission plans with their versions",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def list_plans(request: Request) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        found = plans.list_plans(session, operator_id=key.operator_id)
        versions = plans.versions_of(session, plan_ids=[plan.id for plan in found])
        return {"plans": [plans.plan_json(plan, versions.get(plan.id, [])) for plan in found]}

    return json_response(request, await read_store(request, work))


@router.get(
    "/api/v1/commission-plans/{plan_id}",
    summary="A commission plan with its versions",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def get_plan(request: Request, plan_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        plan = plans.get_plan(session, operator_id=key.operator_id, plan_id=plan_id)
        return plans.plan_json(plan, plans.versions_of(session, plan_ids=[plan.id])[plan.id])

    return json_response(request, await read_store(request, work))


@router.post(
    "/api/v1/commission-plans/{plan_id}/versions",
    summary="Add a version of a plan, from a month not yet closed",
    status_code=201,
    openapi_extra=_doc(VersionBody),
    responses=WRITE_ERRORS,
)
async def add_version(request: Request, plan_id: str) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await parse_body(request, VersionBody, limit=_MAX_BODY)

    def work(session: Session) -> dict[str, Any]:
        version = plans.add_version(
            session,
            operator_id=key.operator_id,
            plan_id=plan_id,
            version=_version(body),
            now=utcnow(),
        )
        affiliates = plans.affiliates_of(session, plan_id=version.plan_id)
        qualification.requalify(session, operator_id=key.operator_id, affiliate_ids=affiliates)
        return plans.version_json(version)

    return json_response(request, await write_store(request, work), 201)


@router.post(
    "/api/v1/commission-assignments",
    summary="Give an affiliate a plan (for a brand, or all) from a month's first day",
    status_code=201,
    openapi_extra=_doc(NewAssignment),
    responses=WRITE_ERRORS,
)
async def create_assignment(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await parse_body(request, NewAssignment, limit=_MAX_BODY)

    def work(session: Session) -> dict[str, Any]:
        assignment = plans.assign(
            session, operator_id=key.operator_id, now=utcnow(), **body.model_dump()
        )
        qualification.requalify(
            session, operator_id=key.operator_id, affiliate_ids={assignment.affiliate_id}
        )
        return plans.assignment_json(assignment)

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/commission-assignments",
    summary="Plan assignments, per affiliate in date order",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def list_assignments(
    request: Request,
    affiliate_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        found = plans.list_assignments(
            session, operator_id=key.operator_id, affiliate_id=affiliate_id
        )
        return {"assignments": [plans.assignment_json(a) for a in found]}

    return json_response(request, await read_store(request, work))
