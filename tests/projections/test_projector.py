"""The projection engine: atomic batches, commit order on PostgreSQL, the ways it runs."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from conftest import app_client
from croupier.cli import cli
from croupier.dialects import datapulse
from croupier.events.models import Event
from croupier.ingest.service import event_row
from croupier.ingest.store import EVENT_INSERTS
from croupier.kit.db import create_db_engine, write_session
from croupier.players import projection as players
from croupier.players.models import Player
from croupier.projections.embedded import EmbeddedProjector
from croupier.projections.engine import (
    SQLITE_PAUSE_SECONDS,
    BatchResult,
    Context,
    EventRow,
    Projector,
    ProjectorThread,
)
from croupier.projections.models import Checkpoint
from croupier.settings import Settings
from factories import Tenant, make_tenant
from projection_support import D, project, send

FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def deposit(tenant: Tenant, player: str, transaction: str) -> dict[str, object]:
    """A stored-event row for a DataPulse deposit, as ingest would write it."""
    wire = {"client_user_id": player, "event_name": "deposit", "timestamp": 1790000000}
    wire |= {"transaction_id": transaction, "amount": D("15.50"), "currency": "EUR"}
    draft = datapulse.parse(wire, future_limit=FUTURE)
    assert not isinstance(draft, list)
    return event_row(draft, tenant.ingest_key(), source="http", received_at=datetime.now(UTC))


def insert_event(conn: object, row: dict[str, object]) -> None:
    encoder = EVENT_INSERTS[conn.dialect.name]  # type: ignore[attr-defined]
    conn.exec_driver_sql(encoder.sql(1), encoder.params(row))  # type: ignore[attr-defined]


def players_of(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(select(Player.player_ref)))


def checkpoint_events(engine: Engine) -> int:
    with Session(engine) as session:
        checkpoint = session.get(Checkpoint, "main")
        return 0 if checkpoint is None else checkpoint.events


class Exploding:
    tables: tuple[Table, ...] = ()

    def __init__(self) -> None:
        self.armed = True

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        if self.armed:
            raise RuntimeError("handler failed")


def test_a_failed_batch_applies_nothing_and_the_retry_applies_it_once(
    engine: Engine, tenant: Tenant
) -> None:
    with engine.begin() as conn:
        insert_event(conn, deposit(tenant, "alice", "t1"))
        insert_event(conn, deposit(tenant, "bob", "t2"))
    exploding = Exploding()
    projector = Projector(engine, [players.Handler(), exploding])

    # On PostgreSQL another session's open transaction may hide the rows for a moment.
    deadline = time.monotonic() + 10
    with pytest.raises(RuntimeError, match="handler failed"):  # noqa: PT012
        while time.monotonic() < deadline:
            projector.run_once()
    assert (players_of(engine), checkpoint_events(engine)) == ([], 0)

    exploding.armed = False
    assert projector.drain() == 2
    assert projector.drain() == 0
    assert (players_of(engine), checkpoint_events(engine)) == (["alice", "bob"], 2)
    with Session(engine) as session:
        assert session.scalars(select(Player.events)).all() == [1, 1]


def test_a_batch_limit_applies_that_many_events_and_says_more_remain(
    engine: Engine, tenant: Tenant
) -> None:
    with engine.begin() as conn:
        for number in range(5):
            insert_event(conn, deposit(tenant, f"p{number}", f"t{number}"))
    projector = Projector(engine, [players.Handler()], batch_size=4)

    first = projector.run_once(limit=2)
    second = projector.run_once()

    assert (first.applied, first.more) == (2, True)
    assert (second.applied, second.more) == (3, False)  # the rest, under the batch size
    assert checkpoint_events(engine) == 5
    assert players_of(engine) == [f"p{number}" for number in range(5)]


def _embedded(*, busy: bool, busy_batch: int | None = 20) -> EmbeddedProjector:
    async def run(batch: Callable[[], BatchResult]) -> BatchResult:
        return batch()

    return EmbeddedProjector(
        cast(Projector, SimpleNamespace(batch_size=50)),
        run_serialized=run,
        busy=lambda: busy,
        poll_seconds=1.0,
        busy_batch=busy_batch,
    )


def test_the_embedded_projector_takes_small_batches_while_requests_arrive() -> None:
    assert _embedded(busy=True).batch_limit() == 20  # a request waits for a commit
    assert _embedded(busy=False).batch_limit() is None  # at rest: the projector's own size
    recent = _embedded(busy=False)
    recent.notify()  # a commit just now: more requests are likely on their way
    assert recent.batch_limit() == 20
    assert _embedded(busy=True, busy_batch=None).batch_limit() is None
    assert _embedded(busy=True, busy_batch=80).batch_limit() == 50  # never over the usual


def test_the_embedded_projector_runs_its_batches_at_that_size() -> None:
    asked: list[int | None] = []

    def run_once(limit: int | None = None) -> BatchResult:
        asked.append(limit)
        return BatchResult(0, 0, None, more=False)

    async def run(batch: Callable[[], BatchResult]) -> BatchResult:
        return batch()

    embedded = EmbeddedProjector(
        cast(Projector, SimpleNamespace(batch_size=50, run_once=run_once)),
        run_serialized=run,
        busy=lambda: False,
        poll_seconds=1.0,
        busy_batch=20,
    )
    asyncio.run(embedded._catch_up())  # at rest
    embedded.notify()
    asyncio.run(embedded._catch_up())  # right after a commit

    assert asked == [None, 20]


class Clocked:
    """A handler that notes when each batch's transaction is under way."""

    tables: tuple[Table, ...] = ()

    def __init__(self) -> None:
        self.applied: list[float] = []

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        self.applied.append(time.monotonic())


