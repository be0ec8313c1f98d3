"""The casino read API: keys, tenants, pagination, brands, ambiguity."""

from __future__ import annotations

import httpx
import pytest
from casino_support import ft, send_ft
from sqlalchemy.engine import Engine

from factories import Tenant, make_tenant
from projection_support import get, project

pytestmark = pytest.mark.anyio


async def test_keys_and_tenants(client: httpx.AsyncClient, tenant: Tenant, engine: Engine) -> None:
    await send_ft(client, tenant.key, ft("a-1", "Bet", "10", "2026-11-01T10:00:00"))
    project(engine)
    other = make_tenant(engine, name="other")

    assert (await get(client, tenant.admin_key, "/api/v1/rounds/r-1"))["round_id"] == "r-1"
    for path in ("/api/v1/rounds/r-1", "/api/v1/players/p-1/rounds"):
        forbidden = await client.get(path, headers={"X-API-Key": tenant.key})
        assert forbidden.status_code == 403, path
    missing = await client.get("/api/v1/rounds/r-1", headers={"X-API-Key": other.read_key})
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert await get(client, other.read_key, "/api/v1/players/p-1/rounds") == {
        "rounds": [],
        "next_cursor": None,
    }
    unknown = await client.get("/api/v1/rounds/r-1", headers={"X-API-Key": "nope"})
    assert unknown.status_code == 401


async def test_rounds_page_newest_first_with_exact_amounts(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        *(
            ft(f"a-{n}", "Bet", f"{n}.10", f"2026-11-01T10:0{n}:00", round_id=f"r-{n}")
            for n in range(1, 6)
        ),
    )
    project(engine)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        body = await get(client, tenant.read_key, "/api/v1/players/p-1/rounds", **params)
        seen.extend((row["round_id"], row["stake"]) for row in body["rounds"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [(f"r-{n}", f"{n}.10") for n in range(5, 0, -1)]

    bad = await client.get(
        "/api/v1/players/p-1/rounds",
        params={"cursor": "garbage"},
        headers={"X-API-Key": tenant.read_key},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_query"
    too_many = await client.get(
        "/api/v1/players/p-1/sessions",
        params={"limit": 1001},
        headers={"X-API-Key": tenant.read_key},
    )
    assert too_many.status_code == 400


async def test_a_round_id_shared_by_two_players_needs_narrowing(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "1", "2026-11-01T10:00:00", user_id="p-1"),
        ft("a-2", "Bet", "2", "2026-11-01T10:00:00", user_id="p-2"),
    )
    project(engine)
    ambiguous = await client.get("/api/v1/rounds/r-1", headers={"X-API-Key": tenant.read_key})
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"] == "ambiguous_round"
    body = await get(client, tenant.read_key, "/api/v1/rounds/r-1", player_ref="p-2")
    assert (body["player_ref"], body["stake"]) == ("p-2", "2")
    narrowed = await get(
        client, tenant.read_key, "/api/v1/players/p-2/rounds", brand=tenant.brand_id
    )
    assert [row["round_id"] for row in narrowed["rounds"]] == ["r-1"]
    other_brand = await get(
        client, tenant.read_key, "/api/v1/players/p-2/rounds", brand=tenant.other_brand_id
    )
    assert other_brand["rounds"] == []
