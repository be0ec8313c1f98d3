"""GGR per player per day and the daily report, through the real ingest API and projector."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from reports_support import DAY_1, DAY_2, DP_DAY_2, day_rows, dp, ft_payment, post_rates, rv
from sqlalchemy.engine import Engine

from croupier.reports.models import PlayerDay
from factories import Tenant, make_tenant
from projection_support import ft_casino, get, project, projector, send, table_rows

pytestmark = pytest.mark.anyio
D = Decimal
CASINO = "/v1/integration/casino"
PAYMENT = "/v1/integration/payment"


def _money(row: dict[str, Any]) -> dict[str, Any]:
    """A report row with its amounts as Decimals (compared exactly, whatever the scale)."""
    amounts = ("deposits_amount", "withdrawals_amount", "turnover", "ggr")
    return {name: D(value) if name in amounts else value for name, value in row.items()}


async def _report(client: httpx.AsyncClient, key: str, **params: Any) -> Any:
    return await get(client, key, "/api/v1/reports/daily", **{"from": DAY_1, "to": DAY_2} | params)


async def test_fast_track_exchange_rate_is_used_as_given(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    usd = {"currency": "USD", "exchange_rate": D("0.9")}
    await send(client, tenant.key, CASINO, ft_casino(activity_id="a-1", amount=D("10"), **usd))
    await send(
        client, tenant.key, CASINO, ft_casino(activity_id="a-2", type="Win", amount=D("4"), **usd)
    )
    # A bet and its rollback: counted once, then reversed.
    await send(client, tenant.key, CASINO, ft_casino(activity_id="a-3", amount=D("2"), **usd))
    await send(
        client,
        tenant.key,
        CASINO,
        ft_casino(activity_id="a-3", amount=D("2"), status="Rollback", **usd),
    )
    await send(client, tenant.key, PAYMENT, ft_payment(payment_id="pay-1", **usd))
    await send(
        client,
        tenant.key,
        PAYMENT,
        ft_payment(payment_id="pay-2", type="Debit", amount=D("20"), **usd),
    )
    # Not approved: neither a deposit nor a depositor.
    await send(
        client, tenant.key, PAYMENT, ft_payment(payment_id="pay-3", status="Requested", **usd)
    )
    # A test key's events stay out of reports.
    await send(client, tenant.test_key, CASINO, ft_casino(activity_id="t-1", amount=D("999")))
    project(engine)

    report = await _report(client, tenant.read_key)

    assert report["currency"] == "EUR"
    assert report["group_by"] is None
    assert [_money(row) for row in report["days"]] == [
        {
            "day": DAY_1,
            "group_by": None,
            "group": None,
            "players": 1,
            "depositors": 1,
            "deposits": 1,
            "deposits_amount": D("45.0"),
            "withdrawals": 1,
            "withdrawals_amount": D("18.0"),
            "bets": 1,
            "turnover": D("9.0"),
            "ggr": D("5.4"),
            "unvalued": {},
        }
    ]
    assert report["days"][0]["ggr"] == "5.4"  # exact decimal text, never a float
    assert report["next_cursor"] is None


async def test_unvalued_until_a_rate_is_loaded_then_revalued_without_replay(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await send(client, tenant.key, "/v2/s2s/event", dp(transaction_id="tx-1"))
    await send(
        client,
        tenant.key,
        "/v2/s2s/event",
        dp(
            event_name="loss",
            transaction_id="tx-2",
            parent_transaction_id="tx-1",
            amount=D("-5.00"),
        ),
    )
    await send(
        client,
        tenant.key,
        "/v2/s2s/event",
        dp(event_name="deposit", transaction_id="tx-3", amount=D("100"), game_type=None),
    )
    project(engine)

    [row] = (await _report(client, tenant.read_key))["days"]
    assert (row["turnover"], row["ggr"], row["deposits_amount"]) == ("0", "0", "0")
    assert row["unvalued"] == {"USD": {"turnover": "5.00", "ggr": "5.00", "deposits_amount": "100"}}
    assert (row["players"], row["depositors"], row["bets"]) == (1, 1, 1)

    # Another day's rate values nothing here: no rate is borrowed across days.
    rate = {"currency": "USD", "quote": "EUR", "rate": "0.5"}
    assert (await post_rates(client, tenant.admin_key, [{"date": DAY_2, **rate}])).json() == {
        "loaded": 1
    }
    [row] = (await _report(client, tenant.read_key))["days"]
    assert row["unvalued"]["USD"]["turnover"] == "5.00"

    await post_rates(client, tenant.admin_key, [{"date": DAY_1, **rate}])
    [row] = (await _report(client, tenant.read_key))["days"]
    assert _money(row) | {"unvalued": row["unvalued"]} == _money(row) | {"unvalued": {}}
    assert (D(row["turnover"]), D(row["ggr"]), D(row["deposits_amount"])) == (
        D("2.5"),
        D("2.5"),
        D("50"),
    )

    # Loading the same day and pair again replaces the rate.
    await post_rates(client, tenant.admin_key, [{"date": DAY_1, **rate, "rate": D("0.6")}])
    [row] = (await _report(client, tenant.read_key))["days"]
    assert D(row["turnover"]) == D("3")
    listed = await get(client, tenant.read_key, "/api/v1/fx-rates", **{"from": DAY_1, "to": DAY_2})
    assert listed["rates"] == [
        {"date": DAY_1, "currency": "USD", "quote": "EUR", "rate": "0.6"},
        {"date": DAY_2, "currency": "USD", "quote": "EUR", "rate": "0.5"},
    ]


async def _grouped_story(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Two brands, three games, payments, all in EUR on DAY_1 (plus one DAY_2 deposit)."""
    await send(client, tenant.key, CASINO, ft_casino(activity_id="a-1", amount=D("10")))
    await send(client, tenant.key, CASINO, ft_casino(activity_id="a-2", type="Win", amount=D("4")))
    live = {"game_type": "Live Casino", "vendor_name": "Evolution", "round_id": "r-9"}
    await send(
        client,
        tenant.key,
        CASINO,
        ft_casino(activity_id="a-5", user_id="p-2", amount=D("30"), **live),
    )
    await send(client, tenant.key, PAYMENT, ft_payment(payment_id="pay-1"))
    other = tenant.other_brand_id
    batch = [
        rv(other),
        rv(other, event_type="wager_settled", idempotency_key="rv-key-2", amount=D("15.00")),
        rv(other, event_type="deposit", idempotency_key="rv-key-3", amount=D("40.00"), metadata={}),
    ]
    await send(client, tenant.key, "/api/v1/events", {"events": batch})
    day_2 = {"event_name": "deposit", "timestamp": DP_DAY_2, "currency": "EUR"}
    await send(client, tenant.key, "/v2/s2s/event", dp(transaction_id="dp-9", **day_2))


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["players"],
        row["depositors"],
        row["deposits"],
        D(row["deposits_amount"]),
        row["bets"],
        D(row["turnover"]),
        D(row["ggr"]),
    )


