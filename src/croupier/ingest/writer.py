"""The group-commit writer: concurrent requests share one transaction.

Requests enqueue their events and wait. One task takes everything queued, commits it in
a single transaction on a dedicated thread, then wakes each request with its outcomes.
While a commit runs, new requests queue up and form the next group, so the commit rate
adapts to load with no timer. A full queue is refused at once (503), never buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from croupier.ingest.outcome import Outcome, PendingEvent, WriterOverloaded
from croupier.ingest.store import EventStore
from croupier.ingest.store_process import StoreProcess
from croupier.kit.errors import StoreUnavailable

log = logging.getLogger(__name__)
_GROUPS_IN_FLIGHT = 8


@dataclass(slots=True)
class _Job:
    events: list[PendingEvent]
    rejections: list[dict[str, Any]]
    future: asyncio.Future[list[Outcome]] = field(repr=False)


class GroupWriter:
    def __init__(
        self,
        store: EventStore,
        *,
        queue_size: int,
        max_group_events: int,
        on_commit: Callable[[int, int, float], None] | None = None,
        process: StoreProcess | None = None,
    ) -> None:
        """``on_commit(requests, events, seconds)`` is told of every committed group. With
        ``process``, groups are written by that child process instead of ``store``."""
        self.store = store
        self.process = process
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._max_group_events = max_group_events
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="croupier-writer")
        self._task: asyncio.Task[None] | None = None
        # Groups in flight: one with a thread (it commits them one after the other). With a
        # process, each group is sent as soon as it forms, and the child commits together
        # whatever reached it while it was busy.
        self._in_flight = 0
        self._slots = asyncio.Semaphore(1 if process is None else _GROUPS_IN_FLIGHT)
        self._commits: set[asyncio.Task[None]] = set()
        self.groups_committed = 0

    async def start(self) -> None:
        if self.process is not None:
            await self.process.start()
        self._task = asyncio.create_task(self._run(), name="croupier-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Wait for the thread off the event loop: its last job (a projection batch, a
        # prune) may need the loop to finish, e.g. a connection served through it.
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        if self.process is not None:
            await self.process.stop()

    async def write(
        self, events: list[PendingEvent], rejections: list[dict[str, Any]]
    ) -> list[Outcome]:
        if self._task is None or self._task.done():
            raise StoreUnavailable("the writer is not running")
        job = _Job(events, rejections, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise WriterOverloaded("the write queue is full") from None
        return await job.future

    def busy(self) -> bool:
        """Requests are waiting for a commit, or one is running."""
        return self._in_flight > 0 or not self._queue.empty()

    async def run_in_writer_thread(self, fn: Any, *args: Any) -> Any:
        """Run other store work (pruning) on the writer's thread, so it never races a group."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            jobs = [await self._queue.get()]
            count = len(jobs[0].events)
            while count < self._max_group_events and not self._queue.empty():
                job = self._queue.get_nowait()
                jobs.append(job)
                count += len(job.events)
            self._in_flight += 1
            task = asyncio.create_task(self._commit_group(jobs))
            self._commits.add(task)
            task.add_done_callback(self._commits.discard)

    async def _commit_group(self, jobs: list[_Job]) -> None:
        try:
            await self._commit(jobs)
        finally:
            self._in_flight -= 1
            self._slots.release()
            for _ in jobs:
                self._queue.task_done()

    async def _write(
        self, events: list[PendingEvent], rejections: list[dict[str, Any]]
    ) -> tuple[list[Outcome], float]:
        if self.process is not None:
            started = time.perf_counter()
            outcomes = await self.process.write(events, rejections)
            return outcomes, time.perf_counter() - started
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._timed_write, events, rejections
        )

    def _timed_write(
        self, events: list[PendingEvent], rejections: list[dict[str, Any]]
    ) -> tuple[list[Outcome], float]:
        # Timed on the writer's thread: the event loop may resume the waiters later.
        started = time.perf_counter()
        outcomes = self.store.write(events, rejections)
        return outcomes, time.perf_counter() - started

    async def _commit(self, jobs: list[_Job]) -> None:
        events = [event for job in jobs for event in job.events]
        rejections = [row for job in jobs for row in job.rejections]
        try:
            outcomes, seconds = await self._write(events, rejections)
        except StoreUnavailable as exc:  # every waiting request must hear about it
            _fail(jobs, exc)
            return
        except Exception as exc:
            if len(jobs) == 1:
                log.exception("group write failed")
                _fail(jobs, exc)
                return
            # Not the store's fault: one request's data, most likely. Commit each request
            # alone, so only the one at fault fails (nothing of the failed group was kept).
            log.warning("group write failed (%s); committing its requests one by one", exc)
            for job in jobs:
                await self._commit([job])
            return
        self.groups_committed += 1
        if self._on_commit is not None:
            self._on_commit(len(jobs), len(events), seconds)
        start = 0
        for job in jobs:
            end = start + len(job.events)
            if not job.future.done():
                job.future.set_result(outcomes[start:end])
            start = end


def _fail(jobs: list[_Job], exc: Exception) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)
