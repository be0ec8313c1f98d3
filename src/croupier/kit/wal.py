"""SQLite: the write-ahead log copied back into the database file on a thread of its own.

By default the commit that takes the log past 1,000 pages copies them back itself (a
checkpoint: the copying and two fsyncs). That was the commit of whoever wrote: 10 µs of
the projector's ~80 an event at 4,000-event batches, and now and then an ingest commit,
while its clients waited. Here a thread of the process checkpoints in the background
(sqlite3 lets go of the GIL meanwhile, so it runs on the other core) shortly after commits,
and the writers' own checkpoint stays only as a backstop for a log that grew past
``BACKSTOP_PAGES`` regardless.

A checkpoint never blocks a writer or a reader: it copies what no reader still needs, and
the log restarts from its beginning once everything is copied. Checkpointers of several
processes take turns (one that finds another at work skips that round).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 10_000  # 40 MB of log at SQLite's 4 KiB pages
INTERVAL_SECONDS = 0.05
_STOP_SECONDS = 10.0


class WalCheckpointer:
    """``committed()`` after a write; the thread checkpoints at most every ``interval``
    seconds while there were writes. ``synchronous`` is the store's setting: a checkpoint
    syncs the log and the database file unless it is OFF."""

    def __init__(self, path: str, *, synchronous: str, interval: float = INTERVAL_SECONDS) -> None:
        self._path = path
        self._synchronous = synchronous
        self._interval = interval
        self._wrote = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="croupier-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def committed(self) -> None:
        self._wrote.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        self._wrote.set()
        self._thread.join(_STOP_SECONDS)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._wrote.wait()
                # One round for the commits of a burst (and time for the one that woke us
                # to land: its engine tells of it before, and again after).
                if self._stopping.wait(self._interval):
                    return
                self._wrote.clear()
                if connection is None:
                    connection = self._connect()
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.warning("background WAL checkpoint failed: %s", exc)
        finally:
            if connection is not None:
                connection.close()

    def _connect(self) -> sqlite3.Connection:
        # Opened after the first write: a connection that first saw the file before the
        # store's connection turned WAL on took it for a rollback-journal database, and
        # its checkpoints did nothing. timeout=0: a PASSIVE checkpoint never waits, and a
        # round that finds the database busy (another process's checkpoint, a schema
        # change) is skipped, not queued.
        connection = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        connection.execute(f"PRAGMA synchronous={self._synchronous}")
        return connection
