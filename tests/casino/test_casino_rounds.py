"""Game rounds from the specs' scenarios: Fast Track (004), DataPulse patterns A and B (000)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from casino_support import DP_BATCH, REVVVS, at, dp, ft, revvvs, send_ft
from sqlalchemy.engine import Engine

from croupier.casino.models import ROUNDS
from factories import Tenant
from projection_support import D, get, project, send, table_rows

pytestmark = pytest.mark.anyio


def only_round(engine: Engine) -> dict[str, Any]:
    [game_round] = table_rows(engine, ROUNDS)
    return game_round


async def test_scenario_a_bet_then_win_with_the_same_round_id(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "10", "2026-11-01T10:00:00", round_id="12345"),
        ft(
            "a-2",
            "Win",
            "25",
            "2026-11-01T10:00:05",
            round_id="12345",
            wager_amount=D("20"),
            bonus_wager_amount=D("5"),
            locked_wager_amount=D("0"),
        ),
    )
    project(engine)

    game_round = only_round(engine)
    assert game_round["round_ref"] == "12345"
    assert (game_round["stake"], game_round["payout"], game_round["ggr"]) == (
        D("10"),
        D("25"),
        D("-15"),
    )
    parts = ("real_stake", "bonus_stake", "locked_stake", "real_payout", "bonus_payout")
    assert [game_round[name] for name in parts] == [D("10"), D("0"), D("0"), D("20"), D("5")]
    assert (game_round["bets"], game_round["settlements"], game_round["rollbacks"]) == (1, 1, 0)
    assert game_round["is_closed"] is True
    assert game_round["is_rolled_back"] is False
    assert (game_round["game_id"], game_round["game_name"], game_round["vendor"]) == (
        "g-1",
        "Starburst",
        "NetEnt",
    )
    assert (game_round["started_at"], game_round["ended_at"]) == (
        at("2026-11-01T10:00:00"),
        at("2026-11-01T10:00:05"),
    )

    body = await get(client, tenant.read_key, "/api/v1/rounds/12345")
    assert body["stake"] == "10"
    assert body["payout"] == "25"
    assert body["ggr"] == "-15"
    assert body["status"] == "closed"
    assert [(a["activity_id"], a["type"]) for a in body["activities"]] == [
        ("a-1", "Bet"),
        ("a-2", "Win"),
    ]


async def test_a_bet_alone_leaves_the_round_open(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(client, tenant.key, ft("a-1", "Bet", "2.50", "2026-11-01T10:00:00"))
    project(engine)
    game_round = only_round(engine)
    assert (game_round["stake"], game_round["payout"], game_round["ggr"]) == (
        D("2.50"),
        D("0"),
        D("2.50"),
    )
    assert game_round["is_closed"] is False


async def test_a_loss_closes_the_round(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "12.50", "2026-11-01T10:00:00"),
        ft("a-2", "Loss", "0", "2026-11-01T10:00:03"),
    )
    project(engine)
    game_round = only_round(engine)
    assert (game_round["stake"], game_round["payout"], game_round["ggr"]) == (
        D("12.50"),
        D("0"),
        D("12.50"),
    )
    assert (game_round["bets"], game_round["settlements"]) == (1, 1)
    assert game_round["is_closed"] is True


async def test_a_win_that_arrives_first_gives_the_same_round(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    win = ft("a-2", "Win", "25", "2026-11-01T10:00:05", game_name="Starburst XXL")
    await send_ft(client, tenant.key, win)
    project(engine)
    early = only_round(engine)
    assert (early["stake"], early["payout"], early["ggr"]) == (D("0"), D("25"), D("-25"))
    assert early["game_name"] == "Starburst XXL"

    await send_ft(client, tenant.key, ft("a-1", "Bet", "10", "2026-11-01T10:00:00"))
    project(engine)
    game_round = only_round(engine)
    assert (game_round["stake"], game_round["payout"], game_round["ggr"]) == (
        D("10"),
        D("25"),
        D("-15"),
    )
    assert game_round["started_at"] == at("2026-11-01T10:00:00")
    assert game_round["is_closed"] is True
    # Game fields come from the earliest event that has them, not from the first to arrive.
    assert game_round["game_name"] == "Starburst"


async def test_a_rollback_reverses_exactly_the_event_it_names_once(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    rollback = ft("a-2", "Win", "30", "2026-11-01T10:05:00", status="Rollback")
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "10", "2026-11-01T10:00:00"),
        ft("a-2", "Win", "25", "2026-11-01T10:00:05", is_round_end=True),
        rollback,
    )
    again = await send(client, tenant.key, "/v1/integration/casino", rollback)
    assert again["status"] == "duplicate"
    project(engine)

    game_round = only_round(engine)
    # The Win's 25 is reversed (not the rollback's own 30): nothing was paid out.
    assert (game_round["stake"], game_round["payout"], game_round["ggr"]) == (
        D("10"),
        D("0"),
        D("10"),
    )
    assert game_round["real_payout"] is None
    assert (game_round["bets"], game_round["settlements"], game_round["rollbacks"]) == (1, 1, 1)
    assert game_round["is_rolled_back"] is True
    # The reversed Win no longer closes the round.
    assert game_round["is_closed"] is False


async def test_a_rolled_back_bet_stakes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "10", "2026-11-01T10:00:00", status="Rollback"),  # before its bet
    )
    project(engine)
    assert only_round(engine)["stake"] == D("0")
    await send_ft(client, tenant.key, ft("a-1", "Bet", "10", "2026-11-01T09:59:00"))
    project(engine)
    game_round = only_round(engine)
    assert (game_round["stake"], game_round["ggr"], game_round["real_stake"]) == (
        D("0"),
        D("0"),
        None,
    )
    assert game_round["is_rolled_back"] is True


async def test_datapulse_pattern_a_bet_with_its_result(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    bet = dp("bet", "b-1", "5", "2026-11-01T10:00:00", bet_result="win", bet_result_amount=D("1.5"))
    await send(client, tenant.key, DP_BATCH, [bet])
    project(engine)
    game_round = only_round(engine)
    assert game_round["round_ref"] == "b-1"
    assert (game_round["stake"], game_round["payout"], game_round["ggr"]) == (
        D("5"),
        D("6.5"),
        D("-1.5"),
    )
    assert (game_round["bets"], game_round["settlements"]) == (1, 0)
    assert game_round["is_closed"] is True
    assert (game_round["game_type"], game_round["vendor"]) == ("slot", "GGP")
    assert game_round["real_stake"] is None


async def test_datapulse_pattern_b_bet_then_its_win_and_loss(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send(
        client,
        tenant.key,
        DP_BATCH,
        [
            dp("bet", "b-1", "5", "2026-11-01T10:00:00"),
            dp("bet", "b-2", "4", "2026-11-01T10:01:00"),
            # The loss of b-2 arrives before the win of b-1: each finds its own bet.
            dp("loss", "l-2", "-4", "2026-11-01T10:03:00", parent_transaction_id="b-2"),
        ],
    )
    project(engine)
    rounds = {row["round_ref"]: row for row in table_rows(engine, ROUNDS)}
    assert rounds["b-1"]["is_closed"] is False
    await send(
        client,
        tenant.key,
        DP_BATCH,
        [dp("win", "w-1", "3", "2026-11-01T10:02:00", parent_transaction_id="b-1")],
    )
    project(engine)

    rounds = {row["round_ref"]: row for row in table_rows(engine, ROUNDS)}
    assert (rounds["b-1"]["stake"], rounds["b-1"]["payout"], rounds["b-1"]["ggr"]) == (
        D("5"),
        D("8"),
        D("-3"),
    )
    assert (rounds["b-2"]["stake"], rounds["b-2"]["payout"], rounds["b-2"]["ggr"]) == (
        D("4"),
        D("0"),
        D("4"),
    )
    for game_round in rounds.values():
        assert (game_round["bets"], game_round["settlements"]) == (1, 1)
        assert game_round["is_closed"] is True
    assert rounds["b-1"]["ended_at"] == at("2026-11-01T10:02:00")


async def test_revvvs_wagers_make_no_round(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send(
        client,
        tenant.key,
        REVVVS,
        revvvs(tenant.brand_id, "w-1", "wager_placed", "5", "2026-11-01T10:00:00"),
    )
    project(engine)
    assert table_rows(engine, ROUNDS) == []


async def test_a_test_key_event_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(client, tenant.test_key, ft("a-1", "Bet", "10", "2026-11-01T10:00:00"))
    project(engine)
    assert table_rows(engine, ROUNDS) == []
    body = await get(client, tenant.read_key, "/api/v1/players/p-1/sessions")
    assert body == {"sessions": [], "next_cursor": None}
