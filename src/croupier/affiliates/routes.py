"""The operator's affiliate management API (admin keys)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from croupier.affiliates import click_routes, management
from croupier.affiliates.models import Affiliate, AffiliateToken, Campaign, PromoCode, TrackingLink
from croupier.ingest.examples import error_responses
from croupier.kit.errors import invalid
from croupier.tenancy.service import Scope
from croupier.web import authorize, json_response, parse_body, read_store, write_store

log = logging.getLogger(__name__)
router = APIRouter(tags=["Affiliates"])
ADMIN = frozenset({Scope.ADMIN})
SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
READ_ERRORS = error_responses("401", "403", "404", "429", "503")
LIST_ERRORS = error_responses("400", "401", "403", "429", "503")
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses("400", "401", "403", "404", "429", "503"),
    "409": {"description": "Already in use (an email, a promo code)"},
}
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=36, description="next_cursor of the previous page")]
_MAX_BODY = 64 * 1024
_Model = TypeVar("_Model", bound=BaseModel)


# --- request bodies --------------------------------------------------------------------------


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewAffiliate(StrictBody):
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    status: str = Field(default="pending", description="pending or active")
    payout_currency: str | None = Field(default=None, description="default: the operator's")
    parent_id: str | None = Field(default=None, description="the parent affiliate (sub-affiliate)")


class AffiliateChanges(StrictBody):
    name: str | None = None
    email: str | None = None
    status: str | None = Field(default=None, description="pending→active→suspended→active")
    payout_currency: str | None = None
    parent_id: str | None = Field(default=None, description="null: no parent")


class NewCampaign(StrictBody):
    affiliate_id: str
    name: str = Field(max_length=200)


class NewLink(StrictBody):
    affiliate_id: str
    brand_id: str
    campaign_id: str | None = None
    landing_url: str | None = Field(default=None, description="default: the brand's")
    default_subs: dict[str, str] = Field(default_factory=dict, description="sub1..sub5")


class LinkChanges(StrictBody):
    enabled: bool | None = None
    landing_url: str | None = Field(default=None, description="null: the brand's again")
    default_subs: dict[str, str] | None = None


class NewPromoCode(StrictBody):
    affiliate_id: str
    code: str = Field(description="letters, digits, '_' or '-'; matched case-insensitively")


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = {"content": {"application/json": {"schema": model.model_json_schema()}}}
    return {**SECURITY, "requestBody": {"required": True, **schema}}


async def _parse(request: Request, model: type[_Model]) -> tuple[_Model, set[str]]:
    return await parse_body(request, model, limit=_MAX_BODY)


def _page(request: Request, name: str, items: list[dict[str, Any]], limit: int) -> Response:
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return json_response(request, {name: items, "next_cursor": next_cursor})


# --- JSON shapes -----------------------------------------------------------------------------


def affiliate_json(affiliate: Affiliate) -> dict[str, Any]:
    return {
        "id": affiliate.id,
        "name": affiliate.name,
        "email": affiliate.email,
        "status": affiliate.status,
        "payout_currency": affiliate.payout_currency,
        "parent_id": affiliate.parent_id,
        "postback_secret": affiliate.postback_secret,
        "created_at": affiliate.created_at,
    }


def token_json(token: AffiliateToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "affiliate_id": token.affiliate_id,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    }


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "affiliate_id": campaign.affiliate_id,
        "name": campaign.name,
        "created_at": campaign.created_at,
    }


def link_json(link: TrackingLink, request: Request) -> dict[str, Any]:
    return {
        "id": link.id,
        "code": link.code,
        "url": str(request.base_url).rstrip("/") + f"/t/{link.code}",
        "affiliate_id": link.affiliate_id,
        "campaign_id": link.campaign_id,
        "brand_id": link.brand_id,
        "landing_url": link.landing_url,
        "default_subs": link.default_subs,
        "enabled": link.enabled,
        "created_at": link.created_at,
    }


def promo_json(promo: PromoCode) -> dict[str, Any]:
    return {
        "id": promo.id,
        "affiliate_id": promo.affiliate_id,
        "code": promo.code,
        "created_at": promo.created_at,
    }


# --- affiliates ------------------------------------------------------------------------------


@router.post(
    "/api/v1/affiliates",
    summary="Create an affiliate",
    status_code=201,
    openapi_extra=body_doc(NewAffiliate),
    responses=WRITE_ERRORS,
)
async def create_affiliate(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await _parse(request, NewAffiliate)

    def work(session: Session) -> dict[str, Any]:
        affiliate = management.create_affiliate(
            session, operator_id=key.operator_id, **body.model_dump()
        )
        return affiliate_json(affiliate)

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/affiliates",
    summary="The operator's affiliates, oldest first",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_affiliates(
    request: Request,
    status: Annotated[str | None, Query(pattern="^(pending|active|suspended)$")] = None,
    parent_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        found = management.list_affiliates(
            session,
            operator_id=key.operator_id,
            status=status,
            parent_id=parent_id,
            after_id=cursor,
            limit=limit,
        )
        return [affiliate_json(a) for a in found]

    return _page(request, "affiliates", await read_store(request, work), limit)


@router.get(
    "/api/v1/affiliates/{affiliate_id}",
    summary="One affiliate",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def get_affiliate(request: Request, affiliate_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        return affiliate_json(
            management.get_affiliate(
                session, operator_id=key.operator_id, affiliate_id=affiliate_id
            )
        )

    return json_response(request, await read_store(request, work))


@router.patch(
    "/api/v1/affiliates/{affiliate_id}",
    summary="Change an affiliate: name, email, status, payout currency, parent",
    openapi_extra=body_doc(AffiliateChanges),
    responses=WRITE_ERRORS,
)
async def update_affiliate(request: Request, affiliate_id: str) -> Response:
    key = await authorize(request, ADMIN)
    body, given = await _parse(request, AffiliateChanges)
    changes = {name: getattr(body, name) for name in given}
    for name in ("name", "email", "status", "payout_currency"):
        if name in changes and changes[name] is None:
            raise invalid(name, "may not be null")

    def work(session: Session) -> dict[str, Any]:
        affiliate = management.update_affiliate(
            session, operator_id=key.operator_id, affiliate_id=affiliate_id, changes=changes
        )
        return affiliate_json(affiliate)

    return json_response(request, await write_store(request, work))


@router.post(
    "/api/v1/affiliates/{affiliate_id}/tokens",
    summary="Issue an affiliate API token (shown once)",
    status_code=201,
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def issue_token(request: Request, affiliate_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        issued = management.issue_token(
            session, operator_id=key.operator_id, affiliate_id=affiliate_id
        )
        return {**token_json(issued.token), "token": issued.secret}

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/affiliates/{affiliate_id}/tokens",
    summary="An affiliate's API tokens (never their secret)",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def list_tokens(request: Request, affiliate_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        found = management.list_tokens(
            session, operator_id=key.operator_id, affiliate_id=affiliate_id
        )
        return [token_json(t) for t in found]

    return json_response(request, {"tokens": await read_store(request, work)})


@router.delete(
    "/api/v1/affiliates/{affiliate_id}/tokens/{token_id}",
    summary="Revoke an affiliate API token",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def revoke_token(request: Request, affiliate_id: str, token_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        token = management.revoke_token(
            session, operator_id=key.operator_id, affiliate_id=affiliate_id, token_id=token_id
        )
        return token_json(token)

    return json_response(request, await write_store(request, work))


# --- campaigns -------------------------------------------------------------------------------


@router.post(
    "/api/v1/campaigns",
    summary="Create a campaign for an affiliate",
    status_code=201,
    openapi_extra=body_doc(NewCampaign),
    responses=WRITE_ERRORS,
)
async def create_campaign(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await _parse(request, NewCampaign)

    def work(session: Session) -> dict[str, Any]:
        campaign = management.create_campaign(
            session, operator_id=key.operator_id, affiliate_id=body.affiliate_id, name=body.name
        )
        return campaign_json(campaign)

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/campaigns",
    summary="The operator's campaigns, oldest first",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_campaigns(
    request: Request,
    affiliate_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        found = management.list_campaigns(
            session,
            operator_id=key.operator_id,
            affiliate_id=affiliate_id,
            after_id=cursor,
            limit=limit,
        )
        return [campaign_json(c) for c in found]

    return _page(request, "campaigns", await read_store(request, work), limit)


# --- tracking links --------------------------------------------------------------------------


@router.post(
    "/api/v1/links",
    summary="Create a tracking link (its code is random and unguessable)",
    status_code=201,
    openapi_extra=body_doc(NewLink),
    responses=WRITE_ERRORS,
)
async def create_link(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await _parse(request, NewLink)

    def work(session: Session) -> dict[str, Any]:
        link = management.create_link(session, operator_id=key.operator_id, **body.model_dump())
        return link_json(link, request)

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/links",
    summary="The operator's tracking links, oldest first",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_links(
    request: Request,
    affiliate_id: Annotated[str | None, Query(max_length=36)] = None,
    campaign_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        found = management.list_links(
            session,
            operator_id=key.operator_id,
            affiliate_id=affiliate_id,
            campaign_id=campaign_id,
            after_id=cursor,
            limit=limit,
        )
        return [link_json(link, request) for link in found]

    return _page(request, "links", await read_store(request, work), limit)


@router.get(
    "/api/v1/links/{link_id}",
    summary="One tracking link, with its click counts (bots left out of total and unique)",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def get_link(request: Request, link_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        link = management.get_link(session, operator_id=key.operator_id, link_id=link_id)
        counts = management.click_counts(session, link_id=link.id)
        return {**link_json(link, request), "clicks": counts}

    return json_response(request, await read_store(request, work))


@router.patch(
    "/api/v1/links/{link_id}",
    summary="Enable or disable a link, change its landing URL or default sub-ids",
    openapi_extra=body_doc(LinkChanges),
    responses=WRITE_ERRORS,
)
async def update_link(request: Request, link_id: str) -> Response:
    key = await authorize(request, ADMIN)
    body, given = await _parse(request, LinkChanges)
    changes = {name: getattr(body, name) for name in given}
    if "enabled" in changes and changes["enabled"] is None:
        raise invalid("enabled", "true or false")

    def work(session: Session) -> dict[str, Any]:
        link = management.update_link(
            session, operator_id=key.operator_id, link_id=link_id, changes=changes
        )
        return link_json(link, request)

    changed = await write_store(request, work)
    click_routes.link_changed(request.app, changed["code"])
    return json_response(request, changed)


# --- promo codes -----------------------------------------------------------------------------


@router.post(
    "/api/v1/promo-codes",
    summary="Map a promo code to an affiliate (unique per operator, any case)",
    status_code=201,
    openapi_extra=body_doc(NewPromoCode),
    responses=WRITE_ERRORS,
)
async def create_promo_code(request: Request) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await _parse(request, NewPromoCode)

    def work(session: Session) -> dict[str, Any]:
        promo = management.create_promo_code(
            session, operator_id=key.operator_id, affiliate_id=body.affiliate_id, code=body.code
        )
        return promo_json(promo)

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/promo-codes",
    summary="The operator's promo codes, oldest first",
    openapi_extra=SECURITY,
    responses=LIST_ERRORS,
)
async def list_promo_codes(
    request: Request,
    affiliate_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        found = management.list_promo_codes(
            session,
            operator_id=key.operator_id,
            affiliate_id=affiliate_id,
            after_id=cursor,
            limit=limit,
        )
        return [promo_json(p) for p in found]

    return _page(request, "promo_codes", await read_store(request, work), limit)
