"""An incremental build equals a full replay, table for table (DESIGN.md principle 3).

A seeded stream of about 1,500 valid events in all three formats is sent in shuffled
order, in many small commits, with the projector running between them in small
batches; then ``replay`` rebuilds everything from the log and every projection table
must hold exactly the same rows.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from event_stream import FT_PATHS, Item, StreamBuilder
from sqlalchemy.engine import Engine

from croupier.projections import registry
from factories import Tenant
from projection_support import projector, send, table_rows

pytestmark = pytest.mark.anyio


async def _send_shuffled(
    client: httpx.AsyncClient, tenant: Tenant, items: list[Item], rng: random.Random
) -> list[tuple[str, str, Any]]:
    """Group consecutive same-format events into small batches: one commit per request."""
    requests: list[tuple[str, str, Any]] = []
    index = 0
    while index < len(items):
        route = items[index].route
        if route in ("datapulse", "revvvs"):
            size = rng.randint(1, 12)
            group = [items[index]]
            while len(group) < size and index + len(group) < len(items):
                following = items[index + len(group)]
                if following.route != route:
                    break
                group.append(following)
            bodies = [item.body for item in group]
            if route == "datapulse":
                requests.append(("POST", "/v2/s2s/batch", bodies))
            else:
                requests.append(("POST", "/api/v1/events", {"events": bodies}))
            index += len(group)
        else:
            method, path = FT_PATHS[route]
            requests.append((method, path, items[index].body))
            index += 1
    return requests


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {
        table.name: table_rows(engine, table)
        for handler in registry.handlers()
        for table in handler.tables
    }


@pytest.mark.slow
async def test_incremental_build_equals_full_replay(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    rng = random.Random(20261121)
    items = StreamBuilder(7, brands=(tenant.brand_id, tenant.other_brand_id)).build(players=150)
    assert len(items) > 1000
    rng.shuffle(items)
    incremental = projector(engine, batch_size=37)
    for number, (method, path, body) in enumerate(await _send_shuffled(client, tenant, items, rng)):
        await send(client, tenant.key, path, body, method=method)
        if number % 5 == 0:
            incremental.run_once()  # one small batch: the projector trails the writers
    incremental.drain()
    built = _snapshot(engine)
    assert sum(len(rows) for rows in built.values()) > 500
    assert all(built[name] for name in ("players", "player_money", "player_flags"))

    replayed_events = projector(engine).replay()

    assert replayed_events == len(items)
    rebuilt = _snapshot(engine)
    for name, rows in built.items():
        assert rebuilt[name] == rows, f"table {name} differs after replay"


async def test_replay_of_one_operator_leaves_the_others(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    from factories import make_tenant

    other = make_tenant(engine, name="other")
    for owner in (tenant, other):
        body = {"client_user_id": "p1", "event_name": "deposit", "timestamp": 1790000000}
        body |= {"transaction_id": "t1", "amount": 25, "currency": "EUR"}
        await send(client, owner.key, "/v2/s2s/event", body)
    engine_projector = projector(engine)
    engine_projector.drain()
    before = _snapshot(engine)

    assert engine_projector.replay(tenant.operator_id) == 1

    assert _snapshot(engine) == before
