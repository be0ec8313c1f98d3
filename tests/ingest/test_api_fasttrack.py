"""Fast Track over HTTP: every endpoint with its method, casino rounds, rejections."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from helpers import count_rejected, headers, stored_events
from sqlalchemy.engine import Engine

from croupier.ingest.examples import FASTTRACK
from factories import Tenant

pytestmark = pytest.mark.anyio

ENDPOINTS = [
    ("POST", "/v1/integration/casino", "CASINO", "bet"),
    ("POST", "/v1/integration/bonus", "BONUS", "bonus"),
    ("POST", "/v1/integration/payment", "PAYMENT", "deposit"),
    ("POST", "/v2/integration/user", "USER_CREATE_V2", "registration"),
    ("PUT", "/v2/integration/user", "USER_UPDATE_V2", "player_update"),
    ("PUT", "/v2/integration/user/blocks", "USER_BLOCK_V2", "account_flag"),
    ("POST", "/v2/integration/login", "LOGIN_V2", "login"),
]


@pytest.mark.parametrize(("method", "path", "ft_type", "kind"), ENDPOINTS)
async def test_each_endpoint_accepts_its_event(
    client: httpx.AsyncClient,
    tenant: Tenant,
    engine: Engine,
    method: str,
    path: str,
    ft_type: str,
    kind: str,
) -> None:
    response = await client.request(
        method, path, json=FASTTRACK[ft_type], headers=headers(tenant.key)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    [event] = stored_events(engine)
    assert (event.kind, event.format, event.player_ref) == (kind, "fasttrack", "7865")


async def test_wrong_method_is_405(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v2/integration/user/blocks", json=FASTTRACK["USER_BLOCK_V2"], headers=headers(tenant.key)
    )
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def casino(**fields: object) -> dict[str, object]:
    return {**FASTTRACK["CASINO"], **fields}


async def test_a_round_bet_win_and_rollback(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    events = [
        casino(activity_id="a1", type="Bet", amount=5.0, wager_amount=5.0),
        casino(activity_id="a2", type="Win", amount=12.5, wager_amount=12.5, is_round_end=True),
        casino(
            activity_id="a2",
            type="Win",
            amount=12.5,
            wager_amount=12.5,
            is_round_end=True,
            status="Rollback",
        ),
    ]
    for event in events:
        response = await client.post(
            "/v1/integration/casino", json=event, headers=headers(tenant.key)
        )
        assert response.json()["status"] == "accepted", response.text
    bet, win, rollback = stored_events(engine)
    assert (bet.stake, bet.ggr_delta) == (Decimal("5.0"), Decimal("5.0"))
    assert (win.stake, win.ggr_delta) == (None, Decimal("-12.5"))
    assert (rollback.status, rollback.ggr_delta) == ("rollback", Decimal("12.5"))
    assert {bet.round_id, win.round_id, rollback.round_id} == {"12345"}


async def test_an_invalid_casino_event_is_a_400_with_every_error(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    event = casino(type="Jackpot", amount=10, wager_amount=4, bonus_wager_amount=5)
    del event["user_id"]
    response = await client.post("/v1/integration/casino", json=event, headers=headers(tenant.key))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_event"
    assert {(d["field"], d["code"]) for d in body["details"]} == {
        ("user_id", "missing"),
        ("type", "invalid_value"),
        ("amount", "amount_mismatch"),
    }
    assert stored_events(engine) == []
    assert count_rejected(engine) == 1


async def test_a_casino_loss_closes_the_round(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    event = casino(activity_id="l1", type="Loss", amount=0, wager_amount=0, is_round_end=True)
    response = await client.post("/v1/integration/casino", json=event, headers=headers(tenant.key))
    assert response.json()["status"] == "accepted"
    [loss] = stored_events(engine)
    assert (loss.kind, loss.ggr_delta, loss.attributes["type"]) == ("settlement", 0, "Loss")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/events", "GET, HEAD, POST"),
        ("GET", "/v2/integration/user", "POST, PUT"),
        ("PATCH", "/v2/s2s/batch", "POST"),
    ],
)
async def test_405_names_every_method_of_the_path(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path, headers=headers(tenant.key))
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json()["error"] == "method_not_allowed"
