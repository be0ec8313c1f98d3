"""API-key authentication with a short per-process cache, and scope checks."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.kit.db import in_db_thread
from croupier.kit.errors import ApiError
from croupier.tenancy import service as tenancy
from croupier.tenancy.models import Brand
from croupier.tenancy.service import Scope


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a request may do, resolved from its API key (or from a broker binding)."""

    key_id: str  # "" for a topic or queue bound by configuration: stored as no key (NULL)
    operator_id: str
    default_brand_id: str
    brand_ids: frozenset[str]
    scope: Scope
    rate_limit: str | None
    is_test: bool


# Which key scopes may call which kind of endpoint; admin may do everything.
SEND = frozenset({Scope.INGEST, Scope.ADMIN})
READ_OWN_EVENTS = frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN})


class KeyRegistry:
    def __init__(self, engine: Engine, *, cache_seconds: float) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}

    async def authenticate(self, secret: str | None, scopes: Collection[Scope]) -> KeyInfo:
        if not secret:
            raise ApiError(401, "missing_api_key", "send your API key in the X-API-Key header")
        info = await self._lookup(secret)
        if info is None:
            raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked")
        if info.scope not in scopes:
            raise ApiError(
                403,
                "forbidden_scope",
                f"a key with the {info.scope.value!r} scope may not call this endpoint",
            )
        return info

    async def _lookup(self, secret: str) -> KeyInfo | None:
        now = time.monotonic()
        cached = self._cache.get(secret)
        if cached is not None and cached[0] > now:
            return cached[1]
        info = await in_db_thread(self._load, secret)
        if len(self._cache) > 10_000:  # unknown keys must not grow memory without bound
            self._cache.clear()
        self._cache[secret] = (now + self._cache_seconds, info)
        return info

    def _load(self, secret: str) -> KeyInfo | None:
        with Session(self._engine) as session:
            key = tenancy.find_active_key(session, secret=secret)
            if key is None:
                return None
            brand_ids = session.scalars(
                select(Brand.id).where(Brand.operator_id == key.operator_id)
            )
            return KeyInfo(
                key_id=key.id,
                operator_id=key.operator_id,
                default_brand_id=key.brand_id,
                brand_ids=frozenset(brand_ids),
                scope=Scope(key.scope),
                rate_limit=key.rate_limit,
                is_test=key.is_test,
            )
