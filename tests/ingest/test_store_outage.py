"""A store that goes away: 503 with Retry-After, never a 200, and recovery by itself."""

from __future__ import annotations

import asyncio

import pytest
from helpers import dp_event, headers, stored_events
from sqlalchemy.engine import make_url

from conftest import app_client
from croupier.kit.db import create_db_engine
from croupier.settings import Settings
from factories import make_tenant
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_postgres_outage_gives_503_then_recovers(pg_schema_url: str) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    url = proxy.url_for(pg_schema_url)
    direct = create_db_engine(pg_schema_url)
    via_proxy = create_db_engine(url)
    tenant = make_tenant(direct, name="outage")
    settings = Settings(
        database_url=url,
        log_requests=False,
        key_cache_seconds=60,
        store_retry_after_seconds=7,
        _env_file=None,
    )  # type: ignore[call-arg]
    try:
        async with app_client(settings, via_proxy) as client:
            ok = await client.post(
                "/v2/s2s/event", json=dp_event(transaction_id="before"), headers=headers(tenant.key)
            )
            assert ok.status_code == 200

            await proxy.cut()
            down = await client.post(
                "/v2/s2s/batch",
                json=[dp_event(transaction_id="during")],
                headers=headers(tenant.key),
            )
            assert down.status_code == 503, down.text
            assert down.json()["error"] == "store_unavailable"
            assert down.headers["Retry-After"] == "7"
            ready = await client.get("/readyz")
            assert ready.status_code == 503

            await proxy.start()
            recovered = None
            for _ in range(20):
                recovered = await client.post(
                    "/v2/s2s/event",
                    json=dp_event(transaction_id="during"),
                    headers=headers(tenant.key),
                )
                if recovered.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert recovered is not None
            assert recovered.status_code == 200
            assert recovered.json()["status"] == "accepted"  # nothing was half-written
    finally:
        await proxy.cut()
        via_proxy.dispose()
    transactions = [e.transaction_id for e in stored_events(direct, operator_id=tenant.operator_id)]
    direct.dispose()
    assert transactions == ["before", "during"]


async def test_unreachable_store_at_authentication_is_503(pg_schema_url: str) -> None:
    url = make_url(pg_schema_url).set(port=1).render_as_string(hide_password=False)
    settings = Settings(database_url=url, log_requests=False, _env_file=None)  # type: ignore[call-arg]
    engine = create_db_engine(url)
    try:
        async with app_client(settings, engine) as client:
            response = await client.post(
                "/v2/s2s/event", json=dp_event(), headers=headers("crp_anything")
            )
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert "Retry-After" in response.headers
