"""A per-process cache of values read from the store by key (API keys, tracking links).

- One lookup per key at a time: requests that want a key being looked up wait for that
  lookup instead of each starting its own (on expiry, a busy key had 64 at once, and as
  many threads).
- A value past its time is answered at once while one lookup refreshes it in the
  background, for up to ``ttl`` more: its requests never wait for a refresh. Every request
  of a key had waited for one every ``ttl`` seconds: ~60 requests at 1,000 a second. So a
  change in the store (a key revoked, a link disabled) shows one lookup after ``ttl`` under
  steady traffic, and within twice that at most. None (nothing found) is never answered
  stale: a key or link created meanwhile works at once.
- Lookups run on the store's thread pool (``in_db_thread``); a failed one fails the
  requests waiting for it (a failed refresh, the next requests), and the next request
  looks again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from croupier.kit.db import in_db_thread

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class RefreshingCache(Generic[K, V]):
    def __init__(
        self,
        load: Callable[[K], V],
        *,
        ttl: float,
        max_entries: int,
    ) -> None:
        """``load(key)`` reads the value from the store (blocking). Past ``max_entries``
        the cache starts again empty: keys nobody holds must not grow memory without
        bound."""
        self._load = load
        self._ttl = ttl
        self._max_entries = max_entries
        # key -> (when it was looked up, what it resolved to)
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._refreshing: set[asyncio.Task[Any]] = set()

    async def get(self, key: K) -> V:
        entry = self._entries.get(key)
        if entry is not None:
            age = time.monotonic() - entry[0]
            if age < self._ttl:
                return entry[1]
            if age < 2 * self._ttl and entry[1] is not None:
                self.look_up_in_background(key)
                return entry[1]
        loading = self._loading.get(key)
        if loading is not None:
            try:
                return await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():  # this request itself is being cancelled
                    raise
                return await self.get(key)  # the leading request was: look again
        return await self._look_up(key, self._start(key))

    def look_up_in_background(self, key: K) -> None:
        """Look ``key`` up (again) without anyone waiting for it, unless a lookup of it is
        under way. Registered at once, so one pass of the event loop starts one only."""
        if key not in self._loading:
            task = asyncio.create_task(self._refresh(key, self._start(key)))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def settle(self) -> None:
        """Wait for the background lookups under way: each holds one of the store's
        pooled connections on a thread until its lookup returns (before the engine is
        disposed, or the connection is left open)."""
        if self._refreshing:
            await asyncio.gather(*self._refreshing, return_exceptions=True)

    def forget(self, key: K) -> None:
        """``key``'s value changed in the store (through this process): look it up again
        at its next request. A lookup already under way may still bring the old value."""
        self._entries.pop(key, None)

    def _start(self, key: K) -> asyncio.Future[V]:
        """Register a lookup of ``key``, which the caller then runs (``_look_up``)."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        return future

    async def _refresh(self, key: K, future: asyncio.Future[V]) -> None:
        try:
            await self._look_up(key, future)
        except Exception as exc:
            # Not answered stale any more: the next requests look it up themselves, and
            # hear of the failure (a 503 while the store is unreachable) as they did.
            self._entries.pop(key, None)
            log.warning("could not look up a store value in the background: %s", exc)

    async def _look_up(self, key: K, future: asyncio.Future[V]) -> V:
        looked_up = time.monotonic()
        try:
            value = await in_db_thread(self._load, key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._loading[key]
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (looked_up, value)
        future.set_result(value)
        return value
