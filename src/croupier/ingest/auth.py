"""API-key authentication with a short per-process cache, and scope checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from croupier.kit.db import in_db_thread, read_session
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
        self._loading: dict[str, asyncio.Future[KeyInfo | None]] = {}

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
        # One lookup per key at a time: when a busy key's entry expires, its concurrent
        # requests wait for that lookup instead of each starting its own (64 at once, and
        # as many threads, every few seconds under load).
        loading = self._loading.get(secret)
        if loading is not None:
            try:
                return await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():  # this request itself is being cancelled
                    raise
                return await self._lookup(secret)  # the leading request was: look again
        future: asyncio.Future[KeyInfo | None] = asyncio.get_running_loop().create_future()
        self._loading[secret] = future
        try:
            info = await in_db_thread(self._load, secret)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._loading[secret]
        if len(self._cache) > 10_000:  # unknown keys must not grow memory without bound
            self._cache.clear()
        self._cache[secret] = (now + self._cache_seconds, info)
        future.set_result(info)
        return info

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
