"""Schemathesis against Croupier's own OpenAPI document: every ingest operation, generated
requests (valid and invalid), no 5xx and no answer outside the documented schema."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from starlette.types import Receive, Scope, Send

from croupier.app import create_app
from croupier.ingest.examples import BRAND
from croupier.kit.db import create_db_engine, write_session
from croupier.settings import Settings
from croupier.tenancy import service as tenancy
from factories import Tenant, make_tenant

INGEST_TAGS = ["DataPulse", "Revvvs", "Fast Track"]


def fuzz_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_requests=False,
        bootstrap_demo=False,
        _env_file=None,
    )  # type: ignore[call-arg]


def openapi_document() -> dict[str, Any]:
    """The document the app serves at /openapi.json. Building it touches no store, so it can
    be made at collection time, which ``@schema.parametrize()`` needs.

    (``schemathesis.pytest.from_fixture`` would load it lazily from a fixture instead, but in
    schemathesis 4.32 it sets ``request.node._nodeid``, which pytest 9 no longer has.)
    """
    app = create_app(fuzz_settings("sqlite://"))
    document: dict[str, Any] = app.openapi()
    return document


class CurrentApp:
    """An ASGI app that hands everything (requests and lifespan) to the running test's app.

    The schema is loaded at collection time, but each test builds its own app on its own
    store; binding the schema to this stand-in lets schemathesis call the app itself, which
    its checks rely on (``ignored_auth`` re-sends requests through the schema's transport).
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app: use the `api_key` fixture"
        await self.app(scope, receive, send)


# positive_data_acceptance is switched off (reported, not hidden):
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # positive_data_acceptance expects a 2xx for any body valid under the document's
            # request schema. Croupier's document describes bodies only as "a JSON object"
            # (or an array of objects, for the DataPulse batch) and leaves each format's
            # fields to the dialects, so "{}" is schema-valid and rightly refused with a 400.
            # The check would test the document's looseness, not the service.
            "positive_data_acceptance": {"enabled": False},
        },
    }
)
CURRENT_APP = CurrentApp()
document_schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
document_schema.app = CURRENT_APP
schema = document_schema.include(tag=INGEST_TAGS)


@pytest.fixture
def api_key(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh app on a migrated SQLite store, made the current app; an ingest key for it.

    Schemathesis 4 starts the app's lifespan (the group-commit writer) when it first calls
    the app, on its own event-loop thread, and its pytest plugin ends it in the test's
    teardown hook, which runs before this fixture's teardown disposes of the engine.
    """
    path = tmp_path / "croupier.db"
    shutil.copy(sqlite_template, path)
    settings = fuzz_settings(f"sqlite:///{path}")
    engine = create_db_engine(settings.database_url)
    try:
        tenant = make_tenant(engine, name="fuzz")
        # The document's Revvvs examples name this brand; owning it lets them be accepted.
        with write_session(engine) as session, session.begin():
            operator = tenancy.get_operator(session, name="fuzz")
            tenancy.create_brand(session, operator=operator, name="example", brand_id=BRAND)
        CURRENT_APP.app = create_app(settings, engine=engine)
        yield tenant.key
    finally:
        CURRENT_APP.app = None
        engine.dispose()


@schema.parametrize()
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_ingest_operations_conform_to_the_openapi_document(
    case: schemathesis.Case[Any], api_key: str
) -> None:
    # The key goes in the header the document's "ApiKey" security scheme names; schemathesis
    # treats it as the explicit credential (its ignored_auth check then probes without it).
    case.call_and_validate(headers={"X-API-Key": api_key})


@pytest.mark.anyio
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_wrong_method_on_the_revvvs_path_allows_post(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.request("DELETE", "/api/v1/events", headers={"X-API-Key": tenant.key})
    assert response.status_code == 405
    # Found by schemathesis (ST205) and fixed: FastAPI answered "Allow: GET" alone.
    assert {method.strip() for method in response.headers["Allow"].split(",")} >= {"GET", "POST"}
