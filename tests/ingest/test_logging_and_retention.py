"""One structured log line per request (never the key); rejected events pruned by age."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from datetime import timedelta

import pytest
from helpers import count_rejected, dp_event, headers
from sqlalchemy import update
from sqlalchemy.engine import Engine

from conftest import app_client
from croupier.events.models import RejectedEvent
from croupier.ingest.store import EventStore
from croupier.kit.observability import JsonFormatter, configure_logging
from croupier.kit.timeparse import utcnow
from croupier.settings import Settings
from factories import Tenant

pytestmark = pytest.mark.anyio


async def test_one_json_line_per_request(
    settings: Settings, engine: Engine, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="croupier.request")
    async with app_client(settings, engine, log_requests=True) as client:
        await client.post(
            "/v2/s2s/batch",
            json=[dp_event(), dp_event(currency="NOPE")],
            headers=headers(tenant.key),
        )
    [record] = [r for r in caplog.records if r.name == "croupier.request"]
    line = json.loads(JsonFormatter().format(record))
    assert line["key_id"] == tenant.key_id
    assert line["format"] == "datapulse"
    assert line["endpoint"] == "datapulse.batch"
    assert (line["events"], line["accepted"], line["rejected"]) == (2, 1, 1)
    assert line["status"] == 200
    assert line["latency_ms"] >= 0
    assert tenant.key not in JsonFormatter().format(record)


async def test_a_single_event_s_line_counts_it(
    settings: Settings, engine: Engine, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="croupier.request")
    async with app_client(settings, engine, log_requests=True) as client:
        accepted = await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.key))
        refused = await client.post(
            "/v2/s2s/event", json=dp_event(currency="NOPE"), headers=headers(tenant.key)
        )
    assert (accepted.status_code, refused.status_code) == (200, 400)
    records = [record for record in caplog.records if record.name == "croupier.request"]
    lines = [json.loads(JsonFormatter().format(record)) for record in records]
    assert [(line["events"], line.get("accepted"), line.get("rejected")) for line in lines] == [
        (1, 1, None),
        (1, None, 1),
    ]


def test_the_log_follows_stderr_when_it_is_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test runner (or anything else) that replaces sys.stderr and closes the old one must
    # not leave the log writing to a closed file.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("info")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("croupier.test").warning("after the swap")
    [line] = second.getvalue().splitlines()
    assert json.loads(line)["message"] == "after the swap"


def _one_old_one_new_rejection(engine: Engine, tenant: Tenant) -> None:
    store = EventStore(engine)
    rejection = {
        "operator_id": tenant.operator_id,
        "api_key_id": tenant.key_id,
        "format": "datapulse",
        "source": "http",
        "endpoint": "datapulse.event",
        "position": None,
        "errors": [],
        "payload": "{}",
    }
    store.write([], [dict(rejection, received_at=utcnow()), dict(rejection, received_at=utcnow())])
    with engine.begin() as conn:
        conn.execute(
            update(RejectedEvent)
            .where(RejectedEvent.id == 1)
            .values(received_at=utcnow() - timedelta(days=30))
        )


def test_rejected_events_are_pruned_by_age(engine: Engine, tenant: Tenant) -> None:
    _one_old_one_new_rejection(engine, tenant)
    assert EventStore(engine).prune_rejected(older_than=timedelta(days=14)) == 1
    assert count_rejected(engine) == 1


@pytest.mark.anyio
async def test_the_server_prunes_on_start(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    _one_old_one_new_rejection(engine, tenant)
    async with app_client(settings, engine):
        for _ in range(200):
            if count_rejected(engine) == 1:
                break
            await asyncio.sleep(0.01)
    assert count_rejected(engine) == 1
