"""The event store's writes in a process of their own.

In one process, the event loop (HTTP, parsing, building rows) and the writer thread (binding
and inserting the rows) take turns on one GIL: under load each thread used about half a core
while the other waited for it. Here the writer thread only pickles a group's rows, sends
them down a pipe and waits (without the GIL) for the outcomes; a child process runs
``EventStore.write`` with its own engine, on the other core.

The child lives as long as the pipe: it exits when the server closes it or dies (EOF).
If the child dies, the group it held is answered 503 (its clients retry, and the
idempotency check makes the retry a ``duplicate`` if the commit had landed) and the next
group starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from croupier.events.model import Format, Kind
from croupier.ingest.outcome import Outcome, PendingEvent, Status
from croupier.ingest.store import EVENT_INSERTS, EventStore
from croupier.kit import jsoncodec
from croupier.kit.errors import StoreUnavailable

log = logging.getLogger(__name__)

# What crosses the pipe for one event: the INSERT's values and what the store needs besides
# them to answer or reject it. Pickling whole rows cost 10 µs per event; this costs under 1.
_Wire = tuple[tuple[Any, ...], str, str, int | None, datetime]
_STARTUP_SECONDS = 60.0
_STOP_SECONDS = 30.0


class StoreProcessError(RuntimeError):
    """The child's store raised something other than an outage (its text is the message)."""


