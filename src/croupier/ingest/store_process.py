"""The event store's writes in a process of their own.

In one process, the event loop (HTTP, parsing, building rows) and the writer thread (binding
and inserting the rows) take turns on one GIL: under load each thread used about half a core
while the other waited for it. Here the event loop only pickles a group's INSERT values and
sends them over a socket; a child process runs ``EventStore.write`` with its own engine, on
the other core, and sends the outcomes back.

The child lives as long as the socket: it exits when the server says its last word or dies
(EOF). If the child dies, the groups it held are answered 503 (their clients retry, and the
idempotency check makes a retry ``duplicate`` if the commit had landed) and the next group
starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from croupier.events.model import Format, Kind
from croupier.ingest.outcome import Outcome, PendingEvent, Status
from croupier.ingest.store import EVENT_INSERTS, EventStore
from croupier.kit import jsoncodec
from croupier.kit.errors import StoreUnavailable

log = logging.getLogger(__name__)

# What crosses the socket for one event: the INSERT's values and what the store needs besides
# them to answer or reject it. Pickling whole rows cost 10 µs per event; this costs under 1.
_Wire = tuple[tuple[Any, ...], str, str, int | None, datetime]
_STARTUP_SECONDS = 60.0
_STOP_SECONDS = 30.0


class StoreProcessError(RuntimeError):
    """The child's store raised something other than an outage (its text is the message)."""


class StoreProcess:
    """``await send(events, rejections)`` like ``EventStore.write``, run by a child process.

    Each group is sent as soon as it is ready, while the child commits the ones before; the
    child commits together whatever reached it meanwhile, in the order sent, and answers a
    commit's groups in one message, in that order. ``on_commit(groups, events, seconds)``
    is told of each of its commits. The server's side is all on the event loop (no threads
    to hand the GIL to and fro on every group).
    """

    def __init__(
        self,
        database_url: str,
        *,
        sqlite_synchronous: str,
        log_level: str,
        max_group_events: int,
        on_commit: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self._args = (database_url, sqlite_synchronous, log_level, max_group_events)
        self._on_commit = on_commit
        self._insert = EVENT_INSERTS[
            "sqlite" if database_url.startswith("sqlite") else "postgresql"
        ]
        self._starting = asyncio.Lock()
        self._child: _Child | None = None
        self.started = 0  # children started so far (the first, then one per restart)

    async def start(self) -> None:
        """Start the child and wait until it is ready."""
        await self._ready_child()

    async def stop(self) -> None:
        """Let the child finish what it was sent, then end it."""
        child, self._child = self._child, None
        if child is not None:
            await child.close()

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else int(child.process.pid)

    def send(
        self,
        events: Sequence[PendingEvent],
        rejections: Sequence[dict[str, Any]],
        *,
        requests: int,
    ) -> Coroutine[Any, Any, list[Outcome]]:
        """Send a group of ``requests`` requests' events now, and return what awaits their
        outcomes. The group leaves before this returns, unless a child is being started:
        then it follows, in the order sent."""
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
        request = pickle.dumps((wire, list(rejections), requests), protocol=pickle.HIGHEST_PROTOCOL)
        event_ids = [event.row["event_id"] for event in events]
        child = self._child
        if child is None or child.gone or self._starting.locked():
            return self._send_when_ready(request, event_ids)
        return _outcomes(child.post(request), event_ids)

    async def _send_when_ready(self, request: bytes, event_ids: list[str]) -> list[Outcome]:
        child = await self._ready_child()
        return await _outcomes(child.post(request), event_ids)

    async def _ready_child(self) -> _Child:
        async with self._starting:
            child = self._child
            if child is not None and not child.gone:
                return child
            if child is not None:
                log.error("the store process stopped; starting a new one")
                await child.close()
            self._child = None
            process, sock = await asyncio.to_thread(self._spawn)
            reader, writer = await asyncio.open_unix_connection(sock=sock)
            self._child = _Child(process, reader, writer, self._on_commit)
            self.started += 1
            return self._child

    def _spawn(self) -> tuple[subprocess.Popen[bytes], socket.socket]:
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
        conn = Connection(os.dup(ours.fileno()))
        try:
            conn.send_bytes(pickle.dumps(self._args))
            ready = conn.poll(_STARTUP_SECONDS) and conn.recv_bytes() == b"ready"
        except (EOFError, OSError):
            ready = False
        finally:
            conn.close()
        if not ready:
            ours.close()
            process.kill()
            process.wait()
            raise StoreUnavailable("the store process did not start")
        return process, ours


# ("ok", outcomes) | ("accepted", None) | ("unavailable", text) | ("error", text). "accepted":
# every event of the group was, under the id it was sent with (the common case, answered
# without a tuple per event on either side).
_Reply = tuple[str, Any]


class _Child:
    """One child process and its socket. Messages are framed as multiprocessing's
    ``Connection`` frames them (a 4-byte big-endian length), which the child reads with."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_commit: Callable[[int, int, float], None] | None,
    ) -> None:
        self.process = process
        self.gone = False
        self._writer = writer
        self._on_commit = on_commit
        self._waiting: deque[asyncio.Future[_Reply]] = deque()
        self._reading = asyncio.create_task(self._read(reader), name="croupier-store-read")

    def post(self, request: bytes) -> asyncio.Future[_Reply]:
        """Write a group to the child now; the future holds its reply. Not drained: what
        the socket cannot take yet waits in the transport, bounded by the writer's limit
        on requests in flight."""
        answer: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        if self.gone:
            answer.set_exception(StoreUnavailable("the store process stopped; retry"))
            return answer
        # Not gone: the reader has yet to fail its waiters, so it will fail this one too if
        # the child dies.
        self._waiting.append(answer)
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._writer.write(_FRAME.pack(len(request)) + request)
        return answer

    async def close(self) -> None:
        """Ask the child to stop after the groups it was sent, and wait for it."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._writer.write(_FRAME.pack(0))
            await self._writer.drain()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), _STOP_SECONDS)
        except TimeoutError:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
        await self._reading
        self._writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
                replies, (groups, events, seconds) = pickle.loads(await reader.readexactly(size))
                for reply in replies:
                    answer = self._waiting.popleft()
                    if not answer.done():
                        answer.set_result(reply)
                if self._on_commit is not None:
                    self._on_commit(groups, events, seconds)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            # Whether the child committed the groups it held is unknown: their clients hear
            # 503 and retry, and a retry of a landed commit is answered ``duplicate``.
            self.gone = True
            while self._waiting:
                answer = self._waiting.popleft()
                if not answer.done():
                    answer.set_exception(StoreUnavailable("the store process stopped; retry"))


