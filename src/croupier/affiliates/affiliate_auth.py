"""The affiliate-side API's authentication: an affiliate's own token, never an API key.

``Authorization: Bearer crpa_...`` (or ``X-Affiliate-Token: crpa_...``). The answer
names one affiliate of one operator; every affiliate-side query filters by both.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from croupier.affiliates.management import hash_token
from croupier.affiliates.models import Affiliate, AffiliateToken
from croupier.kit.db import in_db_thread, read_session
from croupier.kit.errors import ApiError
from croupier.web import services


@dataclass(frozen=True)
class AffiliateIdentity:
    affiliate_id: str
    operator_id: str
    status: str
    player_salt: str


async def authenticate_affiliate(request: Request) -> AffiliateIdentity:
    """The calling affiliate, or 401 (no token, unknown or revoked) / 403 (suspended)."""
    secret = _token(request)
    if secret is None:
        raise ApiError(
            401,
            "missing_affiliate_token",
            "send your affiliate token as 'Authorization: Bearer crpa_...'",
        )
    engine = services(request).engine

    def load() -> AffiliateIdentity | None:
        with read_session(engine) as session:
            row = session.execute(
                select(Affiliate.id, Affiliate.operator_id, Affiliate.status, Affiliate.player_salt)
                .join(AffiliateToken, AffiliateToken.affiliate_id == Affiliate.id)
                .where(
                    AffiliateToken.token_hash == hash_token(secret),
                    AffiliateToken.revoked_at.is_(None),
                )
            ).one_or_none()
            return None if row is None else AffiliateIdentity(*row)

    identity = await in_db_thread(load)
    if identity is None:
        raise ApiError(401, "invalid_affiliate_token", "the token is unknown or revoked")
    if identity.status == "suspended":
        raise ApiError(403, "affiliate_suspended", "this affiliate account is suspended")
    return identity


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-affiliate-token") or None


def player_hash(salt: str, *, brand_id: str, player_ref: str) -> str:
    """How an affiliate sees a player (postback ``{player}``, the affiliate API): stable per
    affiliate, unlinkable across affiliates, never the operator's own id."""
    digest = hmac.new(salt.encode(), f"{brand_id}:{player_ref}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
