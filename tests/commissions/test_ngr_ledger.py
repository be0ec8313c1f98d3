"""The NGR ledger, through the real ingest API and projector, on SQLite and PostgreSQL.

Every figure is hand-computed from the events sent; amounts are exact decimals."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from ledger_support import amounts, ft_bonus, ft_payment, lines, post_json, rv
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.commissions import ledger
from croupier.projections.models import Checkpoint
from factories import Tenant
from projection_support import ft_casino, get, project, projector, send

pytestmark = pytest.mark.anyio
D = Decimal
OCT_5 = 1791201600  # 2026-10-05T12:00:00Z in Unix seconds (DataPulse)


def assert_replay_reproduces(engine: Engine) -> None:
    before = lines(engine)
    projector(engine).replay()
    assert lines(engine) == before


async def send_rv(client: httpx.AsyncClient, key: str, *events: dict[str, Any]) -> list[str]:
    """Revvvs events in one request; their event ids."""
    answer = await send(client, key, "/api/v1/events", {"events": list(events)})
    assert answer["summary"]["accepted"] == len(events), answer
    return [result["event_id"] for result in answer["results"]]


def by_event(engine: Engine, component: str) -> dict[str, Decimal]:
    return {
        row["event_id"]: row["amount"] for row in lines(engine) if row["component"] == component
    }


# -- components from each format -----------------------------------------------------------


async def test_datapulse_ggr_and_deposits(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    def dp(name: str, tx: str, amount: str, **more: Any) -> dict[str, Any]:
        return {
            "client_user_id": "dp-1",
            "event_name": name,
            "transaction_id": tx,
            "timestamp": OCT_5,
            "amount": D(amount),
            "currency": "USD",
            **more,
        }

    batch = [
        dp("bet", "b1", "10.00"),
        dp("win", "w1", "4.25", parent_transaction_id="b1"),
        dp("bet", "b2", "5.50"),
        dp("loss", "l2", "-5.50", parent_transaction_id="b2"),
        dp("bet", "b3", "2", bet_result="loss", bet_result_amount=D("-2")),
        dp("deposit", "d1", "100.10"),
        dp("withdraw", "x1", "30"),
    ]
    await send(client, tenant.key, "/v2/s2s/batch", batch)
    project(engine)

    # Bets without a result move no GGR: no line for them.
    assert amounts(engine, "dp-1") == {
        "ggr": [D("-4.25"), D("2"), D("5.50")],
        "deposit": [D("100.10")],
    }
    row = next(row for row in lines(engine) if row["component"] == "deposit")
    assert (row["currency"], row["day"], row["rated_amount"]) == ("USD", date(2026, 10, 5), None)
    assert row["brand_id"] == tenant.brand_id
    assert_replay_reproduces(engine)


async def test_revvvs_components_and_test_events(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    brand, at = tenant.brand_id, "2026-10-07T15:00:00Z"
    await send_rv(
        client,
        tenant.key,
        rv(brand, "wager_placed", "20", at=at),
        rv(brand, "wager_settled", "-7.50", at=at),
        rv(brand, "wager_settled", "3", at=at),
        rv(brand, "bonus_awarded", "10", at=at),
        rv(brand, "bonus_cost", "12.34", at=at),
        rv(brand, "chargeback", "50", at=at),
        rv(brand, "fee_applied", "1.99", at=at),
        rv(brand, "first_deposit", "30", at=at),
        rv(brand, "deposit", "70.10", at=at),
        rv(brand, "withdrawal", "20", at=at),
    )
    await send_rv(client, tenant.test_key, rv(brand, "fee_applied", "999", at=at))
    project(engine)

    assert amounts(engine, "rv-1") == {
        "ggr": [D("-3"), D("7.50")],
        "bonus_cost": [D("-12.34")],
        "chargeback": [D("-50")],
        "fee": [D("-1.99")],
        "deposit": [D("30"), D("70.10")],
    }
    assert_replay_reproduces(engine)


async def test_fasttrack_components(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    casino = "/v1/integration/casino"
    common = {"user_id": "ft-1", "timestamp": "2026-10-05T10:00:00Z"}
    await send(client, tenant.key, casino, ft_casino(activity_id="a-1", **common))
    await send(
        client,
        tenant.key,
        casino,
        ft_casino(activity_id="a-2", type="Win", amount=D("3.5"), **common),
    )
    rollback = ft_casino(
        activity_id="a-2", type="Win", amount=D("3.5"), status="Rollback", **common
    )
    await send(client, tenant.key, casino, rollback)
    await send(
        client,
        tenant.key,
        casino,
        ft_casino(activity_id="a-3", type="Loss", amount=D("0"), **common),
    )
    payment = "/v1/integration/payment"
    await send(client, tenant.key, payment, ft_payment(fee_amount=D("2.5")))
    requested = ft_payment(
        payment_id="pay-2", status="Requested", amount=D("80"), fee_amount=D("1")
    )
    await send(client, tenant.key, payment, requested)
    await send(
        client,
        tenant.key,
        payment,
        ft_payment(payment_id="pay-3", type="Debit", amount=D("40"), fee_amount=D("0.75")),
    )
    await send(client, tenant.key, payment, ft_payment(status="Rollback", fee_amount=D("2.5")))
    bonus = "/v1/integration/bonus"
    await send(client, tenant.key, bonus, ft_bonus())
    await send(
        client,
        tenant.key,
        bonus,
        ft_bonus(status="Completed", bonus_turned_real=D("15.5"), timestamp="2026-10-06T10:00:00Z"),
    )
    await send(client, tenant.key, bonus, ft_bonus(user_bonus_id="ub-2"))
    await send(
        client,
        tenant.key,
        bonus,
        ft_bonus(user_bonus_id="ub-2", status="Forfeited", timestamp="2026-10-06T11:00:00Z"),
    )
    project(engine)

    assert amounts(engine, "ft-1") == {
        "ggr": [D("-3.5"), D("3.5"), D("10")],
        "deposit": [D("200")],
        "fee": [D("-2.5"), D("-0.75")],
        "chargeback": [D("-200")],
        "bonus_cost": [D("-15.5")],
    }
    cost = next(row for row in lines(engine) if row["component"] == "bonus_cost")
    assert (cost["day"], cost["rated_amount"]) == (date(2026, 10, 6), D("15.5") * -1)
    assert_replay_reproduces(engine)


async def test_fasttrack_bonus_cost_moves_to_an_earlier_closure(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    """A closure that arrives late but happened first decides the bonus's cost."""
    bonus = "/v1/integration/bonus"
    await send(client, tenant.key, bonus, ft_bonus())
    late_close = ft_bonus(
        status="Completed", bonus_turned_real=D("15.5"), timestamp="2026-10-09T10:00:00Z"
    )
    await send(client, tenant.key, bonus, late_close)
    project(engine)
    assert amounts(engine, "ft-1") == {"bonus_cost": [D("-15.5")]}

    early = ft_bonus(
        status="AutoCompleted", bonus_turned_real=D("4.25"), timestamp="2026-10-07T10:00:00Z"
    )
    await send(client, tenant.key, bonus, early)
    project(engine)

    costs = [row for row in lines(engine) if row["component"] == "bonus_cost"]
    assert [(row["day"], row["amount"]) for row in costs] == [(date(2026, 10, 7), D("-4.25"))]
    assert_replay_reproduces(engine)


