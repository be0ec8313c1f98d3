"""GET /api/v1/players/{player_ref}/bonuses: keys, tenants, brands, filters, pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bonus_support import BONUS_PATH, CASINO_PATH, D, bonus_bet, bonuses_of, ft_bonus
from sqlalchemy.engine import Engine

from croupier.kit.db import write_session
from croupier.tenancy import service as tenancy
from factories import Tenant, make_tenant
from projection_support import ft_casino, project, send

pytestmark = pytest.mark.anyio

PATH = "/api/v1/players/p-1/bonuses"


def other_brand_key(engine: Engine, tenant: Tenant) -> str:
    """An ingest key whose default brand is the tenant's second brand."""
    with write_session(engine) as session, session.begin():
        operator = tenancy.get_operator(session, name="acme")
        brand = tenancy.resolve_brand(session, operator=operator, brand=tenant.other_brand_id)
        issued = tenancy.create_key(
            session, operator=operator, brand=brand, rate_limit="100000/minute"
        )
        return issued.secret


async def three_bonuses(client: httpx.AsyncClient, tenant: Tenant, engine: Engine) -> None:
    await send(client, tenant.key, BONUS_PATH, ft_bonus(user_bonus_id="B1"))
    await send(
        client,
        tenant.key,
        BONUS_PATH,
        ft_bonus(user_bonus_id="B2", status="Created", amount=D("5")),
    )
    await send(client, tenant.key, CASINO_PATH, bonus_bet("act-1", "2026-11-01T09:00:00Z"))
    await send(client, other_brand_key(engine, tenant), BONUS_PATH, ft_bonus(user_bonus_id="B3"))
    project(engine)


async def test_read_and_admin_keys_see_all_brands_ingest_keys_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await three_bonuses(client, tenant, engine)
    for key in (tenant.read_key, tenant.admin_key):
        bonuses = await bonuses_of(client, key)
        assert [(bonus["brand_id"], bonus["bonus_ref"]) for bonus in bonuses] == sorted(
            [
                (tenant.brand_id, "ABCD"),
                (tenant.brand_id, "B1"),
                (tenant.brand_id, "B2"),
                (tenant.other_brand_id, "B3"),
            ]
        )
    response = await client.get(PATH, headers={"X-API-Key": tenant.key})
    assert response.status_code == 403
    response = await client.get(PATH)
    assert response.status_code == 401


async def test_brand_status_and_flagged_filters(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await three_bonuses(client, tenant, engine)
    only_other = await bonuses_of(client, tenant.read_key, brand=tenant.other_brand_id)
    assert [bonus["bonus_ref"] for bonus in only_other] == ["B3"]
    unknown = await bonuses_of(client, tenant.read_key, status="unknown")
    assert [bonus["bonus_ref"] for bonus in unknown] == ["ABCD"]
    flagged = await bonuses_of(client, tenant.read_key, flagged="true")
    assert [bonus["bonus_ref"] for bonus in flagged] == ["ABCD"]
    assert flagged[0]["violations"]["casino_before_created"] is True
    clean = await bonuses_of(client, tenant.read_key, flagged="false", brand=tenant.brand_id)
    assert [bonus["bonus_ref"] for bonus in clean] == ["B1", "B2"]
    assert clean[1]["amount_awarded"] == "5"


async def test_pages_follow_the_cursor(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await three_bonuses(client, tenant, engine)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(PATH, params=params, headers={"X-API-Key": tenant.read_key})
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [bonus["bonus_ref"] for bonus in page["bonuses"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["ABCD", "B1", "B2", "B3"]
    assert len(seen) == 4


@pytest.mark.parametrize("params", [{"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 1001}])
async def test_bad_queries_are_400(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any]
) -> None:
    response = await client.get(PATH, params=params, headers={"X-API-Key": tenant.read_key})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_query"


async def test_another_operator_sees_nothing_of_this_player(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await three_bonuses(client, tenant, engine)
    rival = make_tenant(engine, name="rival")
    response = await client.get(PATH, headers={"X-API-Key": rival.read_key})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_a_known_player_without_bonuses_gets_an_empty_list(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    # A bet without user_bonus_id: the player exists, with no bonus.
    await send(client, tenant.key, CASINO_PATH, ft_casino())
    project(engine)
    assert await bonuses_of(client, tenant.read_key) == []
    nobody = await client.get(
        "/api/v1/players/nobody/bonuses", headers={"X-API-Key": tenant.read_key}
    )
    assert nobody.status_code == 404
    other = await client.get(
        "/api/v1/players/p-1/bonuses",
        params={"brand": tenant.other_brand_id},
        headers={"X-API-Key": tenant.read_key},
    )
    assert other.status_code == 404  # p-1 has no event under that brand


async def test_test_key_and_revvvs_bonus_events_make_no_lifecycle(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send(client, tenant.test_key, BONUS_PATH, ft_bonus(user_bonus_id="TEST"))
    revvvs = {
        "event_type": "bonus_awarded",
        "event_time": "2026-11-01T10:00:00Z",
        "brand_id": tenant.brand_id,
        "player_external_ref": "p-1",
        "idempotency_key": "bonus-awarded-1",
        "currency": "EUR",
        "amount": D("25"),
        "metadata": {"bonus_id": "R1", "bonus_type": "deposit_match"},
    }
    await send(client, tenant.key, "/api/v1/events", revvvs)
    project(engine)
    assert await bonuses_of(client, tenant.read_key) == []
