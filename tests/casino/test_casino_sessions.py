"""Game sessions: the inactivity gap, midnight, late events that bridge or stay apart."""

from __future__ import annotations

import httpx
import pytest
from casino_support import DP_BATCH, REVVVS, at, dp, ft, revvvs, send_ft
from sqlalchemy import update
from sqlalchemy.engine import Engine

from croupier.casino.models import SESSIONS
from croupier.kit.db import write_session
from croupier.tenancy.models import Operator
from factories import Tenant
from projection_support import get, project, send, table_rows

pytestmark = pytest.mark.anyio


def spans(engine: Engine) -> list[tuple[str, str]]:
    rows = sorted(table_rows(engine, SESSIONS), key=lambda row: row["started_at"])
    return [
        (row["started_at"].strftime("%d %H:%M"), row["ended_at"].strftime("%d %H:%M"))
        for row in rows
    ]


async def test_a_session_across_midnight_with_its_figures(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "10", "2026-10-31T23:50:00", round_id="r-1"),
        ft("a-2", "Win", "4.50", "2026-10-31T23:50:10", round_id="r-1"),
        ft("a-3", "Bet", "2.25", "2026-11-01T00:15:00", round_id="r-2", game_id="g-2"),
        ft("a-4", "Loss", "0", "2026-11-01T00:15:05", round_id="r-2", game_id="g-2"),
    )
    # A Revvvs wager in the same stretch counts as activity (a round of its own), in USD.
    wager = revvvs(tenant.brand_id, "w-1", "wager_placed", "3", "2026-11-01T00:30:00")
    wager["currency"] = "USD"
    await send(client, tenant.key, REVVVS, wager)
    # Two hours later: a session of its own.
    await send(client, tenant.key, DP_BATCH, [dp("bet", "b-1", "1", "2026-11-01T02:31:00")])
    project(engine)

    assert spans(engine) == [("31 23:50", "01 00:30"), ("01 02:31", "01 02:31")]
    first, second = sorted(table_rows(engine, SESSIONS), key=lambda row: row["started_at"])
    assert first["duration_seconds"] == 40 * 60
    assert (first["events"], first["rounds"], first["games"]) == (5, 3, 3)
    assert first["turnover"] == {"EUR": "12.25", "USD": "3"}
    assert first["ggr"] == {"EUR": "7.75", "USD": "0"}
    assert (second["events"], second["rounds"], second["games"]) == (1, 1, 0)

    body = await get(client, tenant.read_key, "/api/v1/players/p-1/sessions")
    newest, oldest = body["sessions"]
    assert oldest["started_at"] == "2026-10-31T23:50:00+00:00"
    assert oldest["ended_at"] == "2026-11-01T00:30:00+00:00"
    assert oldest["turnover"] == {"EUR": "12.25", "USD": "3"}
    assert newest["started_at"] == "2026-11-01T02:31:00+00:00"


async def test_a_late_event_bridges_two_sessions(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "1", "2026-11-01T10:00:00", round_id="r-1"),
        ft("a-3", "Bet", "3", "2026-11-01T10:50:00", round_id="r-3"),
    )
    project(engine)
    assert spans(engine) == [("01 10:00", "01 10:00"), ("01 10:50", "01 10:50")]

    await send_ft(client, tenant.key, ft("a-2", "Bet", "2", "2026-11-01T10:25:00", round_id="r-2"))
    project(engine)
    assert spans(engine) == [("01 10:00", "01 10:50")]
    [merged] = table_rows(engine, SESSIONS)
    assert (merged["events"], merged["rounds"]) == (3, 3)
    assert merged["turnover"] == {"EUR": "6"}


async def test_a_late_event_between_sessions_stays_separate(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "1", "2026-11-01T10:00:00", round_id="r-1"),
        ft("a-3", "Bet", "3", "2026-11-01T12:00:00", round_id="r-3"),
    )
    project(engine)
    await send_ft(client, tenant.key, ft("a-2", "Bet", "2", "2026-11-01T11:00:00", round_id="r-2"))
    project(engine)
    assert spans(engine) == [
        ("01 10:00", "01 10:00"),
        ("01 11:00", "01 11:00"),
        ("01 12:00", "01 12:00"),
    ]


async def test_a_late_event_splits_nothing_but_extends_a_session(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await send_ft(client, tenant.key, ft("a-2", "Bet", "2", "2026-11-01T10:20:00"))
    project(engine)
    await send_ft(client, tenant.key, ft("a-1", "Bet", "1", "2026-11-01T10:00:00"))
    project(engine)
    assert spans(engine) == [("01 10:00", "01 10:20")]
    [session] = table_rows(engine, SESSIONS)
    assert (session["rounds"], session["turnover"]) == (1, {"EUR": "3"})


async def test_the_operator_gap_setting_decides(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    with write_session(engine) as session, session.begin():
        session.execute(
            update(Operator).where(Operator.id == tenant.operator_id).values(session_gap_minutes=60)
        )
    await send_ft(
        client,
        tenant.key,
        ft("a-1", "Bet", "1", "2026-11-01T10:00:00", round_id="r-1"),
        ft("a-2", "Bet", "1", "2026-11-01T10:50:00", round_id="r-2"),
    )
    project(engine)
    assert spans(engine) == [("01 10:00", "01 10:50")]
    [session] = table_rows(engine, SESSIONS)
    assert session["turnover"] == {"EUR": "2"}
    assert session["ended_at"] == at("2026-11-01T10:50:00")
