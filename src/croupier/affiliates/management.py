"""Managing affiliates, their campaigns, tracking links, promo codes and API tokens.

The rules of the operator-side management API. Every function is scoped to one operator:
another operator's object is "not found", never "forbidden", so ids leak nothing. Callers
own the transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from croupier.affiliates.models import (
    Affiliate,
    AffiliateToken,
    Campaign,
    Click,
    PromoCode,
    TrackingLink,
)
from croupier.kit.errors import ApiError, invalid
from croupier.kit.ids import uuid7
from croupier.kit.money import ISO_4217
from croupier.kit.timeparse import utcnow
from croupier.tenancy.models import Brand, Operator

STATUSES = ("pending", "active", "suspended")
# Which status changes an admin may make (the same status again is always a no-op).
TRANSITIONS = {("pending", "active"), ("active", "suspended"), ("suspended", "active")}
TOKEN_PREFIX = "crpa_"
SUB_KEYS = ("sub1", "sub2", "sub3", "sub4", "sub5")
SUB_MAX_LENGTH = 255
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PROMO = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_Row = TypeVar("_Row")
_MAX_PARENT_DEPTH = 100  # far deeper than any real network; a guard against bad data


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: AffiliateToken
    secret: str


def _not_found(what: str, object_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} {object_id} for this operator")


def _conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def hash_token(secret: str) -> str:
    # 256-bit random tokens: a fast hash is as safe as a slow one, as for API keys.
    return hashlib.sha256(secret.encode()).hexdigest()


# --- affiliates ------------------------------------------------------------------------------


def create_affiliate(
    session: Session,
    *,
    operator_id: str,
    name: str,
    email: str,
    status: str = "pending",
    payout_currency: str | None = None,
    parent_id: str | None = None,
) -> Affiliate:
    if status not in ("pending", "active"):
        raise invalid("status", "a new affiliate is 'pending' or 'active'")
    email = _valid_email(email)
    if payout_currency is None:
        operator = session.get(Operator, operator_id)
        payout_currency = operator.currency if operator is not None else "EUR"
    _valid_currency(payout_currency)
    if parent_id is not None:
        get_affiliate(session, operator_id=operator_id, affiliate_id=parent_id, field="parent_id")
    _ensure_email_free(session, operator_id=operator_id, email=email)
    affiliate = Affiliate(
        id=uuid7(),
        operator_id=operator_id,
        name=_valid_name(name),
        email=email,
        status=status,
        payout_currency=payout_currency,
        parent_id=parent_id,
        postback_secret=secrets.token_hex(32),
        player_salt=secrets.token_hex(32),
        created_at=utcnow(),
    )
    session.add(affiliate)
    session.flush()
    return affiliate


def get_affiliate(
    session: Session, *, operator_id: str, affiliate_id: str, field: str | None = None
) -> Affiliate:
    """The operator's affiliate; a missing one named by a body ``field`` is a 400, else 404."""
    affiliate = session.get(Affiliate, affiliate_id)
    if affiliate is None or affiliate.operator_id != operator_id:
        if field is not None:
            raise invalid(field, f"no affiliate {affiliate_id} for this operator", "not_found")
        raise _not_found("affiliate", affiliate_id)
    return affiliate


def list_affiliates(
    session: Session,
    *,
    operator_id: str,
    status: str | None = None,
    parent_id: str | None = None,
    after_id: str | None,
    limit: int,
) -> list[Affiliate]:
    query = select(Affiliate).where(Affiliate.operator_id == operator_id)
    if status is not None:
        query = query.where(Affiliate.status == status)
    if parent_id is not None:
        query = query.where(Affiliate.parent_id == parent_id)
    return _page(session, query, Affiliate.id, after_id=after_id, limit=limit)


def update_affiliate(
    session: Session, *, operator_id: str, affiliate_id: str, changes: dict[str, Any]
) -> Affiliate:
    """Apply the given fields; ``parent_id: None`` makes the affiliate top-level."""
    affiliate = get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id)
    if "name" in changes:
        affiliate.name = _valid_name(changes["name"])
    if "email" in changes:
        email = _valid_email(changes["email"])
        if email != affiliate.email:
            _ensure_email_free(session, operator_id=operator_id, email=email)
            affiliate.email = email
    if "payout_currency" in changes:
        affiliate.payout_currency = _valid_currency(changes["payout_currency"])
    if "status" in changes:
        status = changes["status"]
        if status not in STATUSES:
            raise invalid("status", f"one of {', '.join(STATUSES)}")
        if status != affiliate.status and (affiliate.status, status) not in TRANSITIONS:
            raise invalid(
                "status", f"cannot go from {affiliate.status} to {status}", "invalid_transition"
            )
        affiliate.status = status
    if "parent_id" in changes:
        parent_id = changes["parent_id"]
        if parent_id is not None:
            _ensure_no_cycle(session, operator_id=operator_id, child=affiliate, parent_id=parent_id)
        affiliate.parent_id = parent_id
    session.flush()
    return affiliate


