"""Statements through the real ingest API, projector and statements API, on SQLite and
PostgreSQL. Every figure is hand-computed from the events sent; amounts are exact."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from statement_support import (
    affiliate,
    assign,
    close,
    lines_by_player,
    plan,
    project_and_run,
    rates,
    registration,
    revshare_affiliate,
    rv,
    send_rv,
    statement,
)

from croupier.commissions.statement_models import Statement, StatementLine
from factories import Tenant

pytestmark = pytest.mark.anyio
D = Decimal
TIERS = [
    {"from": "0", "rate": "20"},
    {"from": "1000", "rate": "30"},
    {"from": "5000", "rate": "40"},
]


def _ngr_events(
    engine: Engine, tenant: Tenant, affiliate_id: str, player: str, month: str, ngr: str
) -> list[dict[str, Any]]:
    """A player credited to the affiliate whose month's NGR is ``ngr`` (one settled wager:
    Revvvs sends the player's net result, the operator's GGR is its opposite)."""
    events = [registration(engine, tenant, affiliate_id, player, f"{month}-01T08:00:00Z")]
    events.append(rv(tenant, "wager_settled", player, f"{month}-10T10:00:00Z", f"{-int(ngr)}"))
    return events


async def test_ngr_update_series_is_the_reported_ngr_beside_the_computed(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # Totals 100, 250, 180 for October → deltas 100, 150, -70: the reported NGR is 180.
    # The wagers say GGR 300 - 40 = 260, less a 10 bonus cost: computed NGR 250.
    affiliate_id = await revshare_affiliate(client, tenant, "ngr")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "p-1", "2026-10-01T09:00:00Z"),
        rv(tenant, "wager_settled", "p-1", "2026-10-02T10:00:00Z", "-300"),
        rv(tenant, "wager_settled", "p-1", "2026-10-03T10:00:00Z", "40"),
        rv(tenant, "bonus_cost", "p-1", "2026-10-03T11:00:00Z", "10"),
        rv(tenant, "ngr_update", "p-1", "2026-10-10T00:00:00Z", "100"),
        rv(tenant, "ngr_update", "p-1", "2026-10-20T00:00:00Z", "250"),
        rv(tenant, "ngr_update", "p-1", "2026-10-31T00:00:00Z", "180"),
    )
    await project_and_run(client, engine, tenant, "2026-10")
    document = await statement(client, tenant, "2026-10", affiliate_id)
    line = lines_by_player(document)["p-1"]
    assert (line["ggr"], line["bonus_cost"], line["ngr_computed"]) == ("260.00", "-10.00", "250.00")
    assert (line["ngr_reported"], line["ngr"], line["revshare"]) == ("180.00", "180.00", "45.00")
    assert (document["ngr"], document["revshare"], document["total"]) == (
        "180.00",
        "45.00",
        "45.00",
    )
    assert (document["payout_currency"], document["fx_rate"], document["payable"]) == (
        "EUR",
        "1",
        "45.00",
    )


async def test_tiered_ladder_and_first_depositor_tiers_on_the_same_month(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # Each affiliate: two players with NGR 3500 and 2500 (6000), both first depositors.
    terms = {
        "tiered": {"tiers": TIERS, "mode": "tiered"},
        "ladder": {"tiers": TIERS, "mode": "ladder"},
        "ftd": {
            "tiers": [{"from": "0", "rate": "15"}, {"from": "2", "rate": "25"}],
            "basis": "first_depositors",
        },
    }
    ids: dict[str, str] = {}
    events: list[dict[str, Any]] = []
    for name, revshare in terms.items():
        ids[name] = await revshare_affiliate(
            client, tenant, name, kind="revshare", revshare=revshare
        )
        for player, ngr in ((f"{name}-a", "3500"), (f"{name}-b", "2500")):
            events += _ngr_events(engine, tenant, ids[name], player, "2026-10", ngr)
            events.append(rv(tenant, "deposit", player, "2026-10-01T09:00:00Z", "10"))
    await send_rv(client, tenant, *events)
    await project_and_run(client, engine, tenant, "2026-10")

    tiered = await statement(client, tenant, "2026-10", ids["tiered"])
    assert (tiered["ngr"], tiered["revshare"]) == ("6000.00", "2400.00")  # 40 % of all
    assert {ref: line["revshare"] for ref, line in lines_by_player(tiered).items()} == {
        "tiered-a": "1400.00",
        "tiered-b": "1000.00",
    }
    assert tiered["sections"][0]["rate"] == "40"

    ladder = await statement(client, tenant, "2026-10", ids["ladder"])
    # 1000 x 20 % + 4000 x 30 % + 1000 x 40 %
    assert (ladder["ngr"], ladder["revshare"]) == ("6000.00", "1800.00")
    bands = [(b["from"], b["rate"], b["ngr"], b["amount"]) for b in ladder["sections"][0]["bands"]]
    assert bands == [
        ("0", "20", "1000.00", "200.00"),
        ("1000", "30", "4000.00", "1200.00"),
        ("5000", "40", "1000.00", "400.00"),
    ]
    assert {line["revshare"] for line in ladder["lines"]} == {None}

    ftd = await statement(client, tenant, "2026-10", ids["ftd"])
    assert ftd["sections"][0]["first_depositors"] == 2
    assert (ftd["revshare"], ftd["sections"][0]["rate"]) == ("1500.00", "25")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # (revshare, carry_in, carry_out) for August, September, October
        (
            {"negative_ngr": "carry_over"},
            [
                ("0.00", "0.00", "-200.00"),
                ("0.00", "-200.00", "-50.00"),
                ("62.50", "-50.00", "0.00"),
            ],
        ),
        (
            {"negative_ngr": "carry_over", "carry_over_cap": "100"},
            [("0.00", "0.00", "-100.00"), ("12.50", "-100.00", "0.00"), ("75.00", "0.00", "0.00")],
        ),
        (
            {"negative_ngr": "reset_monthly"},
            [("0.00", "0.00", "0.00"), ("37.50", "0.00", "0.00"), ("75.00", "0.00", "0.00")],
        ),
        (
            {"negative_ngr": "ring_fenced"},
            [("25.00", "0.00", "0.00"), ("37.50", "0.00", "0.00"), ("100.00", "0.00", "0.00")],
        ),
    ],
)
async def test_negative_ngr_over_three_months(
    client: httpx.AsyncClient,
    engine: Engine,
    tenant: Tenant,
    policy: dict[str, str],
    expected: list[tuple[str, str, str]],
) -> None:
    # Player x: -300, +50, +400; player y: +100, +100, -100 (totals -200, 150, 300), 25 %.
    affiliate_id = await revshare_affiliate(
        client, tenant, "neg", kind="revshare", revshare={"rate": "25"}, **policy
    )
    months = ("2026-08", "2026-09", "2026-10")
    x = dict(zip(months, ("-300", "50", "400"), strict=True))
    y = dict(zip(months, ("100", "100", "-100"), strict=True))
    events = [
        registration(engine, tenant, affiliate_id, "x", "2026-08-01T08:00:00Z"),
        registration(engine, tenant, affiliate_id, "y", "2026-08-01T08:00:00Z"),
    ]
    for month in months:
        for player, ngr in (("x", x[month]), ("y", y[month])):
            events.append(rv(tenant, "wager_settled", player, f"{month}-10T10:00:00Z", -int(ngr)))
    await send_rv(client, tenant, *events)
    found = []
    for month in months:
        await project_and_run(client, engine, tenant, month)
        document = await statement(client, tenant, month, affiliate_id)
        found.append((document["revshare"], document["carry_in"], document["carry_out"]))
        assert (await close(client, tenant, document["id"])).status_code == 200
    assert found == expected


async def test_hybrid_pays_cpa_and_revshare(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await revshare_affiliate(
        client,
        tenant,
        "hybrid",
        kind="hybrid",
        cpa={"amount": "30", "min_first_deposit": "20"},
        revshare={"rate": "20"},
    )
    events = _ngr_events(engine, tenant, affiliate_id, "h-1", "2026-10", "500")
    events += _ngr_events(engine, tenant, affiliate_id, "h-2", "2026-10", "100")
    events += [
        rv(tenant, "deposit", "h-1", "2026-10-02T10:00:00Z", "50"),
        rv(tenant, "deposit", "h-2", "2026-10-02T10:00:00Z", "15"),  # under 20: no CPA
    ]
    await send_rv(client, tenant, *events)
    await project_and_run(client, engine, tenant, "2026-10")
    document = await statement(client, tenant, "2026-10", affiliate_id)
    lines = lines_by_player(document)
    assert {ref: (line["ngr"], line["revshare"], line["cpa"]) for ref, line in lines.items()} == {
        "h-1": ("500.00", "100.00", "30.00"),
        "h-2": ("100.00", "20.00", "0.00"),
    }
    assert (lines["h-1"]["deposits"], lines["h-1"]["cpa_rule"]) == ("50.00", "min_first_deposit")
    assert (document["revshare"], document["cpa"], document["total"]) == (
        "120.00",
        "30.00",
        "150.00",
    )


async def test_sub_affiliate_earns_a_share_of_its_childs_commission(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    parent = await affiliate(client, tenant, "parent")
    child = await affiliate(client, tenant, "child", parent_id=parent["id"])
    parent_plan = await plan(
        client,
        tenant,
        "parent-plan",
        kind="revshare",
        revshare={"rate": "10"},
        sub_affiliate_pct="5",
    )
    child_plan = await plan(client, tenant, "child-plan", kind="revshare", revshare={"rate": "30"})
    await assign(client, tenant, parent["id"], parent_plan["id"])
    await assign(client, tenant, child["id"], child_plan["id"])
    events = _ngr_events(engine, tenant, child["id"], "c-1", "2026-10", "1000")
    events += _ngr_events(engine, tenant, parent["id"], "p-1", "2026-10", "200")
    await send_rv(client, tenant, *events)
    await project_and_run(client, engine, tenant, "2026-10")
    child_doc = await statement(client, tenant, "2026-10", child["id"])
    parent_doc = await statement(client, tenant, "2026-10", parent["id"])
    assert (child_doc["revshare"], child_doc["sub_affiliate"], child_doc["total"]) == (
        "300.00",
        "0.00",
        "300.00",
    )
    # 10 % of 200, plus 5 % of the child's 300.
    assert (parent_doc["revshare"], parent_doc["sub_affiliate"], parent_doc["total"]) == (
        "20.00",
        "15.00",
        "35.00",
    )
    assert parent_doc["sub_affiliates"] == [
        {
            "affiliate_id": child["id"],
            "statement_id": child_doc["id"],
            "commission": "300.00",
            "pct": "5",
            "amount": "15.00",
        }
    ]
    # The parent closes after its child (its figures depend on the child's).
    refused = await close(client, tenant, parent_doc["id"])
    assert (refused.status_code, refused.json()["error"]) == (409, "sub_affiliates_open")
    assert (await close(client, tenant, child_doc["id"])).status_code == 200
    assert (await close(client, tenant, parent_doc["id"])).status_code == 200


async def test_eur_events_paid_in_usd_at_the_months_last_rate(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # GGR 1050.56 EUR + 200 USD (x 0.92 on its day = 184 EUR) = NGR 1234.56 EUR;
    # 25 % = 308.64 EUR; x 1.0850 (EUR→USD on 2026-10-31) = 334.8744 → 334.87 USD.
    found = await affiliate(client, tenant, "usd", payout_currency="USD")
    created = await plan(client, tenant, "usd", kind="revshare", revshare={"rate": "25"})
    await assign(client, tenant, found["id"], created["id"])
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, found["id"], "u-1", "2026-10-01T08:00:00Z"),
        rv(tenant, "wager_settled", "u-1", "2026-10-04T10:00:00Z", "-1050.56"),
        rv(tenant, "wager_settled", "u-1", "2026-10-05T10:00:00Z", "-200", currency="USD"),
    )
    await project_and_run(client, engine, tenant, "2026-10")
    document = await statement(client, tenant, "2026-10", found["id"])
    # No rate yet for the USD wager, none for the payout: shown, never guessed.
    assert (document["ngr"], document["unvalued"], document["payable"]) == (
        "1050.56",
        {"USD": "200"},
        None,
    )
    assert lines_by_player(document)["u-1"]["unvalued"] == {"USD": "200"}
    refused = await close(client, tenant, document["id"])
    assert (refused.status_code, refused.json()["error"]) == (409, "unvalued_amounts")
    await rates(
        client, tenant, {"date": "2026-10-05", "currency": "USD", "quote": "EUR", "rate": "0.92"}
    )
    await project_and_run(client, engine, tenant, "2026-10")
    document = await statement(client, tenant, "2026-10", found["id"])
    assert (document["ngr"], document["revshare"], document["payable"]) == (
        "1234.56",
        "308.64",
        None,
    )
    refused = await close(client, tenant, document["id"])
    assert (refused.status_code, refused.json()["error"]) == (409, "missing_fx_rate")
    await rates(
        client, tenant, {"date": "2026-10-31", "currency": "EUR", "quote": "USD", "rate": "1.0850"}
    )
    await project_and_run(client, engine, tenant, "2026-10")
    document = await statement(client, tenant, "2026-10", found["id"])
    assert (document["total"], document["reporting_currency"]) == ("308.64", "EUR")
    assert (document["payable"], document["payout_currency"]) == ("334.87", "USD")
    assert (document["fx_rate"], document["fx_rate_day"]) == ("1.0850", "2026-10-31")
    closed = await close(client, tenant, document["id"])
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["payable"]) == ("closed", "334.87")


async def test_sums_are_exact_to_the_last_decimal(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # Float sums would make 0.1 + 0.2 = 0.30000000000000004; SQLite stores money as text
    # and the statements sum it with an exact decimal aggregate.
    affiliate_id = await revshare_affiliate(client, tenant, "exact")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "e-1", "2026-10-01T08:00:00Z"),
        rv(tenant, "wager_settled", "e-1", "2026-10-02T10:00:00Z", "-0.1"),
        rv(tenant, "wager_settled", "e-1", "2026-10-03T10:00:00Z", "-0.2"),
        rv(tenant, "wager_settled", "e-1", "2026-10-04T10:00:00Z", "-0.000000000000000001"),
    )
    await project_and_run(client, engine, tenant, "2026-10")
    with Session(engine) as session:
        line = session.scalars(select(StatementLine)).one()
        stored = session.scalars(select(Statement)).one()
    assert line.ggr == D("0.300000000000000001")
    assert line.revshare == D("0.07500000000000000025")
    assert (stored.revshare, stored.payable) == (D("0.07500000000000000025"), D("0.08"))
    document = await statement(client, tenant, "2026-10", affiliate_id)
    assert (document["lines"][0]["ggr"], document["revshare"]) == ("0.30", "0.08")
