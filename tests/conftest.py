"""Shared fixtures: a migrated store per backend (SQLite file, real PostgreSQL), an app on it."""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from croupier.app import create_app
from croupier.kit import migrate
from croupier.kit.db import create_db_engine
from croupier.models import metadata
from croupier.settings import Settings
from factories import Tenant, make_tenant

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get(
    "CROUPIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def require_server(host: str, port: int, what: str) -> None:
    """In CI a missing server fails the test; elsewhere it skips it, saying why."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        message = f"{what} is not reachable at {host}:{port}"
        if IN_CI:
            pytest.fail(message + " (CI=true: real servers are mandatory)")
        pytest.skip(message)


def prepared_statements(engine: Engine) -> list[str]:
    """The statements the pooled PostgreSQL connection has prepared (psycopg prepares one
    from its sixth execution, and forgets them all when the connection rolls back)."""
    with engine.begin() as conn:
        found = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
        return list(found.scalars())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A private schema in the test database, migrated once for the session."""
    require_server("127.0.0.1", 5432, "PostgreSQL")
    schema = f"croupier_test_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    _drop_schema(admin, schema)
    admin.dispose()


def _drop_schema(admin: Engine, schema: str) -> None:
    # A background thread of the last test's server (an ANALYZE, a projector's read) may
    # still be at work in the schema: the DROP can deadlock with it and be the one
    # PostgreSQL cancels. The other finishes soon after; then the DROP goes through.
    for attempt in range(5):
        try:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.2)


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def pg_engine(pg_schema_url: str) -> Iterator[Engine]:
    """The local PostgreSQL alone, on empty tables."""
    engine = create_db_engine(pg_schema_url)
    _truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs on SQLite and on the local PostgreSQL, on empty tables."""
    if request.param == "sqlite":
        path = tmp_path / "croupier.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_schema_url")
    engine = create_db_engine(url)
    _truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_requests=False,
        key_cache_seconds=0,
        bootstrap_demo=False,
        # Tests run the projector themselves (tests/projections/support.py), deterministically.
        projector_in_process=False,
        # A child process per app costs ~0.4 s to start: the ingest tests write on a thread,
        # and tests/ingest/test_store_process.py runs them through the child (the default).
        writer_process=False,
        _env_file=None,
    )  # type: ignore[call-arg]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return make_tenant(engine, name="acme")


@pytest.fixture
async def client(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, engine) as http:
        yield http


class app_client:  # used like a function: ``async with app_client(...)``
    """An app on the given store with its lifespan (the writer) running, and a client for it."""

    def __init__(self, settings: Settings, engine: Engine, **overrides: Any) -> None:
        self.app = create_app(settings.model_copy(update=overrides), engine=engine)
        self._lifespan: Any = None
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://croupier.test")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        await self._client.aclose()
        await self._lifespan.__aexit__(*exc)
