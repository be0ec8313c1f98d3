"""Operators, brands and API keys: the rules. Callers own the transaction."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from limits import parse as parse_rate_limit
from sqlalchemy import select
from sqlalchemy.orm import Session

from croupier.kit.money import ISO_4217
from croupier.kit.timeparse import utcnow
from croupier.tenancy.models import ApiKey, Brand, Operator

KEY_PREFIX = "crp_"
UNLIMITED = "unlimited"  # a key's rate limit for trusted internal producers and benchmarks
TEST_KEY_PREFIX = "crp_test_"


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


class TenancyError(ValueError):
    """A management request that cannot be carried out, with a human reason."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is as safe as a slow one here.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_operator(
    session: Session, *, name: str, currency: str = "EUR", session_gap_minutes: int = 30
) -> Operator:
    if currency not in ISO_4217:
        raise TenancyError(f"{currency!r} is not an ISO 4217 currency code")
    if not 1 <= session_gap_minutes <= 24 * 60:
        raise TenancyError("the session gap must be between 1 and 1440 minutes")
    if session.scalar(select(Operator).where(Operator.name == name)) is not None:
        raise TenancyError(f"operator {name!r} already exists")
    operator = Operator(
        id=str(uuid.uuid4()),
        name=name,
        currency=currency,
        session_gap_minutes=session_gap_minutes,
        created_at=utcnow(),
    )
    session.add(operator)
    session.flush()
    return operator


def get_operator(session: Session, *, name: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.name == name))
    if operator is None:
        raise TenancyError(f"no operator named {name!r}")
    return operator


def create_brand(
    session: Session,
    *,
    operator: Operator,
    name: str,
    brand_id: str | None = None,
    landing_url: str | None = None,
) -> Brand:
    if brand_id is not None:
        try:
            brand_id = str(uuid.UUID(brand_id))
        except ValueError:
            raise TenancyError(f"{brand_id!r} is not a UUID") from None
        if session.get(Brand, brand_id) is not None:
            raise TenancyError(f"brand id {brand_id} is taken")
    existing = session.scalar(
        select(Brand).where(Brand.operator_id == operator.id, Brand.name == name)
    )
    if existing is not None:
        raise TenancyError(f"operator {operator.name!r} already has a brand {name!r}")
    brand = Brand(
        id=brand_id or str(uuid.uuid4()),
        operator_id=operator.id,
        name=name,
        landing_url=landing_url,
        created_at=utcnow(),
    )
    session.add(brand)
    session.flush()
    return brand


def list_brands(session: Session, *, operator_id: str) -> list[Brand]:
    return list(
        session.scalars(
            select(Brand).where(Brand.operator_id == operator_id).order_by(Brand.created_at)
        )
    )


def resolve_brand(session: Session, *, operator: Operator, brand: str | None) -> Brand:
    """A brand of this operator by name or id; the oldest brand when none is named."""
    brands = list_brands(session, operator_id=operator.id)
    if not brands:
        raise TenancyError(f"operator {operator.name!r} has no brand yet: create one first")
    if brand is None:
        return brands[0]
    for candidate in brands:
        if brand in (candidate.id, candidate.name):
            return candidate
    raise TenancyError(f"operator {operator.name!r} has no brand {brand!r}")


def create_key(
    session: Session,
    *,
    operator: Operator,
    brand: Brand,
    scope: Scope = Scope.INGEST,
    rate_limit: str | None = None,
    is_test: bool = False,
    label: str | None = None,
    secret: str | None = None,
) -> IssuedKey:
    if rate_limit is not None and rate_limit != UNLIMITED:
        try:
            parse_rate_limit(rate_limit)
        except ValueError:
            raise TenancyError(f"{rate_limit!r} is not a rate limit like '60/minute'") from None
    if secret is None:
        secret = (TEST_KEY_PREFIX if is_test else KEY_PREFIX) + secrets.token_urlsafe(32)
    key = ApiKey(
        id=str(uuid.uuid4()),
        operator_id=operator.id,
        brand_id=brand.id,
        key_hash=hash_key(secret),
        prefix=secret[:12],
        scope=scope.value,
        rate_limit=rate_limit,
        is_test=is_test,
        label=label,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=secret)


def list_keys(session: Session, *, operator_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if operator_id is not None:
        query = query.where(ApiKey.operator_id == operator_id)
    return list(session.scalars(query))


def revoke_key(session: Session, *, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise TenancyError(f"no API key with id {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def find_active_key(session: Session, *, secret: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    )


def bootstrap_demo(session: Session, *, secret: str | None = None) -> IssuedKey | None:
    """On a fresh store, a demo operator, brand and ingest key, so a newcomer can send at once."""
    if session.scalar(select(Operator).limit(1)) is not None:
        return None
    operator = create_operator(session, name="demo", currency="EUR")
    brand = create_brand(
        session, operator=operator, name="demo-casino", landing_url="https://demo-casino.example/"
    )
    return create_key(session, operator=operator, brand=brand, label="demo", secret=secret)