def test_a_projector_thread_on_sqlite_lets_go_of_the_write_lock_between_batches(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Longer than a waiting writer naps (at most 1 ms): taking the lock straight back, a
    projector with a backlog kept ingest out until the whole backlog was projected."""
    path = tmp_path / "c.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    tenant = make_tenant(engine, name="acme")
    with write_session(engine) as session, session.begin():
        for number in range(6):
            insert_event(session.connection(), deposit(tenant, f"p{number}", f"t{number}"))
    clocked, committed = Clocked(), []
    projector = Projector(
        engine, [clocked], batch_size=2, observe=lambda *_: committed.append(time.monotonic())
    )
    thread = ProjectorThread(projector, poll_seconds=60)
    thread.start()
    thread.notify()
    try:
        deadline = time.monotonic() + 10
        while len(committed) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        thread.stop()
        engine.dispose()
    assert len(clocked.applied) == len(committed) == 3
    gaps = [begun - ended for ended, begun in zip(committed, clocked.applied[1:], strict=False)]
    assert min(gaps) >= SQLITE_PAUSE_SECONDS > 0.001


class Synchronous:
    """A handler that notes the SQLite durability level its batch's transaction runs at."""

    tables: tuple[Table, ...] = ()

    def __init__(self) -> None:
        self.levels: list[int] = []

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        self.levels.append(session.execute(text("PRAGMA synchronous")).scalar_one())


def test_projector_batches_on_sqlite_commit_without_waiting_for_the_disk(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Derived data (kit.db.derived_session): a crash can only undo whole batches, their
    checkpoint included, and the projector applies them again. Ingest stays durable."""
    path = tmp_path / "s.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")  # synchronous=FULL
    tenant = make_tenant(engine, name="acme")
    with write_session(engine) as session, session.begin():
        for number in range(4):
            insert_event(session.connection(), deposit(tenant, f"p{number}", f"t{number}"))
        assert session.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
    synchronous = Synchronous()
    assert Projector(engine, [synchronous], batch_size=2).drain() == 4
    assert synchronous.levels == [1, 1]  # NORMAL
    engine.dispose()


@pytest.mark.integration
def test_postgresql_never_skips_a_row_that_commits_late(pg_engine: Engine) -> None:
    # Only PostgreSQL has concurrent writers, whose commit order can differ from seq order.
    engine, tenant = pg_engine, make_tenant(pg_engine, name="acme")
    projector = Projector(engine, [players.Handler()])
    slow = engine.connect()
    slow_tx = slow.begin()
    insert_event(slow, deposit(tenant, "early-seq", "t1"))  # takes its seq, not committed
    with engine.begin() as conn:
        insert_event(conn, deposit(tenant, "late-seq", "t2"))  # higher seq, commits first

    projector.run_until_caught_up()
    # A seq checkpoint would now sit past the uncommitted row and skip it for ever.
    assert players_of(engine) == []
    slow_tx.commit()
    slow.close()

    assert projector.drain() == 2
    assert players_of(engine) == ["early-seq", "late-seq"]
    with Session(engine) as session:
        seqs = session.scalars(select(Event.seq).order_by(Event.seq)).all()
        assert len(seqs) == 2


@pytest.mark.anyio
async def test_the_embedded_projector_follows_commits_within_a_second(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    async with app_client(settings, engine, projector_in_process=True) as client:
        body = {"client_user_id": "alice", "event_name": "login", "timestamp": 1790000000}
        started = time.monotonic()
        await send(client, tenant.key, "/v2/s2s/event", body)
        while time.monotonic() - started < 5:
            response = await client.get(
                "/api/v1/players/alice", headers={"X-API-Key": tenant.read_key}
            )
            if response.status_code == 200:
                break
            await asyncio.sleep(0.02)
        lag = time.monotonic() - started
        metrics = (await client.get("/metrics")).text

    assert response.status_code == 200
    assert lag < 1.0
    assert "croupier_projection_events_total 1.0" in metrics
    assert "croupier_projection_lag_seconds 0.0" in metrics


@pytest.mark.anyio
async def test_replay_cli_rebuilds_from_the_log(
    client: httpx.AsyncClient,
    engine: Engine,
    tenant: Tenant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = {"client_user_id": "alice", "event_name": "login", "timestamp": 1790000000}
    await send(client, tenant.key, "/v2/s2s/event", body)
    project(engine)
    with write_session(engine) as session, session.begin():
        session.execute(Player.__table__.delete())
    monkeypatch.setenv("CROUPIER_DATABASE_URL", database_url)

    everything = CliRunner().invoke(cli, ["replay"])
    one = CliRunner().invoke(cli, ["replay", "--operator", "acme"])
    unknown = CliRunner().invoke(cli, ["replay", "--operator", "nobody"])

    assert (everything.exit_code, everything.output) == (0, "replayed 1 events\n")
    assert (one.exit_code, one.output) == (0, "replayed 1 events\n")
    assert unknown.exit_code == 1
    assert "no operator 'nobody'" in unknown.output
    assert players_of(engine) == ["alice"]


@pytest.mark.slow
def test_worker_process_projects_and_stops_cleanly(
    engine: Engine, tenant: Tenant, database_url: str
) -> None:
    with engine.begin() as conn:
        insert_event(conn, deposit(tenant, "alice", "t1"))
    command = Path(sys.executable).with_name("croupier")
    env = {**os.environ, "CROUPIER_DATABASE_URL": database_url}
    worker = subprocess.Popen(
        [str(command), "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while players_of(engine) != ["alice"] and time.monotonic() < deadline:
            time.sleep(0.05)
        with engine.begin() as conn:
            insert_event(conn, deposit(tenant, "bob", "t2"))
        while players_of(engine) != ["alice", "bob"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert players_of(engine) == ["alice", "bob"]
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=20)[0].decode()
    assert worker.returncode == 0, output
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Player)) == 2
