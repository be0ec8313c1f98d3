"""A player's attribution: read it (read/admin keys), reassign it (admin keys), own operator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from croupier.affiliates import attribution
from croupier.ingest.examples import error_responses
from croupier.kit import jsoncodec
from croupier.kit.errors import ApiError
from croupier.kit.timeparse import utcnow
from croupier.projections.engine import MAIN
from croupier.projections.models import Checkpoint
from croupier.tenancy.service import Scope
from croupier.web import (
    READ_PROJECTIONS,
    authorize,
    json_response,
    read_body,
    read_store,
    write_store,
)

router = APIRouter(tags=["Attribution"])
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
_ADMIN = frozenset({Scope.ADMIN})
_MAX_BODY = 16_384
_MAX_REASON = 2_000
Brand = Annotated[
    str | None,
    Query(max_length=64, description="brand id; without it, every brand's record of the player"),
]
_REASSIGN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["affiliate_id", "reason"],
                    "properties": {
                        "affiliate_id": {
                            "type": ["string", "null"],
                            "description": "the operator's affiliate; null credits nobody",
                        },
                        "reason": {"type": "string", "minLength": 1, "maxLength": _MAX_REASON},
                    },
                },
                "example": {"affiliate_id": "5b7c…", "reason": "support ticket 4411"},
            }
        },
    }
}


@router.get(
    "/api/v1/players/{player_ref}/attribution",
    summary="Which affiliate the player is credited to, why, from which inputs, and history",
    openapi_extra=_SECURITY,
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def get_attribution(request: Request, player_ref: str, brand: Brand = None) -> Response:
    key = await authorize(request, READ_PROJECTIONS)

    def load(session: Session) -> list[dict[str, Any]]:
        return attribution.find(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        )

    found = await read_store(request, load)
    if not found:
        raise ApiError(404, "not_found", f"no player {player_ref!r} for this operator")
    return json_response(request, {"player_ref": player_ref, "attributions": _public(found)})


@router.post(
    "/api/v1/players/{player_ref}/attribution",
    summary="Reassign the player to an affiliate (admin), with a mandatory reason; audited",
    openapi_extra={**_SECURITY, **_REASSIGN_BODY},
    responses=error_responses("400", "401", "403", "404", "429", "503"),
)
async def reassign_attribution(request: Request, player_ref: str, brand: Brand = None) -> Response:
    key = await authorize(request, _ADMIN)
    affiliate_id, reason = _parse_reassignment(await read_body(request, limit=_MAX_BODY))

    def write(session: Session) -> list[dict[str, Any]]:
        _hold_projector(session)
        found = attribution.find(
            session, operator_id=key.operator_id, player_ref=player_ref, brand_id=brand
        )
        if not found:
            raise ApiError(404, "not_found", f"no player {player_ref!r} for this operator")
        if len(found) > 1:
            raise _ambiguous(player_ref, [row["brand_id"] for row in found])
        try:
            attribution.reassign(
                session,
                operator_id=key.operator_id,
                brand_id=found[0]["brand_id"],
                player_ref=player_ref,
                affiliate_id=affiliate_id,
                reason=reason,
                key_id=key.key_id,
                now=utcnow(),
            )
        except attribution.ReassignError as exc:
            raise ApiError(
                400,
                "invalid_affiliate",
                str(exc),
                details=[{"field": "affiliate_id", "code": "not_found", "message": str(exc)}],
            ) from exc
        return attribution.find(
            session,
            operator_id=key.operator_id,
            player_ref=player_ref,
            brand_id=found[0]["brand_id"],
        )

    found = await write_store(request, write)
    return json_response(request, {"player_ref": player_ref, "attributions": _public(found)})


def _hold_projector(session: Session) -> None:
    """Serialize with the projector (PostgreSQL; SQLite's write lock already does), so it
    cannot overwrite the player's row from a snapshot taken before the override."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Checkpoint).where(Checkpoint.name == MAIN).with_for_update())


def _parse_reassignment(body: bytes) -> tuple[str | None, str]:
    try:
        value = jsoncodec.decode(body)
    except (jsoncodec.InvalidJson, jsoncodec.NumberOutOfRange) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _invalid("body", "invalid_type", "send a JSON object")
    if "affiliate_id" not in value:
        raise _invalid("affiliate_id", "required", "name the affiliate (null credits nobody)")
    affiliate_id = value["affiliate_id"]
    if affiliate_id is not None and (not isinstance(affiliate_id, str) or not affiliate_id):
        raise _invalid("affiliate_id", "invalid_type", "an affiliate id (string) or null")
    reason = value.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _invalid("reason", "required", "a reassignment needs a reason")
    if len(reason) > _MAX_REASON:
        raise _invalid("reason", "too_long", f"at most {_MAX_REASON} characters")
    return affiliate_id, reason.strip()


def _invalid(field: str, code: str, message: str) -> ApiError:
    return ApiError(
        400,
        "invalid_request",
        message,
        details=[{"field": field, "code": code, "message": message}],
    )


def _ambiguous(player_ref: str, brands: list[str]) -> ApiError:
    return ApiError(
        400,
        "ambiguous_player",
        f"player {player_ref!r} exists in brands {', '.join(brands)}: pass ?brand=",
        details=[{"field": "brand", "code": "required", "message": "one of " + ", ".join(brands)}],
    )


def _public(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """API shape: the decision, its inputs, frozen or not, and the audit log."""
    return [
        {
            "brand_id": row["brand_id"],
            "affiliate_id": row["affiliate_id"],
            "reason": row["reason"],
            "click_id": row["click_id"],
            "promo_code": row["promo_code"],
            "external_click_id": row["external_click_id"],
            "registered_at": row["registered_at"],
            "decided_at": row["decided_at"],
            "frozen": row["frozen_at"] is not None,
            "frozen_at": row["frozen_at"],
            "inputs": row["inputs"],
            "history": [
                {
                    "changed_at": change["changed_at"],
                    "previous_affiliate_id": change["previous_affiliate_id"],
                    "affiliate_id": change["affiliate_id"],
                    "reason": change["reason"],
                    "changed_by": change["changed_by"],
                    "note": change["note"],
                    "event_seq": change["event_seq"],
                }
                for change in row["history"]
            ],
        }
        for row in found
    ]
