"""Commission plans: the admin API (versions, assignments, validation, 404/409), which
version and assignment a month uses, and the RevShare arithmetic (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from statement_support import (
    affiliate,
    assign,
    close,
    lines_by_player,
    plan,
    post,
    project_and_run,
    registration,
    rv,
    send_rv,
    statement,
)

from croupier.commissions import plan_terms
from croupier.commissions.plan_terms import RevShareTerms, Tier
from factories import Tenant, make_tenant

D = Decimal
REVSHARE = {"kind": "revshare", "revshare": {"rate": "20"}}


async def _bad_version(
    client: httpx.AsyncClient, tenant: Tenant, plan_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await post(
        client, tenant.admin_key, f"/api/v1/commission-plans/{plan_id}/versions", body
    )
    assert response.status_code == 400, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.anyio
async def test_plan_api_and_its_validation(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    created = await plan(
        client,
        tenant,
        "hybrid",
        kind="hybrid",
        cpa={"amount": "40", "window_days": 30, "min_first_deposit": "20"},
        revshare={"tiers": [{"from": "0", "rate": "25"}, {"from": "10000", "rate": "35"}]},
        negative_ngr="carry_over",
        carry_over_cap="500",
        sub_affiliate_pct="5",
    )
    assert created["versions"] == [
        {
            "id": created["versions"][0]["id"],
            "number": 1,
            "effective_from": "2026-01-01",
            "created_at": created["versions"][0]["created_at"],
            "kind": "hybrid",
            "cpa": {
                "amount": "40",
                "window_days": 30,
                "min_first_deposit": "20",
                "min_total_deposits": None,
                "min_turnover": None,
                "min_bets": None,
                "excluded_flags": ["self_excluded", "duplicate", "blocked"],
            },
            "revshare": {
                "tiers": [{"from": "0", "rate": "25"}, {"from": "10000", "rate": "35"}],
                "basis": "ngr",
                "mode": "tiered",
            },
            "negative_ngr": "carry_over",
            "carry_over_cap": "500",
            "sub_affiliate_pct": "5",
        }
    ]
    plan_id = created["id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "flat", "revshare": {"rate": "20"}}, "kind"),
        ({"kind": "cpa"}, "cpa"),
        ({"kind": "revshare", "revshare": {"rate": "20"}, "cpa": {"amount": "1"}}, "cpa"),
        ({"kind": "revshare", "revshare": {"rate": "20", "tiers": []}}, "revshare"),
        ({"kind": "revshare", "revshare": {"rate": "120"}}, "revshare.rate"),
        (
            {"kind": "revshare", "revshare": {"tiers": [{"from": "10", "rate": "20"}]}},
            "revshare.tiers.0.from",
        ),
        (
            {
                "kind": "revshare",
                "revshare": {
                    "tiers": [{"from": "0", "rate": "20"}, {"from": "0", "rate": "30"}],
                },
            },
            "revshare.tiers.1.from",
        ),
        (
            {
                "kind": "revshare",
                "revshare": {
                    "tiers": [{"from": "0", "rate": "20"}, {"from": "5", "rate": "30"}],
                    "basis": "first_depositors",
                    "mode": "ladder",
                },
            },
            "revshare.mode",
        ),
        (
            {"kind": "revshare", "revshare": {"rate": "20"}, "negative_ngr": "forgive"},
            "negative_ngr",
        ),
        (
            {
                "kind": "revshare",
                "revshare": {"rate": "20"},
                "negative_ngr": "reset_monthly",
                "carry_over_cap": "10",
            },
            "carry_over_cap",
        ),
        ({"kind": "cpa", "cpa": {"amount": "0"}}, "cpa.amount"),
        ({"kind": "cpa", "cpa": {"amount": "10", "window_days": 0}}, "cpa.window_days"),
        ({"kind": "cpa", "cpa": {"amount": "10", "excluded_flags": ["vip"]}}, "cpa.excluded_flags"),
        ({"kind": "cpa", "cpa": {"amount": "-1"}}, "cpa.amount"),
    ]
    for body, field in cases:
        answer = await _bad_version(
            client, tenant, plan_id, {"effective_from": "2026-06-01", **body}
        )
        assert answer["details"][0]["field"] == field, (body, answer)
    mid_month = await _bad_version(
        client, tenant, plan_id, {"effective_from": "2026-06-15", **REVSHARE}
    )
    assert mid_month["details"][0]["field"] == "effective_from"
    unknown_field = await _bad_version(
        client, tenant, plan_id, {"effective_from": "2026-06-01", "bonus": 1, **REVSHARE}
    )
    assert unknown_field["error"] == "invalid_request"
    again = await post(
        client,
        tenant.admin_key,
        f"/api/v1/commission-plans/{plan_id}/versions",
        {"effective_from": "2026-01-01", **REVSHARE},
    )
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    same_name = await post(
        client,
        tenant.admin_key,
        "/api/v1/commission-plans",
        {"name": "hybrid", "effective_from": "2026-01-01", **REVSHARE},
    )
    assert same_name.status_code == 409
    listed = await client.get("/api/v1/commission-plans", headers={"X-API-Key": tenant.admin_key})
    assert [p["name"] for p in listed.json()["plans"]] == ["hybrid"]
    other = make_tenant(engine, name="other-op")
    hidden = await client.get(
        f"/api/v1/commission-plans/{plan_id}", headers={"X-API-Key": other.admin_key}
    )
    assert hidden.status_code == 404
    read_only = await client.get("/api/v1/commission-plans", headers={"X-API-Key": tenant.read_key})
    assert read_only.status_code == 403
    # Assignments: the affiliate, plan and brand must be the operator's.
    found = await affiliate(client, tenant, "assigned")
    for body, field in (
        ({"affiliate_id": "nope", "plan_id": plan_id}, "affiliate_id"),
        ({"affiliate_id": found["id"], "plan_id": "nope"}, "plan_id"),
        ({"affiliate_id": found["id"], "plan_id": plan_id, "brand_id": "nope"}, "brand_id"),
    ):
        bad = await post(
            client,
            tenant.admin_key,
            "/api/v1/commission-assignments",
            {"effective_from": "2026-01-01", **body},
        )
        assert (bad.status_code, bad.json()["details"][0]["field"]) == (400, field)
    await assign(client, tenant, found["id"], plan_id)
    twice = await post(
        client,
        tenant.admin_key,
        "/api/v1/commission-assignments",
        {"affiliate_id": found["id"], "plan_id": plan_id, "effective_from": "2026-01-01"},
    )
    assert (twice.status_code, twice.json()["error"]) == (409, "conflict")
    listed = await client.get(
        "/api/v1/commission-assignments",
        params={"affiliate_id": found["id"]},
        headers={"X-API-Key": tenant.admin_key},
    )
    assert [(a["plan_id"], a["brand_id"]) for a in listed.json()["assignments"]] == [
        (plan_id, None)
    ]


@pytest.mark.anyio
async def test_versions_and_assignments_apply_by_month_and_never_rewrite_a_closed_one(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    found = await affiliate(client, tenant, "versions")
    created = await plan(client, tenant, "base", **REVSHARE)  # 20 % from January
    rich = await plan(client, tenant, "rich", kind="revshare", revshare={"rate": "50"})
    await assign(client, tenant, found["id"], created["id"])
    # The other brand earns under "rich" from October, and nothing from November.
    await assign(
        client,
        tenant,
        found["id"],
        rich["id"],
        brand_id=tenant.other_brand_id,
        effective_from="2026-10-01",
    )
    await assign(
        client,
        tenant,
        found["id"],
        None,
        brand_id=tenant.other_brand_id,
        effective_from="2026-11-01",
    )
    events = [registration(engine, tenant, found["id"], "main", "2026-09-01T08:00:00Z")]
    other = registration(engine, tenant, found["id"], "side", "2026-09-01T08:00:00Z")
    events.append({**other, "brand_id": tenant.other_brand_id})
    for month in ("2026-09", "2026-10", "2026-11"):
        for player, brand in (("main", tenant.brand_id), ("side", tenant.other_brand_id)):
            events.append(
                rv(tenant, "wager_settled", player, f"{month}-05T10:00:00Z", "-100", brand_id=brand)
            )
    await send_rv(client, tenant, *events)
    await project_and_run(client, engine, tenant, "2026-09")
    september = await statement(client, tenant, "2026-09", found["id"])
    # September: "side" falls under the all-brands plan too.
    assert {r: line["revshare"] for r, line in lines_by_player(september).items()} == {
        "main": "20.00",
        "side": "20.00",
    }
    assert (await close(client, tenant, september["id"])).status_code == 200
    # A new version of "base" from October (30 %); none may start in closed September.
    closed = await post(
        client,
        tenant.admin_key,
        f"/api/v1/commission-plans/{created['id']}/versions",
        {"effective_from": "2026-09-01", "kind": "revshare", "revshare": {"rate": "30"}},
    )
    assert (closed.status_code, closed.json()["error"]) == (409, "period_closed")
    response = await post(
        client,
        tenant.admin_key,
        f"/api/v1/commission-plans/{created['id']}/versions",
        {"effective_from": "2026-10-01", "kind": "revshare", "revshare": {"rate": "30"}},
    )
    assert (response.status_code, response.json()["number"]) == (201, 2)
    late = await post(
        client,
        tenant.admin_key,
        "/api/v1/commission-assignments",
        {"affiliate_id": found["id"], "plan_id": rich["id"], "effective_from": "2026-09-01"},
    )
    assert (late.status_code, late.json()["error"]) == (409, "period_closed")

    await project_and_run(client, engine, tenant, "2026-10")
    october = await statement(client, tenant, "2026-10", found["id"])
    assert {r: line["revshare"] for r, line in lines_by_player(october).items()} == {
        "main": "30.00",
        "side": "50.00",
    }
    assert sorted((s["version"], s["revshare"]) for s in october["sections"]) == [
        (1, "50.00"),
        (2, "30.00"),
    ]
    await project_and_run(client, engine, tenant, "2026-11")
    november = await statement(client, tenant, "2026-11", found["id"])
    assert list(lines_by_player(november)) == ["main"]
    assert november["revshare"] == "30.00"
    assert await statement(client, tenant, "2026-09", found["id"]) == {
        **september,
        "status": "closed",
        "closed_at": (await statement(client, tenant, "2026-09", found["id"]))["closed_at"],
    }


# -- the arithmetic, pure -----------------------------------------------------------------

TIERS = (Tier(D(0), D(20)), Tier(D(1000), D(30)), Tier(D(5000), D(40)))


@pytest.mark.parametrize(
    ("mode", "base", "amount"),
    [
        ("tiered", "999.99", "199.998"),
        ("tiered", "1000", "300.00"),
        ("tiered", "6000", "2400.00"),
        ("ladder", "999.99", "199.998"),
        ("ladder", "1000", "200.00"),
        ("ladder", "1000.01", "200.003"),
        ("ladder", "6000", "1800.00"),
        ("ladder", "0", "0"),
        ("tiered", "-5", "0"),
    ],
)
def test_revshare_tiered_and_ladder(mode: str, base: str, amount: str) -> None:
    share = plan_terms.revshare(RevShareTerms(TIERS, "ngr", mode), base=D(base), first_depositors=0)
    assert share.amount == D(amount)


def test_settle_policies() -> None:
    def settled(policy: str, cap: str | None = None) -> tuple[Decimal, Decimal, Decimal]:
        terms = plan_terms.parse(
            {
                "kind": "revshare",
                "revshare": {"rate": "10"},
                "negative_ngr": policy,
                "carry_over_cap": cap,
            }
        )
        result = plan_terms.settle(
            terms, player_ngr=[D("-300"), D("100")], carry_in=D("-50"), first_depositors=0
        )
        return result.base, result.share.amount, result.carry_out

    assert settled("carry_over") == (D(-250), D(0), D(-250))
    assert settled("carry_over", "100") == (D(-250), D(0), D(-100))
    assert settled("reset_monthly") == (D(-200), D(0), D(0))
    assert settled("ring_fenced") == (D(100), D("10.0"), D(0))