class StoreProcess:
    """``await write(events, rejections)`` like ``EventStore.write``, run by a child process.

    Groups are pipelined: the next group is sent while the child commits the one before, so
    the child never waits for the server to answer and regroup. The child writes them in
    the order sent, each in its own transaction, and its answers come back in that order.
    """

    def __init__(
        self,
        database_url: str,
        *,
        sqlite_synchronous: str,
        log_level: str,
        max_group_events: int,
    ) -> None:
        self._args = (database_url, sqlite_synchronous, log_level, max_group_events)
        self._insert = EVENT_INSERTS[
            "sqlite" if database_url.startswith("sqlite") else "postgresql"
        ]
        # Pickling and sending happen on this thread: a send waits while the child is busy.
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="croupier-send")
        self._lock = threading.Lock()  # guards the child: start, stop, send
        self._child: _Child | None = None
        self.started = 0  # children started so far (the first, then one per restart)

    def start(self) -> None:
        """Start the child and wait until it is ready (blocking: call it off the loop)."""
        with self._lock:
            if self._child is None:
                self._child = self._spawn()

    def stop(self) -> None:
        """Let the child finish what it was sent, then end it (blocking)."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.close()
        self._sender.shutdown(wait=True)

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else int(child.process.pid)

    async def write(
        self, events: Sequence[PendingEvent], rejections: Sequence[dict[str, Any]]
    ) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        await loop.run_in_executor(self._sender, self._send, events, rejections, answer, loop)
        kind, value = pickle.loads(await answer)
        if kind == "ok":
            return [Outcome(Status(status), event_id, errors) for status, event_id, errors in value]
        if kind == "unavailable":
            raise StoreUnavailable(value)
        raise StoreProcessError(value)

    def _send(
        self,
        events: Sequence[PendingEvent],
        rejections: Sequence[dict[str, Any]],
        answer: asyncio.Future[bytes],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        params = self._insert.params
        wire: list[_Wire] = [
            (
                event.params or params(event.row),
                event.key_field,
                event.endpoint,
                event.position,
                event.row["received_at"],
            )
            for event in events
        ]
        request = pickle.dumps((wire, list(rejections)), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            child = self._child
            if child is None or child.gone:
                if child is not None:
                    log.error("the store process stopped; starting a new one")
                    child.close()
                try:
                    child = self._child = self._spawn()
                except StoreUnavailable as exc:
                    self._child = None
                    loop.call_soon_threadsafe(_settle, answer, exc)
                    return
            child.send(request, answer, loop)

    def _spawn(self) -> _Child:
        # A fresh interpreter that imports the store only (multiprocessing's spawn imported
        # the whole server again: 86 MB). Its settings go down the socket, not on its
        # command line, where the database password would show.
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-m", "croupier.ingest.store_process", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(ours.detach())
        try:
            conn.send_bytes(pickle.dumps(self._args))
            ready = conn.poll(_STARTUP_SECONDS) and conn.recv_bytes() == b"ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            conn.close()
            process.kill()
            process.wait()
            raise StoreUnavailable("the store process did not start")
        self.started += 1
        return _Child(process, conn)


class _Child:
    """One child process and its pipe; a reader thread hands its answers to the waiters."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.gone = False
        self._waiting: deque[tuple[asyncio.Future[bytes], asyncio.AbstractEventLoop]] = deque()
        self._reader = threading.Thread(target=self._read, name="croupier-store-read", daemon=True)
        self._reader.start()

    def send(
        self, request: bytes, answer: asyncio.Future[bytes], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._waiting.append((answer, loop))
        # If the child is gone, the reader fails every waiter, this one included.
        with contextlib.suppress(OSError):
            self.conn.send_bytes(request)

    def close(self) -> None:
        """Ask the child to stop after the groups it was sent, and wait for it."""
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        try:
            self.process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(_STOP_SECONDS)
        self.conn.close()

    def _read(self) -> None:
        while True:
            try:
                reply = self.conn.recv_bytes()
            except (EOFError, OSError):
                break
            answer, loop = self._waiting.popleft()
            loop.call_soon_threadsafe(_settle, answer, reply)
        # Whether the child committed the groups it held is unknown: their clients hear 503
        # and retry, and a retry of a landed commit is answered ``duplicate``.
        self.gone = True
        while self._waiting:
            answer, loop = self._waiting.popleft()
            error = StoreUnavailable("the store process stopped; retry")
            with contextlib.suppress(RuntimeError):  # a loop already closed
                loop.call_soon_threadsafe(_settle, answer, error)


def _settle(answer: asyncio.Future[bytes], result: bytes | Exception) -> None:
    if answer.done():
        return
    if isinstance(result, Exception):
        answer.set_exception(result)
    else:
        answer.set_result(result)


def _serve(fd: int) -> None:
    """The child: groups in, their outcomes (or the failure) out, until EOF."""
    conn = Connection(fd)
    database_url, sqlite_synchronous, log_level, max_group_events = pickle.loads(conn.recv_bytes())
    # Ctrl-C and SIGTERM reach the whole process group; the server decides when the writes
    # stop, by closing the pipe after its last group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from croupier.kit.db import create_db_engine
    from croupier.kit.observability import configure_logging

    configure_logging(log_level)
    engine = create_db_engine(database_url, sqlite_synchronous=sqlite_synchronous)
    store = EventStore(engine)
    columns = EVENT_INSERTS[engine.dialect.name].columns
    conn.send_bytes(b"ready")
    try:
        while True:
            groups = _receive(conn, max_group_events)
            if groups is None:
                return
            for reply in _write_groups(store, groups, columns):
                conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            if len(groups) and groups[-1] is _LAST:
                return
    finally:
        engine.dispose()


_LAST: Any = object()  # the server's last word, after the groups it sent


def _receive(conn: Connection, max_events: int) -> list[Any] | None:
    """The next group, and every group sent meanwhile (up to ``max_events``): the child
    commits them together, so the server can send each group as soon as it forms. None: the
    pipe is closed."""
    try:
        request = conn.recv_bytes()
    except (EOFError, OSError):
        return None
    if not request:
        return None
    groups = [pickle.loads(request)]
    events = len(groups[0][0])
    while events < max_events and conn.poll(0):
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            break
        if not request:
            groups.append(_LAST)
            break
        groups.append(pickle.loads(request))
        events += len(groups[-1][0])
    return groups


def _write_groups(
    store: EventStore, groups: list[Any], columns: list[str]
) -> list[tuple[str, Any]]:
    """One transaction for all the groups; one reply per group, in order. If the store
    refuses the whole (one group's data, most likely), each group is written alone, so
    only the one at fault fails."""
    groups = [group for group in groups if group is not _LAST]
    events = [_pending(wire, columns) for wire, _rejections in groups]
    try:
        outcomes = store.write(
            [event for group in events for event in group],
            [row for _wire, rejections in groups for row in rejections],
        )
    except StoreUnavailable as exc:
        return [("unavailable", str(exc))] * len(groups)
    except Exception as exc:
        if len(groups) == 1:
            log.exception("group write failed in the store process")
            return [("error", f"{type(exc).__name__}: {exc}")]
        log.warning("group write failed (%s); committing its groups one by one", exc)
        return [reply for group in groups for reply in _write_groups(store, [group], columns)]
    replies: list[tuple[str, Any]] = []
    start = 0
    for group in events:
        end = start + len(group)
        answers = [(o.status.value, o.event_id, o.errors) for o in outcomes[start:end]]
        replies.append(("ok", answers))
        start = end
    return replies


# The columns the store reads besides inserting them: the idempotency and settlement checks
# and a rejection's row (a whole row per event cost the child more than its insert).
_READ = (
    "operator_id", "format", "idempotency_key", "content_hash", "event_id", "kind",
    "transaction_id", "parent_transaction_id", "attributes", "api_key_id", "source", "raw",
)  # fmt: skip


def _pending(wire: list[_Wire], columns: list[str]) -> list[PendingEvent]:
    """The store's view of each event, rebuilt from its INSERT values."""
    read = [(name, columns.index(name)) for name in _READ]
    events = []
    for params, key_field, endpoint, position, received_at in wire:
        row = {name: params[index] for name, index in read}
        row["received_at"] = received_at  # for a rejection row; params hold the stored form
        if row["kind"] == Kind.BET and row["format"] == Format.DATAPULSE:
            # The double-settlement check reads a DataPulse bet's attributes.
            row["attributes"] = jsoncodec.decode_text(row["attributes"])
        events.append(PendingEvent(row, key_field, endpoint, position, params))
    return events


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
