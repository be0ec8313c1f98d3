"""Bonus lifecycles from the log: 004's Scenario B, each sequence violation, any order."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from bonus_support import (
    BONUS_PATH,
    CASINO_PATH,
    D,
    bonus_bet,
    bonus_win,
    bonuses_of,
    ft_bonus,
)
from sqlalchemy.engine import Engine

from croupier.bonuses.models import Bonus, BonusEvent
from factories import Tenant
from projection_support import project, projector, send, table_rows

pytestmark = pytest.mark.anyio

Events = list[tuple[str, dict[str, Any]]]

# 004 Scenario B: Created first, then a whole casino round with the user_bonus_id,
# then a closing bonus event after the last casino event.
SCENARIO_B: Events = [
    (BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z")),
    (CASINO_PATH, bonus_bet("act-1", "2026-11-01T10:05:00Z", round_id="r-1")),
    (CASINO_PATH, bonus_win("act-2", "2026-11-01T10:06:00Z", round_id="r-1")),
    (
        BONUS_PATH,
        ft_bonus(
            status="Completed",
            timestamp="2026-11-01T11:00:00Z",
            bonus_turned_real=D("55.25"),
            required_wagering_amount=D("0"),
        ),
    ),
]

NO_VIOLATION = {
    "casino_before_created": False,
    "events_after_closure": False,
    "second_created": False,
}


async def build_incrementally(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, events: Events
) -> list[dict[str, Any]]:
    """Send the events one by one, projecting after each; the API's answer at the end."""
    for path, body in events:
        await send(client, tenant.key, path, body)
        project(engine)
    return await bonuses_of(client, tenant.read_key)


def assert_replay_equal(engine: Engine) -> None:
    tables = (Bonus.__table__, BonusEvent.__table__)
    incremental = [table_rows(engine, table) for table in tables]  # type: ignore[arg-type]
    projector(engine).replay()
    project(engine)
    assert [table_rows(engine, table) for table in tables] == incremental  # type: ignore[arg-type]