def _ensure_no_cycle(
    session: Session, *, operator_id: str, child: Affiliate, parent_id: str
) -> None:
    ancestor: str | None = parent_id
    for _ in range(_MAX_PARENT_DEPTH):
        if ancestor is None:
            return
        if ancestor == child.id:
            raise invalid("parent_id", "an affiliate cannot be its own ancestor", "cycle")
        found = get_affiliate(
            session, operator_id=operator_id, affiliate_id=ancestor, field="parent_id"
        )
        ancestor = found.parent_id
    raise invalid("parent_id", "the parent chain is too deep", "cycle")


def _ensure_email_free(session: Session, *, operator_id: str, email: str) -> None:
    taken = session.scalar(
        select(Affiliate.id).where(Affiliate.operator_id == operator_id, Affiliate.email == email)
    )
    if taken is not None:
        raise _conflict(f"an affiliate with email {email} already exists")


def _valid_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise invalid("name", "a non-empty string of at most 200 characters")
    return name.strip()


def _valid_email(email: Any) -> str:
    if not isinstance(email, str) or len(email) > 320 or not _EMAIL.match(email):
        raise invalid("email", "an email address like name@example.com")
    # Compared case-insensitively: one person, one affiliate account.
    return email.strip().lower()


def _valid_currency(currency: Any) -> str:
    if not isinstance(currency, str) or currency not in ISO_4217:
        raise invalid("payout_currency", "an ISO 4217 currency code like EUR")
    return currency


# --- tokens ----------------------------------------------------------------------------------


def issue_token(session: Session, *, operator_id: str, affiliate_id: str) -> IssuedToken:
    get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AffiliateToken(
        id=uuid7(),
        affiliate_id=affiliate_id,
        token_hash=hash_token(secret),
        prefix=secret[:12],
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token=token, secret=secret)


def list_tokens(session: Session, *, operator_id: str, affiliate_id: str) -> list[AffiliateToken]:
    get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id)
    query = select(AffiliateToken).where(AffiliateToken.affiliate_id == affiliate_id)
    return list(session.scalars(query.order_by(AffiliateToken.id)))


def revoke_token(
    session: Session, *, operator_id: str, affiliate_id: str, token_id: str
) -> AffiliateToken:
    get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id)
    token = session.get(AffiliateToken, token_id)
    if token is None or token.affiliate_id != affiliate_id:
        raise _not_found("token", token_id)
    if token.revoked_at is None:  # revoking twice keeps the first time
        token.revoked_at = utcnow()
    session.flush()
    return token


# --- campaigns -------------------------------------------------------------------------------


def create_campaign(
    session: Session, *, operator_id: str, affiliate_id: str, name: str
) -> Campaign:
    get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id, field="affiliate_id")
    campaign = Campaign(
        id=uuid7(),
        operator_id=operator_id,
        affiliate_id=affiliate_id,
        name=_valid_name(name),
        created_at=utcnow(),
    )
    session.add(campaign)
    session.flush()
    return campaign


def list_campaigns(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str | None,
    after_id: str | None,
    limit: int,
) -> list[Campaign]:
    query = select(Campaign).where(Campaign.operator_id == operator_id)
    if affiliate_id is not None:
        query = query.where(Campaign.affiliate_id == affiliate_id)
    return _page(session, query, Campaign.id, after_id=after_id, limit=limit)


# --- tracking links --------------------------------------------------------------------------


def create_link(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str,
    brand_id: str,
    campaign_id: str | None = None,
    landing_url: str | None = None,
    default_subs: dict[str, str] | None = None,
) -> TrackingLink:
    get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id, field="affiliate_id")
    brand = session.get(Brand, brand_id)
    if brand is None or brand.operator_id != operator_id:
        raise invalid("brand_id", f"no brand {brand_id} for this operator", "not_found")
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.operator_id != operator_id:
            raise invalid(
                "campaign_id", f"no campaign {campaign_id} for this operator", "not_found"
            )
        if campaign.affiliate_id != affiliate_id:
            raise invalid("campaign_id", "the campaign belongs to another affiliate", "mismatch")
    if landing_url is not None:
        landing_url = valid_landing_url(landing_url)
    elif not brand.landing_url:
        raise invalid(
            "landing_url", "the brand has no landing URL: give one for this link", "required"
        )
    link = TrackingLink(
        id=uuid7(),
        code=_fresh_code(session),
        operator_id=operator_id,
        affiliate_id=affiliate_id,
        campaign_id=campaign_id,
        brand_id=brand_id,
        landing_url=landing_url,
        default_subs=_valid_subs(default_subs or {}),
        enabled=True,
        created_at=utcnow(),
    )
    session.add(link)
    session.flush()
    return link


