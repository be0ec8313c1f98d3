"""The group-commit writer: concurrent requests share one transaction.

With the store process (the server's default), each request sends its events to the child
as soon as they are parsed, and the child commits together whatever reached it while it
was busy. On a thread (an in-memory store, or ``writer_process`` off), requests enqueue
their events and wait; one task takes everything queued, commits it in a single
transaction, then wakes each request with its outcomes. Either way, while a commit runs
the next group forms, so the commit rate adapts to load with no timer. Past
``queue_size`` requests waiting, a new one is refused at once (503), never buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from croupier.ingest.outcome import Outcome, PendingEvent, WriterOverloaded
from croupier.ingest.store import EventStore
from croupier.ingest.store_process import StoreProcess
from croupier.kit.errors import StoreUnavailable

log = logging.getLogger(__name__)
# Pending events that leave for the store process at once (a batch), not at the pass's end.
_SEND_AT = 50


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
        ``process``, groups are written by that child process instead of ``store`` (which
        tells ``on_commit`` itself: give it the same callable)."""
        self.store = store
        self.process = process
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._max_group_events = max_group_events
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="croupier-writer")
        self._task: asyncio.Task[None] | None = None
        # With a process: whether requests are taken, and those waiting for the pass's end.
        self._sending = False
        self._pending: list[_Job] = []
        self._pending_events = 0
        self._send_scheduled = False
        # In flight: with a thread, groups (one: it commits them one after the other); with
        # a process, requests sent or about to be, not yet answered.
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._slots = asyncio.Semaphore(1)
        self._commits: set[asyncio.Task[None]] = set()
        self.groups_committed = 0

    async def start(self) -> None:
        if self.process is not None:
            await self.process.start()
            self._sending = True
            return
        self._task = asyncio.create_task(self._run(), name="croupier-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        while self._in_flight:  # every request taken is answered before the writer stops
            self._drained.clear()
            await self._drained.wait()
        self._sending = False
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
        if self.process is not None:
            return await self._send(self.process, events, rejections)
        if self._task is None or self._task.done():
            raise StoreUnavailable("the writer is not running")
        job = _Job(events, rejections, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise WriterOverloaded("the write queue is full") from None
        return await job.future

    async def _send(
        self, process: StoreProcess, events: list[PendingEvent], rejections: list[dict[str, Any]]
    ) -> list[Outcome]:
        """The request's events go to the child with those of the requests parsed in the
        same pass of the event loop, or at once when they are many (``_SEND_AT``).

        A group used to leave from a writer task, which the loop ran only after every
        request that had become ready with it was parsed: the child idled while the server
        parsed a wave of batches, then the server while the child committed the wave, and
        under a steady load of batches each side sat idle a third to a half of the time.
        Small requests still wait for the pass's end, so that a wave of single events
        leaves as one group (sent one by one, their commits cost the child 2.5 times as
        much CPU per event)."""
        if not self._sending:
            raise StoreUnavailable("the writer is not running")
        if self._in_flight >= self._queue.maxsize:
            raise WriterOverloaded("the write queue is full")
        job = _Job(events, rejections, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._pending_events += len(events)
        self._in_flight += 1
        try:
            if self._pending_events >= _SEND_AT:
                self._send_pending()
            elif not self._send_scheduled:
                self._send_scheduled = True
                asyncio.get_running_loop().call_soon(self._send_pending)
            return await job.future
        finally:
            self._landed()

    def _landed(self) -> None:
        """One less in flight; stop() waits for none."""
        self._in_flight -= 1
        if not self._in_flight:
            self._drained.set()

    def _send_pending(self) -> None:
        self._send_scheduled = False
        jobs, self._pending, self._pending_events = self._pending, [], 0
        if jobs:
            self._deliver_later(jobs)

    def _deliver_later(self, jobs: list[_Job]) -> None:
        try:
            answer = self._send_group(jobs)
        except Exception as exc:  # not encodable: nothing was sent
            log.exception("group could not be sent")
            _fail(jobs, exc)
            return
        task = asyncio.create_task(self._settle(jobs, answer, self._resend))
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    def _send_group(self, jobs: list[_Job]) -> Awaitable[list[Outcome]]:
        assert self.process is not None
        events, rejections = _merged(jobs)
        return self.process.send(events, rejections, requests=len(jobs))

    async def _resend(self, jobs: list[_Job]) -> list[Outcome]:
        return await self._send_group(jobs)

    async def _settle(
        self,
        jobs: list[_Job],
        answer: Awaitable[list[Outcome]],
        again: Callable[[list[_Job]], Awaitable[list[Outcome]]],
    ) -> None:
        """Hand each request of a group its outcomes, or the group's failure. A failure
        that is not the store's is one request's data, most likely: each request is then
        written alone (``again``), so only the one at fault fails (nothing of the failed
        group was kept)."""
        try:
            outcomes = await answer
        except StoreUnavailable as exc:  # every waiting request must hear about it
            _fail(jobs, exc)
            return
        except Exception as exc:
            if len(jobs) == 1:
                log.exception("group write failed")
                _fail(jobs, exc)
                return
            log.warning("group write failed (%s); writing its requests one by one", exc)
            for job in jobs:
                await self._settle([job], again([job]), again)
            return
        self.groups_committed += 1
        _answer(jobs, outcomes)

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
            await self._settle(jobs, self._write_on_thread(jobs), self._write_on_thread)
        finally:
            self._landed()
            self._slots.release()
            for _ in jobs:
                self._queue.task_done()

    async def _write_on_thread(self, jobs: list[_Job]) -> list[Outcome]:
        events, rejections = _merged(jobs)
        outcomes, seconds = await asyncio.get_running_loop().run_in_executor(
            self._executor, self._timed_write, events, rejections
        )
        if self._on_commit is not None:
            self._on_commit(len(jobs), len(events), seconds)
        return outcomes

    def _timed_write(
        self, events: list[PendingEvent], rejections: list[dict[str, Any]]
    ) -> tuple[list[Outcome], float]:
        # Timed on the writer's thread: the event loop may resume the waiters later.
        started = time.perf_counter()
        outcomes = self.store.write(events, rejections)
        return outcomes, time.perf_counter() - started


def _merged(jobs: list[_Job]) -> tuple[list[PendingEvent], list[dict[str, Any]]]:
    """A group's events and rejections, request after request."""
    return [e for job in jobs for e in job.events], [r for job in jobs for r in job.rejections]


def _answer(jobs: list[_Job], outcomes: list[Outcome]) -> None:
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
