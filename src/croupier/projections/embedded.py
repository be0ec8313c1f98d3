"""The projector inside ``croupier serve``: woken by each ingest commit, it applies the
log in small batches on the ingest writer's thread, taking turns with ingest: a batch
starts when no request is waiting for a commit, and at least every ``max_defer`` seconds
under steady load, so it always makes progress. Ingest comes first: under more load than
the two can share, the projector falls behind and catches up when the load eases (at
1,000 single deposits/s from new players on a slow 2-core VM it applied 2,200 of 10,000
events during the 10 s, and caught up 2.5 s after). (With SQLite's sleeping busy handler,
a projector that did not take turns had 3,800 single events/s fall to 32, p99 8 s.)

With the store process (the default) ingest's commits are the child's, so on SQLite a
batch under way holds the write lock while the groups that arrive meanwhile wait for it:
at 1,000 single deposits/s from new players, p99 19-24 ms against 4-5 ms without the
projector (44-53 ms when first measured, on another VM and before later cuts to the
projector's per-batch costs; 50-71 ms on a slower VM). Hence smaller batches while
requests arrive (``busy_batch``): on a slow VM, 20-event batches then made the p99 14-17
ms against 21-28 with 50 throughout, while the projector applied 2,900-4,100 of the 10,000
events during the load against 6,800-9,000, and caught up 1.3-1.6 s after it against
0.2-0.7 s. Running the batches in the child
instead, between its groups, was tried and was worse (p50 10-42 ms against 3-9 ms, and 60%
of the batch ingest rate): projecting such events cost ~0.9 ms each then, and the child
spent most of its time projecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from croupier.projections.engine import BatchResult, Projector, retry_delay

_TRAFFIC_SECONDS = 0.02


class EmbeddedProjector:
    def __init__(
        self,
        projector: Projector,
        *,
        run_serialized: Callable[[Callable[[], BatchResult]], Awaitable[Any]],
        busy: Callable[[], bool],
        poll_seconds: float,
        busy_batch: int | None = None,
        max_defer: float = 0.25,
    ) -> None:
        self.projector = projector
        self._run_serialized = run_serialized
        self._busy = busy
        self._poll_seconds = poll_seconds
        self._busy_batch = busy_batch
        self._max_defer = max_defer
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_commit = 0.0

    def notify(self) -> None:
        """Called on the event loop after each commit."""
        self._last_commit = time.monotonic()
        self._wake.set()

    def batch_limit(self) -> int | None:
        """The next batch's size: ``busy_batch`` while requests are arriving (one waits
        for a commit, or one was committed within the last 20 ms), else the projector's
        own. A batch holds SQLite's write lock, and each request that arrives meanwhile
        waits for it; between requests, or once they stop, larger batches catch up."""
        if self._busy_batch is None:
            return None
        if self._busy() or time.monotonic() - self._last_commit < _TRAFFIC_SECONDS:
            return min(self._busy_batch, self.projector.batch_size)
        return None

    def start(self) -> None:
        self._wake.set()  # catch up with whatever was committed while stopped
        self._task = asyncio.create_task(self._run(), name="croupier-projector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            # Also poll: another process (a second API worker) may have committed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()
            try:
                await self._catch_up()
                failures = 0
            except Exception as exc:
                failures += 1
                await asyncio.sleep(retry_delay(exc, failures))
                self._wake.set()

    async def _catch_up(self) -> None:
        while True:
            deferred_since = time.monotonic()
            while self._busy() and time.monotonic() - deferred_since < self._max_defer:
                await asyncio.sleep(0.002)  # ingest first
            limit = self.batch_limit()
            result: BatchResult = await self._run_serialized(
                functools.partial(self.projector.run_once, limit)
            )
            if not result.more:
                return
