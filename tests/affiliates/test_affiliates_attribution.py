"""Attribution: each rule and their precedence, the window, freeze, overrides, isolation,
and replay equal to an incremental build (audit log included)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from attribution_support import (
    AGENT,
    IP,
    REGISTERED,
    dp,
    make_affiliate,
    make_click,
    make_promo_code,
    revvvs,
    set_operator,
)
from sqlalchemy.engine import Engine

from croupier.affiliates.attribution import ATTRIBUTIONS, CHANGES
from croupier.affiliates.attribution_rules import ClickSeen, pick_last_click, promo_codes_of
from croupier.ingest.examples import FASTTRACK
from factories import Tenant, make_tenant
from projection_support import get, project, projector, send, table_rows

pytestmark = pytest.mark.anyio
DP = "/v2/s2s/event"
REVVVS = "/api/v1/events"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


async def attribution(client: httpx.AsyncClient, tenant: Tenant, player: str) -> dict[str, Any]:
    body = await get(client, tenant.read_key, f"/api/v1/players/{player}/attribution")
    assert body["player_ref"] == player
    assert len(body["attributions"]) == 1
    found: dict[str, Any] = body["attributions"][0]
    return found


def click(engine: Engine, tenant: Tenant, affiliate: str, at: datetime, **fields: Any) -> str:
    return make_click(
        engine,
        operator_id=tenant.operator_id,
        brand_id=tenant.brand_id,
        affiliate_id=affiliate,
        clicked_at=at,
        **fields,
    )


async def test_click_id_beats_promo_code_and_last_click(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    by_click = make_affiliate(engine, operator_id=tenant.operator_id, name="clicker")
    by_promo = make_affiliate(engine, operator_id=tenant.operator_id, name="promoter")
    by_ip = make_affiliate(engine, operator_id=tenant.operator_id, name="ip")
    make_promo_code(engine, operator_id=tenant.operator_id, affiliate_id=by_promo, code="WELCOME")
    ours = click(engine, tenant, by_click, REGISTERED - 2 * DAY, ip_address="198.51.100.1")
    click(engine, tenant, by_ip, REGISTERED - DAY)
    register = dp(
        "register",
        "p-1",
        REGISTERED,
        click_id=ours,
        promo_code="welcome",
        ip_address=IP,
        user_agent=AGENT,
    )
    await send(client, tenant.key, DP, register)
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert found["affiliate_id"] == by_click
    assert found["reason"] == "click_id"
    assert found["click_id"] == ours
    assert found["external_click_id"] is None
    assert found["frozen"] is False
    inputs = found["inputs"]
    assert inputs["click_ids"] == [{"click_id": ours, "ours": True, "at": REGISTERED.isoformat()}]
    assert inputs["promo_codes"][0]["code"] == "WELCOME"
    assert inputs["ip_address"] == IP
    assert inputs["last_click"]["same_user_agent"] is True
    # One event brought every signal: one decision, not a climb through the ranks.
    assert [(h["reason"], h["affiliate_id"]) for h in found["history"]] == [("click_id", by_click)]


async def test_promo_code_beats_last_click_then_last_click_then_organic(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    by_promo = make_affiliate(engine, operator_id=tenant.operator_id, name="promoter")
    by_ip = make_affiliate(engine, operator_id=tenant.operator_id, name="ip")
    make_promo_code(engine, operator_id=tenant.operator_id, affiliate_id=by_promo, code="SPIN50")
    click(engine, tenant, by_ip, REGISTERED - DAY)
    signals = {"ip_address": IP, "user_agent": AGENT}
    await send(client, tenant.key, DP, dp("register", "p-promo", REGISTERED, promo_code="Spin50"))
    await send(client, tenant.key, DP, dp("register", "p-ip", REGISTERED, **signals))
    await send(client, tenant.key, DP, dp("register", "p-none", REGISTERED))
    project(engine)

    promo = await attribution(client, tenant, "p-promo")
    assert (promo["reason"], promo["affiliate_id"], promo["promo_code"]) == (
        "promo_code",
        by_promo,
        "SPIN50",
    )
    last = await attribution(client, tenant, "p-ip")
    assert (last["reason"], last["affiliate_id"]) == ("last_click", by_ip)
    organic = await attribution(client, tenant, "p-none")
    assert (organic["reason"], organic["affiliate_id"]) == ("organic", None)
    assert organic["history"][0]["changed_by"] == "system"


async def test_promo_codes_of_revvvs_and_fast_track(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate = make_affiliate(engine, operator_id=tenant.operator_id, name="promoter")
    make_promo_code(engine, operator_id=tenant.operator_id, affiliate_id=affiliate, code="RV10")
    make_promo_code(engine, operator_id=tenant.operator_id, affiliate_id=affiliate, code="FT10")
    brand = tenant.brand_id
    await send(client, tenant.key, REVVVS, revvvs("registration", "rv-1", REGISTERED, brand))
    ftd = revvvs("first_deposit", "rv-1", REGISTERED + DAY, brand, metadata={"bonus_code": "rv10"})
    await send(client, tenant.key, REVVVS, ftd)
    user = {**FASTTRACK["USER_CREATE_V2"], "user_id": "ft-1", "timestamp": "2026-10-01T12:00:00Z"}
    await send(client, tenant.key, "/v2/integration/user", user)
    payment = {
        **FASTTRACK["PAYMENT"],
        "user_id": "ft-1",
        "timestamp": "2026-10-02T12:00:00Z",
        "bonus_code": "FT10",
    }
    await send(client, tenant.key, "/v1/integration/payment", payment)
    project(engine)

    for player, code in (("rv-1", "RV10"), ("ft-1", "FT10")):
        found = await attribution(client, tenant, player)
        assert (found["reason"], found["affiliate_id"], found["promo_code"]) == (
            "promo_code",
            affiliate,
            code,
        )
        # The promo code came with the first deposit itself: it still counts, then freezes.
        assert found["frozen"] is True
        assert [h["reason"] for h in found["history"]] == ["organic", "promo_code"]


@pytest.mark.parametrize(("days_before", "reason"), [(29, "last_click"), (31, "organic")])
async def test_last_click_window_edge(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant, days_before: int, reason: str
) -> None:
    affiliate = make_affiliate(engine, operator_id=tenant.operator_id, name="ip")
    click(engine, tenant, affiliate, REGISTERED - timedelta(days=days_before))
    await send(client, tenant.key, DP, dp("register", "p-1", REGISTERED, ip_address=IP))
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert found["reason"] == reason
    assert found["inputs"]["window_days"] == 30


async def test_last_click_prefers_same_user_agent_and_ignores_bots_and_later_clicks(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    same_agent = make_affiliate(engine, operator_id=tenant.operator_id, name="same")
    other_agent = make_affiliate(engine, operator_id=tenant.operator_id, name="other")
    bot = make_affiliate(engine, operator_id=tenant.operator_id, name="bot")
    chosen = click(engine, tenant, same_agent, REGISTERED - 3 * DAY)
    click(engine, tenant, other_agent, REGISTERED - DAY, user_agent="curl-ish/1.0 Safari")
    click(engine, tenant, bot, REGISTERED - timedelta(hours=1), user_agent=AGENT, is_bot=True)
    click(engine, tenant, other_agent, REGISTERED + timedelta(hours=1))  # after registration
    register = dp("register", "p-1", REGISTERED, ip_address=IP, user_agent=AGENT)
    await send(client, tenant.key, DP, register)
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert (found["reason"], found["affiliate_id"], found["click_id"]) == (
        "last_click",
        same_agent,
        chosen,
    )


async def test_shorter_operator_window_applies(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    set_operator(engine, tenant.operator_id, attribution_window_days=7)
    affiliate = make_affiliate(engine, operator_id=tenant.operator_id, name="ip")
    click(engine, tenant, affiliate, REGISTERED - 8 * DAY)
    await send(client, tenant.key, DP, dp("register", "p-1", REGISTERED, ip_address=IP))
    project(engine)

    assert (await attribution(client, tenant, "p-1"))["reason"] == "organic"


async def test_external_click_id_is_kept(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    register = dp("register", "p-1", REGISTERED, click_id="gclid-abc-123")
    await send(client, tenant.key, DP, register)
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert (found["reason"], found["affiliate_id"]) == ("organic", None)
    assert found["external_click_id"] == "gclid-abc-123"
    assert found["inputs"]["click_ids"][0]["ours"] is False


async def test_first_event_of_an_unregistered_player_decides(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate = make_affiliate(engine, operator_id=tenant.operator_id, name="clicker")
    ours = click(engine, tenant, affiliate, REGISTERED - DAY)
    await send(client, tenant.key, DP, dp("login", "p-1", REGISTERED, click_id=ours))
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert (found["reason"], found["affiliate_id"]) == ("click_id", affiliate)
    assert found["inputs"]["registration"] is False
    assert found["registered_at"] == "2026-10-01T12:00:00Z"


async def test_unregistered_players_projected_together_each_anchor_on_their_own_first_event(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # A bet carries no signal, so only the first-event lookup finds it: one lookup for all
    # the batch's unregistered players must still give each player their own.
    affiliate = make_affiliate(engine, operator_id=tenant.operator_id, name="clicker")
    ours = click(engine, tenant, affiliate, REGISTERED - DAY)
    players = [f"p-{number}" for number in range(5)]
    for number, player in enumerate(players):
        first = REGISTERED + number * HOUR
        await send(client, tenant.key, DP, dp("bet", player, first))
        await send(client, tenant.key, DP, dp("login", player, first + HOUR, click_id=ours))
    project(engine)

    for number, player in enumerate(players):
        found = await attribution(client, tenant, player)
        assert (found["reason"], found["affiliate_id"]) == ("click_id", affiliate)
        assert found["inputs"]["registration"] is False
        assert found["registered_at"] == f"2026-10-01T{12 + number}:00:00Z"


async def test_better_signal_replaces_until_first_deposit_then_frozen(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    by_promo = make_affiliate(engine, operator_id=tenant.operator_id, name="promoter")
    by_click = make_affiliate(engine, operator_id=tenant.operator_id, name="clicker")
    make_promo_code(engine, operator_id=tenant.operator_id, affiliate_id=by_promo, code="LATE")
    late_click = click(engine, tenant, by_click, REGISTERED)
    await send(client, tenant.key, DP, dp("register", "p-1", REGISTERED))
    project(engine)
    assert (await attribution(client, tenant, "p-1"))["reason"] == "organic"

    await send(
        client, tenant.key, DP, dp("bonus_claim", "p-1", REGISTERED + DAY, promo_code="LATE")
    )
    await send(client, tenant.key, DP, dp("deposit", "p-1", REGISTERED + 2 * DAY))
    await send(
        client, tenant.key, DP, dp("login", "p-1", REGISTERED + 3 * DAY, click_id=late_click)
    )
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert (found["reason"], found["affiliate_id"]) == ("promo_code", by_promo)
    assert found["frozen"] is True
    assert found["frozen_at"] == "2026-10-03T12:00:00Z"
    assert [(h["previous_affiliate_id"], h["affiliate_id"]) for h in found["history"]] == [
        (None, None),
        (None, by_promo),
    ]
    assert found["history"][1]["changed_at"] == "2026-10-02T12:00:00Z"
    # The click after the first deposit is seen, but does not count.
    assert found["inputs"]["click_ids"] == []

    # An operator that does not freeze takes the better signal whenever it comes.
    set_operator(engine, tenant.operator_id, attribution_freeze_at_first_deposit=False)
    projector(engine).replay()
    unfrozen = await attribution(client, tenant, "p-1")
    assert (unfrozen["reason"], unfrozen["affiliate_id"], unfrozen["frozen"]) == (
        "click_id",
        by_click,
        False,
    )
    assert [h["reason"] for h in unfrozen["history"]] == ["organic", "promo_code", "click_id"]


async def test_manual_reassignment_is_audited_and_survives_replay(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    first = make_affiliate(engine, operator_id=tenant.operator_id, name="first")
    second = make_affiliate(engine, operator_id=tenant.operator_id, name="second")
    ours = click(engine, tenant, first, REGISTERED - DAY)
    await send(client, tenant.key, DP, dp("register", "p-1", REGISTERED, click_id=ours))
    await send(client, tenant.key, DP, dp("deposit", "p-1", REGISTERED + DAY))
    project(engine)
    path = "/api/v1/players/p-1/attribution"
    admin = {"X-API-Key": tenant.admin_key}

    missing = await client.post(path, json={"affiliate_id": second}, headers=admin)
    assert missing.status_code == 400
    assert missing.json()["details"][0]["field"] == "reason"
    blank = await client.post(path, json={"affiliate_id": second, "reason": " "}, headers=admin)
    assert blank.status_code == 400
    unknown = await client.post(path, json={"affiliate_id": "nope", "reason": "x"}, headers=admin)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_affiliate"
    read_only = await client.post(
        path, json={"affiliate_id": second, "reason": "x"}, headers={"X-API-Key": tenant.read_key}
    )
    assert read_only.status_code == 403

    done = await client.post(
        path, json={"affiliate_id": second, "reason": "ticket 4411: wrong link"}, headers=admin
    )
    assert done.status_code == 200, done.text
    found = done.json()["attributions"][0]
    assert (found["reason"], found["affiliate_id"], found["frozen"]) == ("manual", second, True)
    manual = found["history"][-1]
    assert manual["changed_by"] == "admin"
    assert manual["note"] == "ticket 4411: wrong link"
    assert (manual["previous_affiliate_id"], manual["affiliate_id"]) == (first, second)

    # Events after the override do not undo it; replay keeps it.
    await send(client, tenant.key, DP, dp("login", "p-1", REGISTERED + 2 * DAY))
    project(engine)
    before = table_rows(engine, ATTRIBUTIONS), table_rows(engine, CHANGES)
    projector(engine).replay()
    assert (table_rows(engine, ATTRIBUTIONS), table_rows(engine, CHANGES)) == before
    assert (await attribution(client, tenant, "p-1"))["affiliate_id"] == second


async def test_test_key_events_are_ignored(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await send(client, tenant.test_key, DP, dp("register", "p-test", REGISTERED))
    project(engine)
    response = await client.get(
        "/api/v1/players/p-test/attribution", headers={"X-API-Key": tenant.read_key}
    )
    assert response.status_code == 404
    assert table_rows(engine, ATTRIBUTIONS) == []


async def test_operators_are_walled_off(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    other = make_tenant(engine, name="rival")
    theirs = make_affiliate(engine, operator_id=other.operator_id, name="theirs")
    # Their click, their promo code: neither credits our player.
    their_click = make_click(
        engine,
        operator_id=other.operator_id,
        brand_id=other.brand_id,
        affiliate_id=theirs,
        clicked_at=REGISTERED - DAY,
    )
    make_promo_code(engine, operator_id=other.operator_id, affiliate_id=theirs, code="RIVAL")
    register = dp(
        "register", "p-1", REGISTERED, click_id=their_click, promo_code="RIVAL", ip_address=IP
    )
    await send(client, tenant.key, DP, register)
    project(engine)

    found = await attribution(client, tenant, "p-1")
    assert (found["reason"], found["external_click_id"]) == ("organic", their_click)
    for key in (other.read_key, other.admin_key):
        response = await client.get("/api/v1/players/p-1/attribution", headers={"X-API-Key": key})
        assert response.status_code == 404
    post = await client.post(
        "/api/v1/players/p-1/attribution",
        json={"affiliate_id": theirs, "reason": "steal"},
        headers={"X-API-Key": other.admin_key},
    )
    assert post.status_code == 404
    # Our admin cannot credit their affiliate either.
    mine = await client.post(
        "/api/v1/players/p-1/attribution",
        json={"affiliate_id": theirs, "reason": "x"},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert mine.status_code == 400
    ingest_only = await client.get(
        "/api/v1/players/p-1/attribution", headers={"X-API-Key": tenant.key}
    )
    assert ingest_only.status_code == 403


async def test_brand_parameter_and_ambiguous_player(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    for brand in (tenant.brand_id, tenant.other_brand_id):
        await send(client, tenant.key, REVVVS, revvvs("registration", "p-1", REGISTERED, brand))
    project(engine)
    both = await get(client, tenant.read_key, "/api/v1/players/p-1/attribution")
    assert sorted(a["brand_id"] for a in both["attributions"]) == sorted(
        [tenant.brand_id, tenant.other_brand_id]
    )
    one = await get(
        client, tenant.read_key, "/api/v1/players/p-1/attribution", brand=tenant.other_brand_id
    )
    assert [a["brand_id"] for a in one["attributions"]] == [tenant.other_brand_id]
    ambiguous = await client.post(
        "/api/v1/players/p-1/attribution",
        json={"affiliate_id": None, "reason": "x"},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"] == "ambiguous_player"


async def test_incremental_build_equals_replay(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    by_click = make_affiliate(engine, operator_id=tenant.operator_id, name="clicker")
    by_promo = make_affiliate(engine, operator_id=tenant.operator_id, name="promoter")
    by_ip = make_affiliate(engine, operator_id=tenant.operator_id, name="ip")
    make_promo_code(engine, operator_id=tenant.operator_id, affiliate_id=by_promo, code="P1")
    ours = click(engine, tenant, by_click, REGISTERED - DAY, ip_address="198.51.100.9")
    click(engine, tenant, by_ip, REGISTERED - 2 * DAY)
    events: list[dict[str, Any]] = []
    for n in range(6):
        player, start = f"p-{n}", REGISTERED + timedelta(hours=n)
        events += [
            dp("login", player, start - timedelta(hours=1), ip_address=IP),
            dp("register", player, start, user_agent=AGENT),
            dp("bonus_claim", player, start + timedelta(hours=1), promo_code="p1"),
            dp("bet", player, start + timedelta(hours=2)),
            dp("deposit", player, start + timedelta(hours=3 if n % 2 == 0 else 6)),
            dp("login", player, start + timedelta(hours=4), click_id=ours),
            dp("login", player, start + timedelta(hours=5), click_id=f"ext-{n}"),
        ]
    random.Random(7).shuffle(events)
    for event in events:  # one event per projector batch, in a shuffled order
        await send(client, tenant.key, DP, event)
        project(engine)
    incremental = table_rows(engine, ATTRIBUTIONS), table_rows(engine, CHANGES)
    assert len(incremental[0]) == 6
    # Players whose first deposit came after the click moved on to it.
    reasons = {row["player_ref"]: row["reason"] for row in incremental[0]}
    assert reasons == {f"p-{n}": "promo_code" if n % 2 == 0 else "click_id" for n in range(6)}
    projector(engine).replay()
    assert (table_rows(engine, ATTRIBUTIONS), table_rows(engine, CHANGES)) == incremental


def test_pick_last_click_edges_and_ties() -> None:
    window = timedelta(days=30)

    def seen(seq: int, at: datetime, agent: str | None = AGENT) -> ClickSeen:
        return ClickSeen(seq, f"c{seq}", f"a{seq}", IP, agent, at)

    edge = seen(1, REGISTERED - window)
    assert pick_last_click([edge], ip_address=IP, user_agent=None, **_at(window)) is not None
    tied = [seen(3, REGISTERED - DAY), seen(2, REGISTERED - DAY)]
    picked = pick_last_click(tied, ip_address=IP, user_agent=AGENT, **_at(window))
    assert picked is not None
    assert (picked.click_id, picked.same_user_agent) == ("c3", True)
    other_agent = [seen(4, REGISTERED - DAY, agent="bot-ish"), seen(5, REGISTERED - 2 * DAY)]
    picked = pick_last_click(other_agent, ip_address=IP, user_agent=AGENT, **_at(window))
    assert picked is not None
    assert picked.click_id == "c5"
    assert (
        pick_last_click(other_agent, ip_address="192.0.2.9", user_agent=None, **_at(window)) is None
    )


def _at(window: timedelta) -> dict[str, Any]:
    return {"registered_at": REGISTERED, "window": window}


def test_promo_codes_of_every_format() -> None:
    assert promo_codes_of({"metadata": {"bonus_code": "rv10", "promo_code": "RV10"}}) == ["RV10"]
    assert promo_codes_of({"promo_code": " dp5 "}) == ["DP5"]
    assert promo_codes_of({"bonus_code": "FT", "metadata": "not a dict"}) == ["FT"]
    assert promo_codes_of({"promo_code": 5, "bonus_code": ""}) == []