async def test_report_grouped_by_brand_game_type_and_vendor(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await _grouped_story(client, tenant)
    project(engine)

    total = day_rows(await _report(client, tenant.read_key))
    assert {key: _figures(row) for key, row in total.items()} == {
        (DAY_1, None): (3, 2, 2, D("90"), 3, D("60"), D("21")),
        (DAY_2, None): (1, 1, 1, D("5"), 0, D("0"), D("0")),
    }
    by_brand = day_rows(await _report(client, tenant.read_key, group_by="brand", to=DAY_1))
    assert {key: _figures(row) for key, row in by_brand.items()} == {
        (DAY_1, tenant.brand_id): (2, 1, 1, D("50"), 2, D("40"), D("36")),
        (DAY_1, tenant.other_brand_id): (1, 1, 1, D("40"), 1, D("20"), D("-15")),
    }
    by_game = day_rows(await _report(client, tenant.read_key, group_by="game_type", to=DAY_1))
    assert {key: _figures(row) for key, row in by_game.items()} == {
        # Payments have no game: they form the '' group.
        (DAY_1, ""): (2, 2, 2, D("90"), 0, D("0"), D("0")),
        (DAY_1, "Live Casino"): (1, 0, 0, D("0"), 1, D("30"), D("30")),
        (DAY_1, "Slots"): (1, 0, 0, D("0"), 1, D("10"), D("6")),
        (DAY_1, "casino"): (1, 0, 0, D("0"), 1, D("20"), D("-15")),
    }
    by_vendor = day_rows(await _report(client, tenant.read_key, group_by="vendor", to=DAY_1))
    assert {key: _figures(row) for key, row in by_vendor.items()} == {
        (DAY_1, ""): (2, 2, 2, D("90"), 1, D("20"), D("-15")),
        (DAY_1, "Evolution"): (1, 0, 0, D("0"), 1, D("30"), D("30")),
        (DAY_1, "NetEnt"): (1, 0, 0, D("0"), 1, D("10"), D("6")),
    }

    # Pages follow (day, group) order and end with no cursor.
    first = await _report(client, tenant.read_key, group_by="game_type", limit=3)
    assert [(row["day"], row["group"]) for row in first["days"]] == [
        (DAY_1, ""),
        (DAY_1, "Live Casino"),
        (DAY_1, "Slots"),
    ]
    rest = await _report(
        client, tenant.read_key, group_by="game_type", limit=3, cursor=first["next_cursor"]
    )
    assert [(row["day"], row["group"]) for row in rest["days"]] == [(DAY_1, "casino"), (DAY_2, "")]
    assert rest["next_cursor"] is None


async def test_incremental_build_in_any_order_equals_replay(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # Settlements before their bets, one event per batch: the fold must not care.
    await send(client, tenant.key, CASINO, ft_casino(activity_id="a-2", type="Win", amount=D("4")))
    step = projector(engine, batch_size=1)
    step.run_until_caught_up()
    await _grouped_story(client, tenant)
    step.run_until_caught_up()
    built = table_rows(engine, PlayerDay.__table__)  # type: ignore[arg-type]
    report = await _report(client, tenant.read_key, group_by="brand")

    projector(engine).replay()

    assert table_rows(engine, PlayerDay.__table__) == built  # type: ignore[arg-type]
    assert await _report(client, tenant.read_key, group_by="brand") == report


async def test_player_daily_in_both_currencies(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await send(client, tenant.key, "/v2/s2s/event", dp(client_user_id="p-1"))
    await send(client, tenant.key, CASINO, ft_casino(activity_id="a-1", amount=D("10")))
    await post_rates(
        client,
        tenant.admin_key,
        [{"date": DAY_1, "currency": "USD", "quote": "EUR", "rate": "0.8"}],
    )
    project(engine)

    answer = await get(
        client, tenant.read_key, "/api/v1/players/p-1/daily", **{"from": DAY_1, "to": DAY_1}
    )

    assert answer["currency"] == "EUR"
    by_currency = {row["currency"]: row for row in answer["days"]}
    assert by_currency["USD"]["amounts"]["turnover"] == "5.00"
    assert D(by_currency["USD"]["reporting_amounts"]["turnover"]) == D("4")
    assert D(by_currency["EUR"]["reporting_amounts"]["ggr"]) == D("10")
    assert by_currency["EUR"]["bets"] == 1
    path = "/api/v1/players/p-1/daily"
    own_brand = await get(
        client, tenant.read_key, path, **{"from": DAY_1, "to": DAY_1, "brand": tenant.brand_id}
    )
    assert own_brand == answer
    quiet_day = await get(client, tenant.read_key, path, **{"from": DAY_2, "to": DAY_2})
    assert quiet_day == {"player_ref": "p-1", "currency": "EUR", "days": []}
    elsewhere = await client.get(
        path,
        params={"from": DAY_1, "to": DAY_1, "brand": tenant.other_brand_id},
        headers={"X-API-Key": tenant.read_key},
    )
    assert elsewhere.status_code == 404


async def test_scopes_and_tenants_are_walled_off(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    other = make_tenant(engine, name="other")
    await send(
        client, other.key, CASINO, ft_casino(activity_id="a-1", amount=D("70"), currency="USD")
    )
    await send(
        client, tenant.key, CASINO, ft_casino(activity_id="a-1", amount=D("10"), currency="USD")
    )
    rate = [{"date": DAY_1, "currency": "USD", "quote": "EUR", "rate": "2"}]
    assert (await post_rates(client, other.admin_key, rate)).status_code == 200
    project(engine)

    answer = await client.get(
        "/api/v1/reports/daily",
        params={"from": DAY_1, "to": DAY_1},
        headers={"X-API-Key": tenant.key},
    )
    assert answer.status_code == 403  # an ingest key reads no reports
    assert (await post_rates(client, tenant.read_key, rate)).status_code == 403
    [row] = (await _report(client, tenant.admin_key))["days"]
    # Own figures only; exchange_rate 1 from the event: the other operator's rate is unused.
    assert (D(row["turnover"]), row["players"]) == (D("10"), 1)
    [row] = (await _report(client, other.read_key))["days"]
    assert D(row["turnover"]) == D("70")
    missing = await client.get(
        "/api/v1/players/p-1/daily",
        params={"from": DAY_1, "to": DAY_1, "brand": other.brand_id},
        headers={"X-API-Key": tenant.read_key},
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"from": "2026-11-02", "to": "2026-11-01"}, "to", "invalid_period"),
        ({"from": "2026-01-01", "to": "2027-01-02"}, "to", "period_too_long"),
        ({"from": "2026-11-1", "to": "2026-11-02"}, "from", "invalid_date"),
        ({"from": "2026-11-01", "to": "2026-02-30"}, "to", "invalid_date"),
        ({"from": "2026-11-01", "to": "2026-11-02", "group_by": "game"}, "group_by", None),
        ({"from": "2026-11-01", "to": "2026-11-02", "cursor": "nope!"}, "cursor", "invalid_cursor"),
        ({"from": "2026-11-01", "to": "2026-11-02", "limit": "0"}, "limit", None),
    ],
)
async def test_bad_queries_are_400(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], field: str, code: str | None
) -> None:
    response = await client.get(
        "/api/v1/reports/daily", params=params, headers={"X-API-Key": tenant.read_key}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_query"
    assert [detail["field"] for detail in body["details"]] == [field]
    if code is not None:
        assert body["details"][0]["code"] == code


async def test_a_full_year_span_is_allowed(client: httpx.AsyncClient, tenant: Tenant) -> None:
    report = await get(
        client,
        tenant.read_key,
        "/api/v1/reports/daily",
        **{"from": "2024-01-01", "to": "2024-12-31"},
    )
    assert report["days"] == []