def get_link(session: Session, *, operator_id: str, link_id: str) -> TrackingLink:
    link = session.get(TrackingLink, link_id)
    if link is None or link.operator_id != operator_id:
        raise _not_found("link", link_id)
    return link


def list_links(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str | None,
    campaign_id: str | None,
    after_id: str | None,
    limit: int,
) -> list[TrackingLink]:
    query = select(TrackingLink).where(TrackingLink.operator_id == operator_id)
    if affiliate_id is not None:
        query = query.where(TrackingLink.affiliate_id == affiliate_id)
    if campaign_id is not None:
        query = query.where(TrackingLink.campaign_id == campaign_id)
    return _page(session, query, TrackingLink.id, after_id=after_id, limit=limit)


def update_link(
    session: Session, *, operator_id: str, link_id: str, changes: dict[str, Any]
) -> TrackingLink:
    """``enabled``, ``landing_url`` (None: the brand's again) and ``default_subs``."""
    link = get_link(session, operator_id=operator_id, link_id=link_id)
    if "enabled" in changes:
        link.enabled = bool(changes["enabled"])
    if "landing_url" in changes:
        landing_url = changes["landing_url"]
        if landing_url is None:
            brand = session.get(Brand, link.brand_id)
            if brand is None or not brand.landing_url:
                raise invalid("landing_url", "the brand has no landing URL to fall back on")
            link.landing_url = None
        else:
            link.landing_url = valid_landing_url(landing_url)
    if "default_subs" in changes:
        link.default_subs = _valid_subs(changes["default_subs"] or {})
    session.flush()
    return link


def click_counts(session: Session, *, link_id: str) -> dict[str, int]:
    """Human clicks (total and unique) and the bot clicks left out of them."""
    row = session.execute(
        select(
            func.count().filter(Click.is_bot.is_(False)),
            func.count().filter(Click.is_unique.is_(True)),
            func.count().filter(Click.is_bot.is_(True)),
        ).where(Click.link_id == link_id)
    ).one()
    return {"total": row[0], "unique": row[1], "bots": row[2]}


def valid_landing_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise invalid("landing_url", "an http(s) URL of at most 2000 characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise invalid("landing_url", "not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise invalid("landing_url", "an absolute http:// or https:// URL")
    return url


def _valid_subs(subs: Any) -> dict[str, str]:
    if not isinstance(subs, dict):
        raise invalid("default_subs", "an object with keys sub1..sub5")
    for key, value in subs.items():
        if key not in SUB_KEYS:
            raise invalid(f"default_subs.{key}", "only sub1..sub5 are allowed", "unknown_field")
        if not isinstance(value, str) or len(value) > SUB_MAX_LENGTH:
            raise invalid(f"default_subs.{key}", f"a string of at most {SUB_MAX_LENGTH} characters")
    return {key: value for key, value in subs.items() if value}


def _fresh_code(session: Session) -> str:
    # 8 random bytes: 64 bits, unguessable by enumeration; a collision is retried anyway.
    while True:
        code = secrets.token_urlsafe(8)
        if session.scalar(select(TrackingLink.id).where(TrackingLink.code == code)) is None:
            return code


# --- promo codes -----------------------------------------------------------------------------


def create_promo_code(
    session: Session, *, operator_id: str, affiliate_id: str, code: str
) -> PromoCode:
    get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id, field="affiliate_id")
    if not isinstance(code, str) or not _PROMO.match(code):
        raise invalid("code", "1 to 100 letters, digits, '_' or '-'")
    code = code.upper()  # matched case-insensitively
    taken = session.scalar(
        select(PromoCode.id).where(PromoCode.operator_id == operator_id, PromoCode.code == code)
    )
    if taken is not None:
        raise _conflict(f"promo code {code} is already in use")
    promo = PromoCode(
        id=uuid7(),
        operator_id=operator_id,
        affiliate_id=affiliate_id,
        code=code,
        created_at=utcnow(),
    )
    session.add(promo)
    session.flush()
    return promo


def list_promo_codes(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str | None,
    after_id: str | None,
    limit: int,
) -> list[PromoCode]:
    query = select(PromoCode).where(PromoCode.operator_id == operator_id)
    if affiliate_id is not None:
        query = query.where(PromoCode.affiliate_id == affiliate_id)
    return _page(session, query, PromoCode.id, after_id=after_id, limit=limit)


# --- shared ----------------------------------------------------------------------------------


def _page(
    session: Session,
    query: Select[_Row],
    id_column: Any,
    *,
    after_id: str | None,
    limit: int,
) -> list[_Row]:
    # Ids are UUIDv7, so id order is creation order and the last id is the cursor.
    if after_id is not None:
        query = query.where(id_column > after_id)
    return list(session.scalars(query.order_by(id_column).limit(limit)))
