"""API keys are looked up once per key at a time, however many requests wait for them, and a
known key's refresh keeps no request waiting."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from croupier.ingest.auth import SEND, KeyInfo, KeyRegistry
from croupier.kit.db import write_session
from croupier.kit.errors import ApiError, StoreUnavailable
from croupier.tenancy import service as tenancy
from factories import Tenant

pytestmark = pytest.mark.anyio


def _counting(registry: KeyRegistry, fail: list[Exception]) -> list[str]:
    """Count (and optionally fail) the registry's store lookups."""
    calls: list[str] = []
    load = registry._load

    def counted(secret: str) -> Any:
        calls.append(secret)
        if fail:
            raise fail.pop()
        return load(secret)

    registry._load = counted  # type: ignore[method-assign]
    return calls


async def test_concurrent_requests_share_one_lookup(engine: Engine, tenant: Tenant) -> None:
    registry = KeyRegistry(engine, cache_seconds=0.0)  # every entry expired at once
    calls = _counting(registry, [])
    keys = await asyncio.gather(*(registry.authenticate(tenant.key, SEND) for _ in range(50)))
    assert len(calls) == 1
    assert {key.key_id for key in keys} == {tenant.key_id}
    assert all(isinstance(key, KeyInfo) for key in keys)
    await registry.authenticate(tenant.key, SEND)  # expired again: looked up again
    assert len(calls) == 2


async def test_a_failed_lookup_fails_its_waiters_and_the_next_request_retries(
    engine: Engine, tenant: Tenant
) -> None:
    registry = KeyRegistry(engine, cache_seconds=60.0)
    calls = _counting(registry, [StoreUnavailable("the store is down")])
    results = await asyncio.gather(
        *(registry.authenticate(tenant.key, SEND) for _ in range(10)), return_exceptions=True
    )
    assert len(calls) == 1
    assert all(isinstance(result, StoreUnavailable) for result in results)
    key = await registry.authenticate(tenant.key, SEND)
    assert key.key_id == tenant.key_id
    assert len(calls) == 2


async def test_unknown_keys_are_looked_up_once_each(engine: Engine, tenant: Tenant) -> None:
    registry = KeyRegistry(engine, cache_seconds=60.0)
    calls = _counting(registry, [])
    secrets = ["crp_unknown_a", "crp_unknown_b", "crp_unknown_a", "crp_unknown_b"]
    results = await asyncio.gather(
        *(registry.authenticate(secret, SEND) for secret in secrets), return_exceptions=True
    )
    assert sorted(calls) == ["crp_unknown_a", "crp_unknown_b"]
    assert all(isinstance(r, ApiError) and r.code == "invalid_api_key" for r in results)


async def test_a_waiter_looks_again_when_the_leading_request_is_cancelled(
    engine: Engine, tenant: Tenant
) -> None:
    registry = KeyRegistry(engine, cache_seconds=60.0)
    calls: list[str] = []
    release, finished = threading.Event(), threading.Event()
    load = registry._load

    def slow_first(secret: str) -> Any:
        calls.append(secret)
        if len(calls) > 1:
            return load(secret)
        release.wait(5)  # the first lookup hangs until its request is gone
        try:
            return load(secret)
        finally:
            finished.set()

    registry._load = slow_first  # type: ignore[method-assign]
    leader = asyncio.create_task(registry.authenticate(tenant.key, SEND))
    await asyncio.sleep(0.05)  # the leader's lookup is under way
    waiter = asyncio.create_task(registry.authenticate(tenant.key, SEND))
    await asyncio.sleep(0.05)
    leader.cancel()  # e.g. its client went away
    key = await asyncio.wait_for(waiter, 5)
    release.set()
    assert await asyncio.to_thread(finished.wait, 5)  # the orphaned lookup's thread is done
    assert key.key_id == tenant.key_id
    assert len(calls) == 2  # the waiter started its own lookup instead of failing
    assert leader.cancelled()


