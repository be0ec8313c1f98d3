"""Helpers for the fault-tolerance tests: events, store queries, and real server processes.

This module lives next to the tests that use it (``tests/faults`` is put on ``sys.path`` by
pytest), and has a name of its own so it never shadows ``tests/ingest/helpers.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.kit.db import write_session
from croupier.tenancy import service as tenancy

# Every answer that means "not stored, try again later" must say when.
RETRYABLE = {"store_unavailable", "overloaded"}


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key, "Content-Type": "application/json"}


def dp_event(transaction_id: str, **fields: Any) -> dict[str, Any]:
    """A valid DataPulse deposit; its idempotency key is its ``transaction_id``."""
    event: dict[str, Any] = {
        "client_user_id": "player_1",
        "event_name": "deposit",
        "transaction_id": transaction_id,
        "timestamp": 1702963200,
        "amount": 50,
        "currency": "USD",
    }
    event.update(fields)
    return event


def dp_batch(prefix: str, size: int) -> list[dict[str, Any]]:
    return [dp_event(f"{prefix}-{index}") for index in range(size)]


def unlimited_key(engine: Engine, name: str) -> tuple[str, str]:
    """An operator with a brand and an ingest key without a rate limit: (secret, operator id)."""
    with write_session(engine) as session, session.begin():
        operator = tenancy.create_operator(session, name=name)
        brand = tenancy.create_brand(session, operator=operator, name=f"{name}-brand")
        issued = tenancy.create_key(
            session, operator=operator, brand=brand, rate_limit=tenancy.UNLIMITED
        )
        return issued.secret, operator.id


def stored_ids(engine: Engine, operator_id: str) -> dict[str, str]:
    """The operator's stored DataPulse events: transaction id -> event id."""
    with Session(engine) as session:
        rows = session.execute(
            select(Event.transaction_id, Event.event_id).where(Event.operator_id == operator_id)
        )
        return {str(transaction): event_id for transaction, event_id in rows}


def count_events(engine: Engine, operator_id: str | None = None) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(Event)
        if operator_id is not None:
            query = query.where(Event.operator_id == operator_id)
        return session.scalar(query) or 0


def keys_stored_twice(engine: Engine, operator_id: str) -> list[tuple[str, int]]:
    """Idempotency keys with more than one row (the unique index should make this empty)."""
    with Session(engine) as session:
        query = (
            select(Event.idempotency_key, func.count())
            .where(Event.operator_id == operator_id)
            .group_by(Event.format, Event.idempotency_key)
            .having(func.count() > 1)
        )
        return [(str(key), int(count)) for key, count in session.execute(query)]


def assert_retryable_503(response: httpx.Response) -> None:
    """A 503 must be one of the documented refusals and say when to come back."""
    assert response.status_code == 503, response.text
    assert response.json()["error"] in RETRYABLE, response.text
    assert int(response.headers["Retry-After"]) >= 1, response.headers


def assert_error_body(response: httpx.Response) -> None:
    """Every refusal answers in the error model: a JSON object with ``error`` and ``message``."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    assert isinstance(body.get("message"), str), body


def event_ids_by_transaction(
    events: Iterable[dict[str, Any]], results: Iterable[dict[str, Any]]
) -> dict[str, str]:
    """Pair each sent event's transaction id with the event id its answer named."""
    return {
        event["transaction_id"]: result["event_id"]
        for event, result in zip(events, results, strict=True)
    }


# --- a real server process -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """``croupier serve`` in its own process group on a loopback port, killable and restartable.

    Its stderr goes to a file (not a pipe nobody reads, which could fill and stall the server);
    ``log_tail`` puts the end of it into assertion messages.
    """

    def __init__(self, database_url: str, port: int, log_path: Path, *, workers: int = 1) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, client: httpx.AsyncClient, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "CROUPIER_DATABASE_URL": self.database_url,
            "CROUPIER_LOG_REQUESTS": "false",
            "CROUPIER_BOOTSTRAP_DEMO": "false",
            "CROUPIER_LOG_LEVEL": "WARNING",
        }
        croupier = Path(sys.executable).parent / "croupier"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(str(croupier), "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                    *("--workers", str(self.workers)),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=self.log_path.parent,  # away from any .env in the working tree
                start_new_session=True,  # its own process group, so killpg reaches only it
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited at start:\n{self.log_tail()}")
            try:
                ready = await client.get(f"{self.base_url}/readyz", timeout=1.0)
                if ready.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"the server was not ready in {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hooks, no flushing, like a power cut."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM), falling back to SIGKILL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])
