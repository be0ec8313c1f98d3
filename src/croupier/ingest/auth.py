"""API-key authentication with a short per-process cache, and scope checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from croupier.kit.db import in_db_thread, read_session
from croupier.kit.errors import ApiError, StoreUnavailable
from croupier.tenancy import service as tenancy
from croupier.tenancy.models import Brand
from croupier.tenancy.service import Scope

log = logging.getLogger(__name__)


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
    """Keys resolved from the store and kept ``cache_seconds``. A known key past its time is
    still answered from the cache while one lookup refreshes it in the background, for up
    to ``cache_seconds`` more: its requests never wait for the refresh (every request of a
    key waited for it, every 5 s: ~60 requests at 1,000 a second). So a revoked key stops
    working one lookup after ``cache_seconds`` under steady traffic, and within twice that
    at most. Unknown keys are never answered stale."""

    def __init__(self, engine: Engine, *, cache_seconds: float) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        # secret -> (when it was looked up, what it resolved to)
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}
        self._loading: dict[str, asyncio.Future[KeyInfo | None]] = {}
        self._refreshing: set[asyncio.Task[Any]] = set()

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

    async def warm(self) -> None:
        """Look up a key nobody holds: the first real lookup then finds the statements
        compiled and a connection open (cold, it took ~60 ms, and every request of that
        key waited for it). Best effort: a store not reachable yet is looked up later."""
        with contextlib.suppress(StoreUnavailable):
            await in_db_thread(self._load, f"crp_warm_{uuid.uuid4().hex}")

    async def _lookup(self, secret: str) -> KeyInfo | None:
        cached = self._cache.get(secret)
        if cached is not None:
            age = time.monotonic() - cached[0]
            if age < self._cache_seconds:
                return cached[1]
            if cached[1] is not None and age < 2 * self._cache_seconds:
                if secret not in self._loading:  # registered now: one refresh per key
                    task = asyncio.create_task(self._refresh(secret, self._start(secret)))
                    self._refreshing.add(task)
                    task.add_done_callback(self._refreshing.discard)
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
        return await self._load_once(secret, self._start(secret))

    def _start(self, secret: str) -> asyncio.Future[KeyInfo | None]:
        """Register a lookup of the key, which the caller then runs (``_load_once``)."""
        future: asyncio.Future[KeyInfo | None] = asyncio.get_running_loop().create_future()
        self._loading[secret] = future
        return future

    async def _refresh(self, secret: str, future: asyncio.Future[KeyInfo | None]) -> None:
        try:
            await self._load_once(secret, future)
        except Exception as exc:  # the stale entry stays until its bound; then requests wait
            log.warning("could not refresh an API key: %s", exc)

    async def _load_once(
        self, secret: str, future: asyncio.Future[KeyInfo | None]
    ) -> KeyInfo | None:
        """Look the key up, for the caller that registered the lookup (``_start``)."""
        now = time.monotonic()
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
        self._cache[secret] = (now, info)
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