async def test_a_known_key_past_its_time_is_answered_at_once_while_one_lookup_refreshes_it(
    engine: Engine, tenant: Tenant
) -> None:
    registry = KeyRegistry(engine, cache_seconds=0.2)
    calls: list[str] = []
    release = threading.Event()
    load = registry._load

    def held(secret: str) -> Any:
        calls.append(secret)
        if len(calls) > 1:  # the refresh waits until the test lets it go
            release.wait(5)
        return load(secret)

    registry._load = held  # type: ignore[method-assign]
    await registry.authenticate(tenant.key, SEND)
    await asyncio.sleep(0.25)  # past its time, within twice it
    answered = await asyncio.wait_for(
        asyncio.gather(*(registry.authenticate(tenant.key, SEND) for _ in range(20))), 1
    )
    assert {key.key_id for key in answered} == {tenant.key_id}  # none waited for the store
    await asyncio.sleep(0.05)
    assert len(calls) == 2  # one refresh for all of them
    release.set()
    await asyncio.sleep(0.1)
    await registry.authenticate(tenant.key, SEND)  # fresh again: no lookup
    assert len(calls) == 2


async def _revoked_after(
    engine: Engine, tenant: Tenant, *, cache_seconds: float, seconds: float
) -> KeyRegistry:
    """A registry that looked the tenant's key up, then the key revoked ``seconds`` ago."""
    registry = KeyRegistry(engine, cache_seconds=cache_seconds)
    await registry.authenticate(tenant.key, SEND)
    with write_session(engine) as session, session.begin():
        tenancy.revoke_key(session, key_id=tenant.key_id)
    await asyncio.sleep(seconds)
    return registry


async def test_a_revoked_key_fails_once_its_refresh_has_landed(
    engine: Engine, tenant: Tenant
) -> None:
    registry = await _revoked_after(engine, tenant, cache_seconds=0.2, seconds=0.25)
    await registry.authenticate(tenant.key, SEND)  # answered stale; starts the refresh
    outcomes: list[str] = []
    for _ in range(50):  # the refresh lands within moments
        await asyncio.sleep(0.02)
        try:
            await registry.authenticate(tenant.key, SEND)
        except ApiError as error:
            outcomes.append(error.code)
            break
        outcomes.append("ok")
    assert outcomes[-1] == "invalid_api_key", outcomes


async def test_a_key_past_twice_its_time_waits_for_its_lookup(
    engine: Engine, tenant: Tenant
) -> None:
    # No request meanwhile: too old to be answered stale.
    registry = await _revoked_after(engine, tenant, cache_seconds=0.1, seconds=0.25)
    with pytest.raises(ApiError) as refused:
        await registry.authenticate(tenant.key, SEND)
    assert refused.value.code == "invalid_api_key"


async def test_after_a_failed_refresh_requests_wait_for_their_own_lookup(
    engine: Engine, tenant: Tenant
) -> None:
    registry = KeyRegistry(engine, cache_seconds=0.2)
    fail: list[Exception] = []
    calls = _counting(registry, fail)
    await registry.authenticate(tenant.key, SEND)
    await asyncio.sleep(0.25)
    fail.append(StoreUnavailable("the store is down"))
    await registry.authenticate(tenant.key, SEND)  # answered stale; its refresh fails
    await asyncio.sleep(0.05)
    assert len(calls) == 2
    fail.append(StoreUnavailable("the store is still down"))
    with pytest.raises(StoreUnavailable):  # no longer answered stale
        await registry.authenticate(tenant.key, SEND)
    key = await registry.authenticate(tenant.key, SEND)  # the store is back
    assert key.key_id == tenant.key_id
    assert len(calls) == 4


async def test_warming_looks_up_a_key_nobody_holds(engine: Engine, tenant: Tenant) -> None:
    registry = KeyRegistry(engine, cache_seconds=60.0)
    calls = _counting(registry, [])
    registry.warm()
    await registry.settle()
    assert len(calls) == 1
    assert calls[0].startswith("crp_warm_")
    assert calls[0] != tenant.key


async def test_settle_waits_for_the_lookups_under_way(engine: Engine, tenant: Tenant) -> None:
    registry = KeyRegistry(engine, cache_seconds=60.0)
    release = threading.Event()
    finished: list[str] = []
    load = registry._load

    def held(secret: str) -> Any:
        release.wait(5)
        try:
            return load(secret)
        finally:
            finished.append(secret)

    registry._load = held  # type: ignore[method-assign]
    registry.warm()
    settling = asyncio.create_task(registry.settle())
    await asyncio.sleep(0.1)
    assert not settling.done()  # its thread still holds a pooled connection
    release.set()
    await asyncio.wait_for(settling, 5)
    assert len(finished) == 1