_FRAME = struct.Struct("!i")


async def _outcomes(answer: Awaitable[_Reply], event_ids: list[str]) -> list[Outcome]:
    kind, value = await answer
    if kind == "accepted":
        return [Outcome(Status.ACCEPTED, event_id) for event_id in event_ids]
    if kind == "ok":
        return [Outcome(Status(status), event_id, errors) for status, event_id, errors in value]
    if kind == "unavailable":
        raise StoreUnavailable(value)
    raise StoreProcessError(value)


def _serve(fd: int) -> None:
    """The child: groups in, their outcomes (or the failure) out, until EOF."""
    conn = Connection(fd)
    database_url, sqlite_synchronous, log_level, max_group_events = pickle.loads(conn.recv_bytes())
    # Ctrl-C and SIGTERM reach the whole process group; the server decides when the writes
    # stop, by its last word after its last group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from croupier.kit.db import create_db_engine
    from croupier.kit.observability import configure_logging

    configure_logging(log_level)
    # The engine is the store's alone: its few statements can all be planned generically.
    engine = create_db_engine(
        database_url,
        sqlite_synchronous=sqlite_synchronous,
        generic_plans=True,
        background_checkpoints=True,
    )
    store = EventStore(engine)
    columns = EVENT_INSERTS[engine.dialect.name].columns
    # The server's collector settings: each group unpickles thousands of short-lived
    # containers, which the default threshold made the collector walk the heap for.
    from croupier.serving import tune_runtime

    tune_runtime()
    conn.send_bytes(b"ready")
    try:
        while True:
            received = _receive(conn, max_group_events)
            if received is None:
                return
            groups, last = received
            started = time.perf_counter()
            replies = _write_groups(store, groups, columns)
            commit = (
                sum(requests for _wire, _rejections, requests in groups),
                sum(len(wire) for wire, _rejections, _requests in groups),
            )
            answer = (replies, (*commit, time.perf_counter() - started))
            try:
                conn.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:  # the server died after sending: nobody is left to answer
                return
            if last:
                return
    finally:
        engine.dispose()


def _receive(conn: Connection, max_events: int) -> tuple[list[Any], bool] | None:
    """The next group, and every group sent meanwhile (up to ``max_events``): the child
    commits them together, so the server can send each group as soon as it forms. With
    them, whether the server's last word came after them. None: the server said its last
    word, or is gone."""
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
            return groups, True
        groups.append(pickle.loads(request))
        events += len(groups[-1][0])
    return groups, False


def _write_groups(store: EventStore, groups: list[Any], columns: list[str]) -> list[_Reply]:
    """One transaction for all the groups; one reply per group, in order. If the store
    refuses the whole (one group's data, most likely), each group is written alone, so
    only the one at fault fails."""
    events = [_pending(wire, columns) for wire, _rejections, _requests in groups]
    try:
        outcomes = store.write(
            [event for group in events for event in group],
            [row for _wire, rejections, _requests in groups for row in rejections],
        )
    except StoreUnavailable as exc:
        return [("unavailable", str(exc))] * len(groups)
    except Exception as exc:
        if len(groups) == 1:
            log.exception("group write failed in the store process")
            return [("error", f"{type(exc).__name__}: {exc}")]
        log.warning("group write failed (%s); committing its groups one by one", exc)
        return [reply for group in groups for reply in _write_groups(store, [group], columns)]
    replies: list[_Reply] = []
    start = 0
    for group in events:
        end = start + len(group)
        answers = outcomes[start:end]
        if all(o.status is Status.ACCEPTED for o in answers):
            replies.append(("accepted", None))
        else:
            replies.append(("ok", [(o.status.value, o.event_id, o.errors) for o in answers]))
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
