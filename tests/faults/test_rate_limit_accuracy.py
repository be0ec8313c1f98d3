"""Rate limits hold exactly under concurrency: N per window, not N plus a race's worth."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from faults_support import assert_error_body, count_events, dp_event, headers
from sqlalchemy.engine import Engine

from conftest import app_client, require_server
from croupier.settings import Settings
from factories import Tenant, add_key

pytestmark = pytest.mark.anyio

LIMIT = 25
REQUESTS = 60


async def fire_at_once(client: httpx.AsyncClient, key: str) -> list[httpx.Response]:
    return await asyncio.gather(
        *(
            client.post("/v2/s2s/event", json=dp_event(f"rl-{n}"), headers=headers(key))
            for n in range(REQUESTS)
        )
    )


def assert_exactly_the_limit(responses: list[httpx.Response], engine: Engine) -> None:
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == LIMIT, sorted(statuses)
    assert statuses.count(429) == REQUESTS - LIMIT, sorted(statuses)
    for response in responses:
        assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
        if response.status_code == 429:
            assert_error_body(response)
            assert response.json()["error"] == "rate_limited"
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert response.headers["X-RateLimit-Remaining"] == "0"
    # The refused requests stored nothing: only the allowed ones are in the log.
    assert count_events(engine) == LIMIT
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.is_success)
    assert all(0 <= value < LIMIT for value in remaining), remaining


async def test_concurrent_requests_get_exactly_the_limit_in_memory(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    _key_id, key = add_key(engine, operator="acme", rate_limit=f"{LIMIT}/minute")
    async with app_client(settings, engine) as client:
        responses = await fire_at_once(client, key)
    assert_exactly_the_limit(responses, engine)


@pytest.mark.integration
async def test_concurrent_requests_get_exactly_the_limit_in_redis(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    require_server("127.0.0.1", 6379, "Redis")
    # add_key makes a new key id each run, and the limiter counts per key id, so reruns and
    # other tests sharing this Redis never see each other's hits.
    _key_id, key = add_key(engine, operator="acme", rate_limit=f"{LIMIT}/minute")
    async with app_client(settings, engine, rate_limit_storage="redis://127.0.0.1:6379/0") as c:
        responses = await fire_at_once(c, key)
    assert_exactly_the_limit(responses, engine)
