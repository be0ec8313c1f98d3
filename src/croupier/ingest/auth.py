"""API-key authentication with a short per-process cache, and scope checks."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from croupier.kit.db import read_session
from croupier.kit.errors import ApiError
from croupier.kit.refreshing import RefreshingCache
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
    """Keys resolved from the store, cached per process (kit.refreshing): a known key past
    ``cache_seconds`` is answered from the cache while one lookup refreshes it, so a
    revoked key stops working one lookup after ``cache_seconds`` under steady traffic, and
    within twice that at most. Unknown keys are never answered stale."""

    def __init__(self, engine: Engine, *, cache_seconds: float) -> None:
        self._engine = engine
        self._cache: RefreshingCache[str, KeyInfo | None] = RefreshingCache(
            lambda secret: self._load(secret),  # looked up at each call: tests replace it
            ttl=cache_seconds,
            max_entries=10_000,
        )

    async def authenticate(self, secret: str | None, scopes: Collection[Scope]) -> KeyInfo:
        if not secret:
            raise ApiError(401, "missing_api_key", "send your API key in the X-API-Key header")
        info = await self._cache.get(secret)
        if info is None:
            raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked")
        if info.scope not in scopes:
            raise ApiError(
                403,
                "forbidden_scope",
                f"a key with the {info.scope.value!r} scope may not call this endpoint",
            )
        return info

    def warm(self) -> None:
        """In the background (a store that does not answer must not hold the server's
        start), look up a key nobody holds: the first real lookup then finds the statements
        compiled and a connection open (cold, it took ~60 ms, and every request of that key
        waited for it). Best effort: a store not reachable yet is looked up later."""
        self._cache.look_up_in_background(f"crp_warm_{uuid.uuid4().hex}")

    async def settle(self) -> None:
        """Wait for the lookups under way in the background (``RefreshingCache.settle``)."""
        await self._cache.settle()

    def _load(self, secret: str) -> KeyInfo | None:
        with read_session(self._engine) as session:
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
