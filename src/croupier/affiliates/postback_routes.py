"""Postback templates (admin keys) and the delivery log (admins, and each affiliate its own)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from croupier.affiliates import management, postbacks
from croupier.affiliates.affiliate_auth import authenticate_affiliate
from croupier.affiliates.postback_models import PostbackAttempt, PostbackDelivery, PostbackTemplate
from croupier.affiliates.routes import (
    ADMIN,
    READ_ERRORS,
    SECURITY,
    WRITE_ERRORS,
    Cursor,
    Limit,
    StrictBody,
    body_doc,
)
from croupier.ingest.examples import error_responses
from croupier.kit.errors import invalid
from croupier.web import authorize, json_response, parse_body, read_store, write_store

router = APIRouter(tags=["Postbacks"])
_LIST_ERRORS = error_responses("400", "401", "403", "404", "429", "503")
Status = Annotated[str | None, Query(pattern="^(pending|delivered|failed|cancelled)$")]
_MACROS_DOC = ", ".join("{" + name + "}" for name in sorted(postbacks.MACROS))


class NewPostback(StrictBody):
    url: str = Field(max_length=2000, description=f"http(s) URL template; macros: {_MACROS_DOC}")
    events: list[str] = Field(description="subset of registration, first_deposit, cpa_qualified")
    link_id: str | None = Field(default=None, description="only players who came via this link")
    enabled: bool = True


class PostbackChanges(StrictBody):
    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = None
    link_id: str | None = Field(default=None, description="null: every player of the affiliate")
    enabled: bool | None = None


def template_json(template: PostbackTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "affiliate_id": template.affiliate_id,
        "link_id": template.link_id,
        "url": template.url,
        "events": template.events,
        "enabled": template.enabled,
        "created_at": template.created_at,
    }


@router.post(
    "/api/v1/affiliates/{affiliate_id}/postbacks",
    summary="Add a postback URL template to an affiliate",
    status_code=201,
    openapi_extra=body_doc(NewPostback),
    responses=WRITE_ERRORS,
)
async def create_postback(request: Request, affiliate_id: str) -> Response:
    key = await authorize(request, ADMIN)
    body, _ = await parse_body(request, NewPostback)

    def work(session: Session) -> dict[str, Any]:
        template = postbacks.create_template(
            session,
            operator_id=key.operator_id,
            affiliate_id=affiliate_id,
            now=datetime.now(UTC),
            **body.model_dump(),
        )
        return template_json(template)

    return json_response(request, await write_store(request, work), 201)


@router.get(
    "/api/v1/affiliates/{affiliate_id}/postbacks",
    summary="An affiliate's postback templates",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def list_postbacks(request: Request, affiliate_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        found = postbacks.list_templates(
            session, operator_id=key.operator_id, affiliate_id=affiliate_id
        )
        return [template_json(t) for t in found]

    return json_response(request, {"postbacks": await read_store(request, work)})


@router.patch(
    "/api/v1/postbacks/{postback_id}",
    summary="Change a postback template: url, events, link, enabled",
    openapi_extra=body_doc(PostbackChanges),
    responses=WRITE_ERRORS,
)
async def update_postback(request: Request, postback_id: str) -> Response:
    key = await authorize(request, ADMIN)
    body, given = await parse_body(request, PostbackChanges)
    changes = {name: getattr(body, name) for name in given}
    for name in ("url", "events", "enabled"):
        if name in changes and changes[name] is None:
            raise invalid(name, "may not be null")

    def work(session: Session) -> dict[str, Any]:
        template = postbacks.update_template(
            session, operator_id=key.operator_id, template_id=postback_id, changes=changes
        )
        return template_json(template)

    return json_response(request, await write_store(request, work))


@router.delete(
    "/api/v1/postbacks/{postback_id}",
    summary="Delete a postback template (its undelivered postbacks are cancelled)",
    openapi_extra=SECURITY,
    responses=READ_ERRORS,
)
async def delete_postback(request: Request, postback_id: str) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> dict[str, Any]:
        cancelled = postbacks.delete_template(
            session, operator_id=key.operator_id, template_id=postback_id
        )
        return {"id": postback_id, "deleted": True, "cancelled_deliveries": cancelled}

    return json_response(request, await write_store(request, work))


# -- the delivery log ----------------------------------------------------------------------


def _deliveries(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str | None,
    status: str | None,
    after_id: str | None,
    limit: int,
    player_hashes: bool,
) -> list[dict[str, Any]]:
    """Newest first is awkward to page by id: pages go by id, which is stable and opaque."""
    query = select(PostbackDelivery).where(PostbackDelivery.operator_id == operator_id)
    if affiliate_id is not None:
        query = query.where(PostbackDelivery.affiliate_id == affiliate_id)
    if status is not None:
        query = query.where(PostbackDelivery.status == status)
    if after_id is not None:
        query = query.where(PostbackDelivery.id > after_id)
    found = list(session.scalars(query.order_by(PostbackDelivery.id).limit(limit)))
    attempts: dict[str, list[dict[str, Any]]] = {d.id: [] for d in found}
    if found:
        rows = session.scalars(
            select(PostbackAttempt)
            .where(PostbackAttempt.delivery_id.in_(sorted(attempts)))
            .order_by(PostbackAttempt.delivery_id, PostbackAttempt.number)
        )
        for attempt in rows:
            attempts[attempt.delivery_id].append(
                {
                    "number": attempt.number,
                    "attempted_at": attempt.attempted_at,
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                }
            )
    shown = []
    for delivery in found:
        item: dict[str, Any] = {
            "id": delivery.id,
            "affiliate_id": delivery.affiliate_id,
            "postback_id": delivery.template_id,
            "event": delivery.event,
            "url": delivery.url,
            "status": delivery.status,
            "attempts": attempts[delivery.id],
            "created_at": delivery.created_at,
            "next_attempt_at": delivery.next_attempt_at,
            "delivered_at": delivery.delivered_at,
            "last_error": delivery.last_error,
        }
        if not player_hashes:  # the operator sees its own ids; an affiliate never does
            item.update(brand_id=delivery.brand_id, player_ref=delivery.player_ref)
        shown.append(item)
    return shown


@router.get(
    "/api/v1/postbacks/deliveries",
    summary="Postbacks sent or due, with every attempt",
    openapi_extra=SECURITY,
    responses=_LIST_ERRORS,
)
async def list_deliveries(
    request: Request,
    affiliate_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Status = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    key = await authorize(request, ADMIN)

    def work(session: Session) -> list[dict[str, Any]]:
        if affiliate_id is not None:  # another operator's affiliate is a 404
            management.get_affiliate(
                session, operator_id=key.operator_id, affiliate_id=affiliate_id
            )
        return _deliveries(
            session,
            operator_id=key.operator_id,
            affiliate_id=affiliate_id,
            status=status,
            after_id=cursor,
            limit=limit,
            player_hashes=False,
        )

    items = await read_store(request, work)
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return json_response(request, {"deliveries": items, "next_cursor": next_cursor})


@router.get(
    "/api/v1/affiliate/postbacks",
    summary="Your postbacks and every attempt to deliver them (affiliate token)",
    responses=error_responses("400", "401", "403", "429", "503"),
)
async def my_deliveries(
    request: Request, status: Status = None, cursor: Cursor = None, limit: Limit = 100
) -> Response:
    identity = await authenticate_affiliate(request)

    def work(session: Session) -> list[dict[str, Any]]:
        return _deliveries(
            session,
            operator_id=identity.operator_id,
            affiliate_id=identity.affiliate_id,
            status=status,
            after_id=cursor,
            limit=limit,
            player_hashes=True,
        )

    items = await read_store(request, work)
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return json_response(request, {"deliveries": items, "next_cursor": next_cursor})