async def test_scenario_b_exact_figures(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    [bonus] = await build_incrementally(client, tenant, engine, SCENARIO_B)
    assert bonus["brand_id"] == tenant.brand_id
    assert bonus["bonus_ref"] == "ABCD"
    assert (bonus["bonus_id"], bonus["bonus_type"], bonus["product"]) == (
        "b-1",
        "FreeMoney",
        "Casino",
    )
    assert bonus["bonus_code"] == "WELCOME100"
    assert bonus["currency"] == "EUR"
    assert bonus["status"] == "completed"
    assert bonus["created_at"] == "2026-11-01T10:00:00+00:00"
    assert bonus["closed_at"] == "2026-11-01T11:00:00+00:00"
    assert bonus["closed_status"] == "completed"
    assert bonus["amount_awarded"] == "100.00"
    assert bonus["amount_turned_real"] == "55.25"
    assert bonus["amount_forfeited"] is None
    assert bonus["wagering"] == {
        # The Completed event sent required_wagering_amount 0: the latest value wins.
        "required": "0",
        "wagered": "20.00",
        "bonus_wagered": "20.00",
        "remaining": "0",
        "won": "35.50",
        "casino_events": 2,
        "first_casino_at": "2026-11-01T10:05:00+00:00",
        "last_casino_at": "2026-11-01T10:06:00+00:00",
    }
    assert bonus["violations"] == NO_VIOLATION
    assert [(step["status"], step["amount"]) for step in bonus["history"]] == [
        ("created", "100.00"),
        ("completed", "100.00"),
    ]
    assert bonus["history"][1]["bonus_turned_real"] == "55.25"
    assert_replay_equal(engine)


async def test_scenario_b_in_every_arrival_order_gives_the_same_result(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    reference = await build_incrementally(client, tenant, engine, SCENARIO_B)
    # The same events for another bonus, arriving closure first.
    shuffled: Events = []
    for path, body in reversed(SCENARIO_B):
        copy = {**body, "user_bonus_id": "EFGH"}
        if path == CASINO_PATH:
            copy.update(activity_id=f"x-{body['activity_id']}", round_id="r-2")
        shuffled.append((path, copy))
    got = await build_incrementally(client, tenant, engine, shuffled)
    by_ref = {bonus["bonus_ref"]: bonus for bonus in got}
    assert _without_identity(by_ref["EFGH"]) == _without_identity(reference[0])
    assert_replay_equal(engine)


def _without_identity(bonus: dict[str, Any]) -> dict[str, Any]:
    history = [{**step, "event_id": None, "seq": None} for step in bonus["history"]]
    return {**bonus, "bonus_ref": None, "history": history}


CASINO_BEFORE_CREATED: Events = [
    (CASINO_PATH, bonus_bet("act-1", "2026-11-01T09:59:00Z")),
    (BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z")),
    (CASINO_PATH, bonus_win("act-2", "2026-11-01T10:06:00Z")),
]


@pytest.mark.parametrize("order", ["as_sent", "reversed", "shuffled"])
async def test_casino_event_before_created_is_flagged(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, order: str
) -> None:
    [bonus] = await build_incrementally(
        client, tenant, engine, _arrange(CASINO_BEFORE_CREATED, order)
    )
    assert bonus["violations"] == {**NO_VIOLATION, "casino_before_created": True}
    assert bonus["status"] == "created"
    assert bonus["wagering"]["wagered"] == "20.00"
    assert bonus["wagering"]["first_casino_at"] == "2026-11-01T09:59:00+00:00"
    assert_replay_equal(engine)


async def test_casino_event_without_any_bonus_event_keeps_an_unknown_bonus(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    [bonus] = await build_incrementally(
        client, tenant, engine, [(CASINO_PATH, bonus_bet("act-1", "2026-11-01T10:05:00Z"))]
    )
    assert bonus["status"] == "unknown"
    assert bonus["created_at"] is None
    assert bonus["history"] == []
    assert bonus["wagering"]["wagered"] == "20.00"
    assert bonus["wagering"]["casino_events"] == 1
    assert bonus["violations"] == {**NO_VIOLATION, "casino_before_created": True}
    # Created arrives late, stamped before the bet: the sequence is now right.
    [bonus] = await build_incrementally(
        client, tenant, engine, [(BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z"))]
    )
    assert bonus["status"] == "created"
    assert bonus["violations"] == NO_VIOLATION
    assert_replay_equal(engine)


CASINO_AFTER_CLOSURE: Events = [
    (BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z")),
    (CASINO_PATH, bonus_bet("act-1", "2026-11-01T10:05:00Z")),
    (BONUS_PATH, ft_bonus(status="Forfeited", timestamp="2026-11-01T10:30:00Z")),
    (CASINO_PATH, bonus_bet("act-2", "2026-11-01T10:45:00Z", amount=D("5.50"))),
]


@pytest.mark.parametrize("order", ["as_sent", "reversed", "shuffled"])
async def test_casino_event_after_closure_is_flagged(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, order: str
) -> None:
    [bonus] = await build_incrementally(
        client, tenant, engine, _arrange(CASINO_AFTER_CLOSURE, order)
    )
    assert bonus["violations"] == {**NO_VIOLATION, "events_after_closure": True}
    assert (bonus["status"], bonus["closed_status"]) == ("forfeited", "forfeited")
    assert bonus["amount_forfeited"] == "100.00"
    assert bonus["amount_turned_real"] is None
    assert bonus["wagering"]["wagered"] == "25.50"
    assert bonus["wagering"]["casino_events"] == 2
    assert_replay_equal(engine)


BONUS_AFTER_CLOSURE: Events = [
    (BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z")),
    (BONUS_PATH, ft_bonus(status="Expired", timestamp="2026-11-02T10:00:00Z")),
    (BONUS_PATH, ft_bonus(status="Ongoing", timestamp="2026-11-02T11:00:00Z")),
]


@pytest.mark.parametrize("order", ["as_sent", "reversed", "shuffled"])
async def test_bonus_event_after_closure_is_flagged(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, order: str
) -> None:
    [bonus] = await build_incrementally(
        client, tenant, engine, _arrange(BONUS_AFTER_CLOSURE, order)
    )
    assert bonus["violations"] == {**NO_VIOLATION, "events_after_closure": True}
    # The earliest terminal status closed the bonus; the latest event is its status.
    assert (bonus["status"], bonus["closed_status"]) == ("ongoing", "expired")
    assert bonus["closed_at"] == "2026-11-02T10:00:00+00:00"
    assert bonus["amount_forfeited"] == "100.00"
    assert [step["status"] for step in bonus["history"]] == ["created", "expired", "ongoing"]
    assert_replay_equal(engine)


async def test_ongoing_events_during_wagering_are_no_violation(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    events: Events = [
        (BONUS_PATH, ft_bonus(status="Pending", timestamp="2026-11-01T09:00:00Z")),
        (BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z")),
        (CASINO_PATH, bonus_bet("act-1", "2026-11-01T10:05:00Z")),
        (BONUS_PATH, ft_bonus(status="Ongoing", timestamp="2026-11-01T10:06:00Z")),
        (CASINO_PATH, bonus_bet("act-2", "2026-11-01T10:10:00Z")),
    ]
    [bonus] = await build_incrementally(client, tenant, engine, _arrange(events, "reversed"))
    assert bonus["status"] == "ongoing"
    assert bonus["closed_at"] is None
    assert bonus["violations"] == NO_VIOLATION
    assert bonus["wagering"]["wagered"] == "40.00"
    assert bonus["wagering"]["remaining"] == "3460.00"
    assert_replay_equal(engine)


async def test_a_rolled_back_bet_is_taken_off_the_wagering(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    bet = bonus_bet("act-1", "2026-11-01T10:05:00Z")
    events: Events = [
        (BONUS_PATH, ft_bonus(timestamp="2026-11-01T10:00:00Z")),
        (CASINO_PATH, bet),
        (CASINO_PATH, bonus_bet("act-2", "2026-11-01T10:06:00Z", amount=D("7.25"))),
        (CASINO_PATH, {**bet, "status": "Rollback", "timestamp": "2026-11-01T10:07:00Z"}),
    ]
    [bonus] = await build_incrementally(client, tenant, engine, events)
    assert bonus["wagering"]["wagered"] == "7.25"
    assert bonus["wagering"]["bonus_wagered"] == "7.25"
    assert bonus["wagering"]["casino_events"] == 3
    assert_replay_equal(engine)


async def test_a_second_created_is_stored_and_flagged(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    # A Created with another timestamp is a second Created (a 004 sequence violation):
    # stored, flagged, and the first one's amount stays the awarded amount. The same
    # Created sent again is a retry: a duplicate.
    await send(client, tenant.key, BONUS_PATH, ft_bonus())
    again = await send(client, tenant.key, BONUS_PATH, ft_bonus())
    await send(
        client, tenant.key, BONUS_PATH, ft_bonus(timestamp="2026-11-01T12:00:00Z", amount=50)
    )
    project(engine)

    [bonus] = await bonuses_of(client, tenant.read_key)

    assert again["status"] == "duplicate"
    assert bonus["violations"]["second_created"] is True
    assert bonus["amount_awarded"] == "100.00"
    assert [entry["status"] for entry in bonus["history"]] == ["created", "created"]
    assert_replay_equal(engine)


def _arrange(events: Events, order: str) -> Events:
    if order == "reversed":
        return list(reversed(events))
    if order == "shuffled":
        arranged = list(events)
        random.Random(4).shuffle(arranged)
        return arranged
    return list(events)


async def test_batches_of_several_events_equal_a_replay(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    # Several bonuses' events in one batch, cut at arbitrary points, in shuffled order.
    events = [
        *SCENARIO_B,
        *[(path, {**body, "user_bonus_id": "WXYZ"}) for path, body in BONUS_AFTER_CLOSURE],
    ]
    random.Random(11).shuffle(events)
    for index, (path, body) in enumerate(events):
        await send(client, tenant.key, path, body)
        if index % 3 == 2:
            projector(engine, batch_size=2).run_until_caught_up()
    project(engine)
    by_ref = {bonus["bonus_ref"]: bonus for bonus in await bonuses_of(client, tenant.read_key)}
    assert by_ref["ABCD"]["violations"] == NO_VIOLATION
    assert by_ref["ABCD"]["wagering"]["wagered"] == "20.00"
    assert by_ref["ABCD"]["amount_turned_real"] == "55.25"
    assert by_ref["WXYZ"]["violations"] == {**NO_VIOLATION, "events_after_closure": True}
    assert_replay_equal(engine)
