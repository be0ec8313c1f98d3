"""An incremental build, events arriving shuffled in small commits, equals a full replay."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from casino_support import DP_BATCH, FT_CASINO, REVVVS, dp, ft, revvvs
from sqlalchemy.engine import Engine

from croupier.casino.models import ROUNDS, SESSIONS
from factories import Tenant
from projection_support import D, projector, send, table_rows

pytestmark = pytest.mark.anyio


def mixed_events(brand: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for n in range(8):
        minute = n * 13  # some gaps under 30 minutes, some over when combined
        when = f"2026-11-01T{10 + minute // 60:02d}:{minute % 60:02d}:00"
        later = f"2026-11-01T{10 + minute // 60:02d}:{minute % 60:02d}:30"
        events.append((FT_CASINO, ft(f"a-{n}b", "Bet", f"{n + 1}.5", when, round_id=f"r-{n}")))
        if n % 3 != 2:
            events.append((FT_CASINO, ft(f"a-{n}w", "Win", f"{n}", later, round_id=f"r-{n}")))
    events.append(
        (
            FT_CASINO,
            ft("a-1w", "Win", "1", "2026-11-01T12:00:00", round_id="r-1", status="Rollback"),
        )
    )
    events.append((FT_CASINO, ft("x-1", "Bet", "4", "2026-11-01T23:59:00", user_id="p-2")))
    events.append((FT_CASINO, ft("x-2", "Loss", "0", "2026-11-02T00:01:00", user_id="p-2")))
    events.append(
        (
            DP_BATCH,
            [
                dp(
                    "bet",
                    "b-1",
                    "5",
                    "2026-11-01T15:00:00",
                    bet_result="loss",
                    bet_result_amount=D(-5),
                )
            ],
        )
    )
    events.append((DP_BATCH, [dp("bet", "b-2", "2", "2026-11-01T15:20:00")]))
    events.append(
        (DP_BATCH, [dp("win", "w-2", "7", "2026-11-01T15:40:00", parent_transaction_id="b-2")])
    )
    events.append((REVVVS, revvvs(brand, "rv-1", "wager_placed", "3", "2026-11-01T15:50:00")))
    events.append((REVVVS, revvvs(brand, "rv-2", "wager_settled", "-3", "2026-11-01T15:51:00")))
    return events


@pytest.mark.parametrize("seed", [1, 2])
async def test_shuffled_incremental_build_equals_replay(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, seed: int
) -> None:
    events = mixed_events(tenant.brand_id)
    random.Random(seed).shuffle(events)
    for index, (path, body) in enumerate(events):
        await send(client, tenant.key, path, body)
        if index % 3 == 2:
            projector(engine, batch_size=2).drain()
    projector(engine, batch_size=2).drain()
    tables = (ROUNDS, SESSIONS)
    incremental = {table.name: table_rows(engine, table) for table in tables}
    assert len(incremental["casino_rounds"]) == 11
    assert len(incremental["casino_sessions"]) >= 3

    projector(engine, batch_size=5).replay()
    assert {table.name: table_rows(engine, table) for table in tables} == incremental
    projector(engine).replay(tenant.operator_id)
    assert {table.name: table_rows(engine, table) for table in tables} == incremental