# -- exchange rates ------------------------------------------------------------------------


async def test_event_rate_fx_rates_and_unvalued_lines(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    casino = "/v1/integration/casino"
    usd_bet = ft_casino(
        user_id="fx-1",
        currency="USD",
        exchange_rate=D("0.9"),
        amount=D("10.10"),
        timestamp="2026-10-05T10:00:00Z",
    )
    await send(client, tenant.key, casino, usd_bet)
    brand, at = tenant.brand_id, "2026-10-05T11:00:00Z"
    await send_rv(
        client,
        tenant.key,
        rv(brand, "wager_settled", "-20", at=at, player="fx-1", currency="GBP"),
        rv(brand, "fee_applied", "3", at=at, player="fx-1", currency="USD"),
        rv(brand, "bonus_cost", "1.25", at=at, player="fx-1"),
    )
    rates = [{"date": "2026-10-05", "currency": "GBP", "quote": "EUR", "rate": "1.15"}]
    assert (
        await post_json(client, tenant.admin_key, "/api/v1/fx-rates", {"rates": rates})
    ).status_code == 200
    project(engine)

    found = {row["currency"]: row for row in lines(engine)}
    assert found["USD"]["component"] == "ggr"
    assert (found["USD"]["amount"], found["USD"]["rated_amount"]) == (D("10.10"), D("9.090"))
    with Session(engine) as session:
        values = ledger.value_lines(
            session, tenant.operator_id, [found[c] for c in ("USD", "GBP", "EUR")]
        )
        fee = next(row for row in lines(engine) if row["component"] == "fee")
        assert ledger.value_lines(session, tenant.operator_id, [fee]) == [None]  # no USD rate
        totals = ledger.player_month_totals(
            session, operator_id=tenant.operator_id, month=date(2026, 10, 1)
        )
    assert values == [D("9.090"), D("23.00"), D("-1.25")]
    player = totals[(tenant.brand_id, "fx-1")]
    assert player["ggr"] == ledger.ComponentTotal({"GBP": D("20"), "USD": D("10.10")}, D("32.090"))
    assert player["fee"] == ledger.ComponentTotal({"USD": D("-3")}, None)
    assert player["bonus_cost"] == ledger.ComponentTotal({"EUR": D("-1.25")}, D("-1.25"))


# -- deductions ----------------------------------------------------------------------------


async def post_deduction(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await post_json(client, tenant.admin_key, "/api/v1/ngr/deductions", body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_deductions_by_brand_and_effective_day(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    home, other = tenant.brand_id, tenant.other_brand_id
    await post_deduction(
        client, tenant, effective_from="2026-10-01", gaming_tax_pct="15", admin_fee_pct=D("2.5")
    )
    # The other brand's own version replaces the all-brands one whole: no gaming tax there.
    await post_deduction(
        client, tenant, brand_id=other, effective_from="2026-10-01", payment_fee_pct=3
    )
    oct_10 = "2026-10-10T12:00:00Z"
    home_ggr, home_deposit, other_ggr, other_deposit, mid_ggr = await send_rv(
        client,
        tenant.key,
        rv(home, "wager_settled", "-100", at=oct_10),
        rv(home, "deposit", "200", at=oct_10),
        rv(other, "wager_settled", "-40", at=oct_10),
        rv(other, "deposit", "50", at=oct_10),
        rv(home, "wager_settled", "-50", at="2026-10-18T12:00:00Z"),
    )
    project(engine)
    assert by_event(engine, "gaming_tax") == {home_ggr: D("-15.00"), mid_ggr: D("-7.50")}
    assert by_event(engine, "admin_fee") == {home_ggr: D("-2.500"), mid_ggr: D("-1.250")}
    assert by_event(engine, "payment_fee") == {other_deposit: D("-1.50")}

    # Mid-month: from the 16th, 20% gaming tax and no admin fee, for every brand without
    # its own version. The 18th is re-booked; the 10th stays.
    answer = await post_deduction(client, tenant, effective_from="2026-10-16", gaming_tax_pct="20")
    assert answer["rebooked_lines"] == 1
    (late_ggr,) = await send_rv(
        client, tenant.key, rv(home, "wager_settled", "-10", at="2026-10-20T12:00:00Z")
    )
    project(engine)

    assert by_event(engine, "gaming_tax") == {
        home_ggr: D("-15.00"),
        mid_ggr: D("-10.0"),
        late_ggr: D("-2.0"),
    }
    assert by_event(engine, "admin_fee") == {home_ggr: D("-2.500")}
    assert by_event(engine, "payment_fee") == {other_deposit: D("-1.50")}
    assert other_ggr not in by_event(engine, "gaming_tax")
    assert home_deposit not in by_event(engine, "payment_fee")
    with Session(engine) as session:
        totals = ledger.player_month_totals(
            session, operator_id=tenant.operator_id, month=date(2026, 10, 31)
        )
    home_totals = totals[(home, "rv-1")]
    computed = sum(
        (home_totals[c].value or D(0) for c in ledger.NGR_COMPONENTS if c in home_totals), D(0)
    )
    # GGR 160 - tax (15 + 10 + 2) - admin fee 2.5
    assert computed == D("130.5")
    assert_replay_reproduces(engine)


# -- reported NGR --------------------------------------------------------------------------


async def test_ngr_update_series_books_changes_in_any_arrival_order(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    totals = [
        ("2026-10-10T10:00:00Z", "100"),
        ("2026-10-20T10:00:00Z", "250"),
        ("2026-10-30T10:00:00Z", "180"),
    ]
    expected = [D("100"), D("150"), D("-70")]
    for number, order in enumerate(itertools.permutations(range(3))):
        player = f"ngr-{number}"
        ids: dict[int, str] = {}
        for position in order:  # one commit each, the projector running in between
            at, total = totals[position]
            (ids[position],) = await send_rv(
                client, tenant.key, rv(tenant.brand_id, "ngr_update", total, at=at, player=player)
            )
            project(engine)
        booked = by_event(engine, "ngr_reported")
        assert [booked[ids[position]] for position in range(3)] == expected, order
    reported = [row for row in lines(engine) if row["component"] == "ngr_reported"]
    assert {(row["period_start"], row["period_end"], row["day"]) for row in reported} == {
        (date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 31))
    }
    assert_replay_reproduces(engine)


async def test_ngr_update_periods_from_metadata(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    brand = tenant.brand_id

    def period(start: str, end: str) -> dict[str, Any]:
        return {"metadata": {"period_start": start, "period_end": end}}

    await send_rv(
        client,
        tenant.key,
        # Month-to-date totals (specs/002's example): the same period start, a moving end.
        rv(
            brand,
            "ngr_update",
            "500",
            at="2026-10-15T23:59:00Z",
            **period("2026-10-01T00:00:00Z", "2026-10-15T23:59:59Z"),
        ),
        rv(
            brand,
            "ngr_update",
            "800",
            at="2026-10-31T23:59:00Z",
            **period("2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z"),
        ),
        # September, with an exclusive end bound at midnight.
        rv(
            brand,
            "ngr_update",
            "-40.5",
            at="2026-10-02T08:00:00Z",
            **period("2026-09-01", "2026-10-01T00:00:00Z"),
        ),
    )
    project(engine)

    reported = sorted(
        (row["period_start"], row["day"], row["amount"])
        for row in lines(engine)
        if row["component"] == "ngr_reported"
    )
    assert reported == [
        (date(2026, 9, 1), date(2026, 9, 30), D("-40.5")),
        (date(2026, 10, 1), date(2026, 10, 15), D("500")),
        (date(2026, 10, 1), date(2026, 10, 31), D("300")),
    ]


async def test_month_totals_through_a_checkpoint(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    brand = tenant.brand_id
    await send_rv(
        client,
        tenant.key,
        rv(brand, "ngr_update", "100", at="2026-10-10T10:00:00Z"),
        rv(brand, "ngr_update", "250", at="2026-10-20T10:00:00Z"),
    )
    project(engine)
    with Session(engine) as session:
        saved = session.get(Checkpoint, "main")
        assert saved is not None
        through = Checkpoint(name="main", tx_id=saved.tx_id, seq=saved.seq, events=0)
    # Later: a total stamped before the others, a newer one, a fee.
    await send_rv(
        client,
        tenant.key,
        rv(brand, "ngr_update", "50", at="2026-10-05T10:00:00Z"),
        rv(brand, "ngr_update", "300", at="2026-10-25T10:00:00Z"),
        rv(brand, "fee_applied", "2", at="2026-10-25T10:00:00Z"),
    )
    project(engine)
    assert sorted(by_event(engine, "ngr_reported").values()) == [
        D("50"),
        D("50"),
        D("50"),
        D("150"),
    ]

    month = date(2026, 10, 1)
    with Session(engine) as session:
        then = ledger.player_month_totals(
            session, operator_id=tenant.operator_id, month=month, through=through
        )
        now = ledger.player_month_totals(session, operator_id=tenant.operator_id, month=month)
    assert then[(brand, "rv-1")] == {
        "ngr_reported": ledger.ComponentTotal({"EUR": D("250")}, D("250"))
    }
    assert now[(brand, "rv-1")] == {
        "ngr_reported": ledger.ComponentTotal({"EUR": D("300")}, D("300")),
        "fee": ledger.ComponentTotal({"EUR": D("-2")}, D("-2")),
    }


# -- the admin API -------------------------------------------------------------------------


async def test_player_ngr_api_traces_every_figure(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    brand = tenant.brand_id
    await post_deduction(client, tenant, effective_from="2026-10-01", gaming_tax_pct="10")
    ggr_a, ggr_b, fee, total = await send_rv(
        client,
        tenant.key,
        rv(brand, "wager_settled", "-60", at="2026-10-03T10:00:00Z"),
        rv(brand, "wager_settled", "-40", at="2026-10-03T11:00:00Z"),
        rv(brand, "fee_applied", "5", at="2026-10-04T10:00:00Z"),
        rv(brand, "ngr_update", "70", at="2026-10-04T12:00:00Z"),
    )
    project(engine)
    path = "/api/v1/players/rv-1/ngr"

    answer = await get(client, tenant.admin_key, path, month="2026-10")

    assert answer["currency"] == "EUR"
    assert answer["month"] == "2026-10"
    days = {(row["day"], row["component"]): row for row in answer["days"]}
    ggr = days[("2026-10-03", "ggr")]
    assert (ggr["amounts"], ggr["value"], ggr["event_ids"], ggr["lines"]) == (
        {"EUR": "100"},
        "100",
        [ggr_a, ggr_b],
        2,
    )
    assert days[("2026-10-03", "gaming_tax")]["value"] == "-10.0"
    assert days[("2026-10-04", "fee")]["event_ids"] == [fee]
    assert days[("2026-10-31", "ngr_reported")]["event_ids"] == [total]
    (totals,) = answer["totals"]
    assert totals["brand_id"] == brand
    assert totals["computed_ngr"]["value"] == "85.0"  # 100 - 10 - 5
    assert totals["reported_ngr"]["value"] == "70"
    assert totals["ngr_source"] == "reported"
    assert answer["reported_periods"] == [
        {
            "brand_id": brand,
            "currency": "EUR",
            "period_start": "2026-10-01",
            "period_end": "2026-10-31",
            "total": "70",
            "updates": 1,
        }
    ]
    assert (await get(client, tenant.admin_key, path, month="2026-09"))["days"] == []

    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"month": "2026-10", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await get(client, tenant.admin_key, path + "/lines", **params)
        seen.extend((line["event_id"], line["component"]) for line in page["lines"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([
        (ggr_a, "ggr"), (ggr_a, "gaming_tax"), (ggr_b, "ggr"), (ggr_b, "gaming_tax"),
        (fee, "fee"), (total, "ngr_reported"),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"month": "2026-13"}, 400, "invalid_query"),
        ({"month": "october"}, 400, "invalid_query"),
        ({}, 400, "invalid_query"),
        ({"month": "2026-10", "cursor": "nope"}, 400, "invalid_query"),
    ],
)
async def test_player_ngr_api_refuses_bad_queries(
    client: httpx.AsyncClient,
    engine: Engine,
    tenant: Tenant,
    params: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    await send_rv(
        client, tenant.key, rv(tenant.brand_id, "fee_applied", "1", at="2026-10-04T10:00:00Z")
    )
    project(engine)
    path = "/api/v1/players/rv-1/ngr" + ("/lines" if "cursor" in params else "")
    response = await client.get(path, params=params, headers={"X-API-Key": tenant.admin_key})
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"] == code


async def test_player_ngr_api_scope_and_unknown_player(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await send_rv(
        client, tenant.key, rv(tenant.brand_id, "fee_applied", "1", at="2026-10-04T10:00:00Z")
    )
    project(engine)
    month = {"month": "2026-10"}
    read = await client.get(
        "/api/v1/players/rv-1/ngr", params=month, headers={"X-API-Key": tenant.read_key}
    )
    assert read.status_code == 403
    missing = await client.get(
        "/api/v1/players/nobody/ngr", params=month, headers={"X-API-Key": tenant.admin_key}
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    for path in ("/api/v1/ngr/deductions",):
        assert (await client.get(path, headers={"X-API-Key": tenant.read_key})).status_code == 403


async def test_deductions_api_lists_and_validates(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    first = await post_deduction(client, tenant, effective_from="2026-10-01", gaming_tax_pct="15.5")
    assert first["rebooked_lines"] == 0
    await post_deduction(
        client,
        tenant,
        brand_id=tenant.other_brand_id,
        effective_from="2026-11-01",
        payment_fee_pct=D("2.25"),
    )
    # The same scope and day again replaces the version.
    await post_deduction(
        client, tenant, effective_from="2026-10-01", gaming_tax_pct="16", admin_fee_pct=0
    )

    listed = (await get(client, tenant.admin_key, "/api/v1/ngr/deductions"))["deductions"]
    assert [
        (
            v["brand_id"],
            v["effective_from"],
            v["gaming_tax_pct"],
            v["admin_fee_pct"],
            v["payment_fee_pct"],
        )
        for v in listed
    ] == [
        (None, "2026-10-01", "16", "0", None),
        (tenant.other_brand_id, "2026-11-01", None, None, "2.25"),
    ]

    bad = {
        "effective_from": "2026-02-30",
        "gaming_tax_pct": "100.01",
        "admin_fee_pct": -1,
        "payment_fee_pct": "ten",
        "colour": "blue",
    }
    response = await post_json(client, tenant.admin_key, "/api/v1/ngr/deductions", bad)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_deductions"
    assert {(d["field"], d["code"]) for d in body["details"]} == {
        ("colour", "unknown_field"),
        ("effective_from", "invalid_date"),
        ("gaming_tax_pct", "out_of_range"),
        ("admin_fee_pct", "out_of_range"),
        ("payment_fee_pct", "invalid_value"),
    }
    cases = [
        ({"gaming_tax_pct": 1}, ("effective_from", "missing")),
        (
            {"effective_from": "2026-10-01", "gaming_tax_pct": True},
            ("gaming_tax_pct", "invalid_value"),
        ),
        (
            {"effective_from": "2026-10-01", "brand_id": "no-such-brand"},
            ("brand_id", "unknown_brand"),
        ),
        ([1, 2], ("body", "invalid_type")),
    ]
    for body_sent, expected in cases:
        response = await post_json(client, tenant.admin_key, "/api/v1/ngr/deductions", body_sent)
        assert response.status_code == 400, body_sent
        assert [(d["field"], d["code"]) for d in response.json()["details"]] == [expected]
    not_json = await client.post(
        "/api/v1/ngr/deductions",
        content=b"{",
        headers={"X-API-Key": tenant.admin_key, "Content-Type": "application/json"},
    )
    assert (not_json.status_code, not_json.json()["error"]) == (400, "invalid_json")
    assert len((await get(client, tenant.admin_key, "/api/v1/ngr/deductions"))["deductions"]) == 2
