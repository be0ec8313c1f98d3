"""Per-key request limits (the ``limits`` library): in memory, or Redis when configured."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from croupier.kit.errors import ApiError

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


@lru_cache(maxsize=256)
def _item(text: str) -> RateLimitItem:
    return parse(text)


class RateLimiter:
    """A moving window per key: exactly N requests in any window of the limit's length."""

    def __init__(self, *, default: str, storage_uri: str) -> None:
        self.default = default
        self._pool: ConnectionPool | None = None
        storage: Any
        if storage_uri.startswith(("redis://", "rediss://", "unix://")):
            # Imported here: redis-py is a large import that in-memory limits never use.
            from limits.aio.storage import RedisStorage
            from redis.asyncio import ConnectionPool

            # Our own pool, so shutdown can close every connection.
            self._pool = ConnectionPool.from_url(storage_uri)
            # limits types its options as scalars, but passes a pool through to redis-py.
            options: dict[str, Any] = {"connection_pool": self._pool}
            storage = RedisStorage(storage_uri, implementation="redispy", **options)
        else:
            storage = storage_from_string(f"async+{storage_uri.removeprefix('async+')}")
        self._limiter = MovingWindowRateLimiter(storage)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, key_id: str, limit: str | None) -> Verdict:
        item = _item(limit or self.default)
        allowed = await self._limiter.hit(item, key_id)
        stats = await self._limiter.get_window_stats(item, key_id)
        return Verdict(allowed, item.amount, stats.remaining, stats.reset_time)

    @staticmethod
    def refuse(verdict: Verdict) -> ApiError:
        retry_after = max(1, math.ceil(verdict.reset_at - time.time()))
        return ApiError(
            429,
            "rate_limited",
            f"more than {verdict.limit} requests in the window for this key; retry later",
            headers={**verdict.headers(), "Retry-After": str(retry_after)},
        )
