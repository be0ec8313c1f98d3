"""Loading exchange rates: the CSV through the CLI, JSON through the API, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from reports_support import DAY_1, post_rates
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from croupier.cli import cli
from croupier.reports.fx import FX_RATES
from factories import Tenant
from projection_support import ft_casino, get, project, send, table_rows

D = Decimal
Run = Callable[..., str]


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("CROUPIER_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, list(args))
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    return invoke


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    return str(path)


def test_cli_loads_rates_and_replaces_the_same_day(
    run: Run, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    text = "date,currency,quote,rate\n2026-11-01,USD,EUR,0.92\n\n2026-11-01,gbp,EUR,1.15\n"
    assert "loaded 2 exchange rates for acme" in run(
        "fx", "load", _csv(tmp_path, text), "--operator", "acme"
    )
    run(
        "fx",
        "load",
        _csv(tmp_path, "date,currency,quote,rate\n2026-11-01,USD,EUR,0.93\n"),
        "--operator",
        "acme",
    )

    rates = {(row["currency"], row["quote_currency"]): row for row in table_rows(engine, FX_RATES)}
    assert rates.keys() == {("USD", "EUR"), ("GBP", "EUR")}
    assert rates["USD", "EUR"]["rate"] == D("0.93")
    assert rates["GBP", "EUR"]["rate"] == D("1.15")
    assert {row["operator_id"] for row in rates.values()} == {tenant.operator_id}


def test_cli_reports_every_bad_line_and_loads_nothing(
    run: Run, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    text = (
        "date,currency,quote,rate\n"
        "2026-11-01,USD,EUR,0.92\n"
        "2026-13-01,USD,EUR,0.92\n"
        "2026-11-01,XYZ,EUR,-1\n"
        "2026-11-01,USD,EUR\n"
        "2026-11-02,USD,USD,1\n"
        "2026-11-01,USD,EUR,0.95\n"
    )
    output = run("fx", "load", _csv(tmp_path, text), "--operator", "acme", ok=False)

    assert "line 3: date:" in output
    assert "line 4: currency:" in output
    assert "line 4: rate:" in output
    assert "line 5: line:" in output
    assert "line 6: quote:" in output
    assert "line 7: rate: another USD/EUR rate" in output
    assert "line 2" not in output
    assert table_rows(engine, FX_RATES) == []


def test_cli_rejects_a_wrong_header_and_an_unknown_operator(
    run: Run, tenant: Tenant, tmp_path: Path
) -> None:
    assert "line 1: header" in run(
        "fx",
        "load",
        _csv(tmp_path, "day,from,to,rate\n2026-11-01,USD,EUR,1\n"),
        "--operator",
        "acme",
        ok=False,
    )
    good = _csv(tmp_path, "date,currency,quote,rate\n2026-11-01,USD,EUR,1\n")
    assert "no operator named 'nobody'" in run("fx", "load", good, "--operator", "nobody", ok=False)


@pytest.mark.anyio
async def test_a_cli_rate_values_a_report(
    run: Run, client: httpx.AsyncClient, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    # A Fast Track rate of 0 values nothing: the table's rate applies instead.
    event = ft_casino(currency="USD", exchange_rate=D("0"), amount=D("10"))
    await send(client, tenant.key, "/v1/integration/casino", event)
    project(engine)
    run(
        "fx",
        "load",
        _csv(tmp_path, "date,currency,quote,rate\n2026-11-01,USD,EUR,0.9\n"),
        "--operator",
        "acme",
    )

    report = await get(
        client, tenant.read_key, "/api/v1/reports/daily", **{"from": DAY_1, "to": DAY_1}
    )

    assert D(report["days"][0]["turnover"]) == D("9")
    assert report["days"][0]["unvalued"] == {}


@pytest.mark.anyio
async def test_api_reports_each_bad_item_and_loads_nothing(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    rates = [
        {"date": DAY_1, "currency": "USD", "quote": "EUR", "rate": D("0.9")},
        {"date": "01/11/2026", "currency": "USD", "quote": "EUR", "rate": "0.9"},
        {"date": DAY_1, "currency": "USD", "quote": "EURO", "rate": 0},
        "not an object",
    ]
    response = await post_rates(client, tenant.admin_key, rates)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_rates"
    assert [(d["index"], d["field"], d["code"]) for d in body["details"]] == [
        (1, "date", "invalid_date"),
        (2, "quote", "invalid_currency"),
        (2, "rate", "invalid_rate"),
        (3, "", "invalid_item"),
    ]
    assert table_rows(engine, FX_RATES) == []
    empty = await post_rates(client, tenant.admin_key, [])
    assert empty.status_code == 400
    not_json = await client.post(
        "/api/v1/fx-rates",
        content=b"{",
        headers={"X-API-Key": tenant.admin_key, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
