"""Closed statements never change: late events become itemised adjustments on the next
open statement; a replay and a re-run reproduce every draft figure; the affiliate sees only
its own closed statements; the errors; the CLI. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from statement_support import (
    close,
    lines_by_player,
    player_salt,
    post,
    project_and_run,
    registration,
    revshare_affiliate,
    run,
    rv,
    send_rv,
    statement,
    statement_tables,
)
from typer.testing import CliRunner

from croupier.affiliates.affiliate_auth import player_hash
from croupier.cli import cli
from factories import Tenant, make_tenant
from projection_support import project, projector

pytestmark = pytest.mark.anyio


async def _october_closed(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> tuple[str, dict[str, Any], list[str]]:
    """A 25 % affiliate; player g won the operator 1000 in October, player q's reported
    totals were 100 then 250. October is run and closed."""
    affiliate_id = await revshare_affiliate(client, tenant, "late")
    ids = await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "g", "2026-10-01T08:00:00Z"),
        rv(tenant, "wager_settled", "g", "2026-10-10T10:00:00Z", "-1000"),
        registration(engine, tenant, affiliate_id, "q", "2026-10-01T08:00:00Z"),
        rv(tenant, "ngr_update", "q", "2026-10-10T00:00:00Z", "100"),
        rv(tenant, "ngr_update", "q", "2026-10-20T00:00:00Z", "250"),
    )
    await project_and_run(client, engine, tenant, "2026-10")
    october = await statement(client, tenant, "2026-10", affiliate_id)
    assert (october["ngr"], october["revshare"]) == ("1250.00", "312.50")
    assert (await close(client, tenant, october["id"])).status_code == 200
    return affiliate_id, await statement(client, tenant, "2026-10", affiliate_id), ids


async def test_late_events_for_a_closed_month_are_adjustments_on_the_next(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id, october, _ = await _october_closed(client, engine, tenant)
    # After the close: a chargeback of g's October, q's final October total 180 and, late,
    # an earlier total (120 on the 15th) that re-books the 20th's line; g wins 400 in
    # November.
    late = await send_rv(
        client,
        tenant,
        rv(tenant, "chargeback", "g", "2026-10-20T10:00:00Z", "200"),
        rv(tenant, "ngr_update", "q", "2026-10-31T00:00:00Z", "180"),
        rv(tenant, "ngr_update", "q", "2026-10-15T00:00:00Z", "120"),
        rv(tenant, "wager_settled", "g", "2026-11-05T10:00:00Z", "-400"),
    )
    await project_and_run(client, engine, tenant, "2026-11")
    november = await statement(client, tenant, "2026-11", affiliate_id)
    items = [
        (a["for_period"], a["player_ref"], a["component"], a["amount"], a["event_id"], a["note"])
        for a in november["adjustments"]
    ]
    # q: the lines of the 31st's total (-70) and of the 15th's (+20) are new; the 20th's line
    # went from 150 to 130 (-20, "rebooked"): reported NGR 250 → 180, a change of -70.
    assert items == [
        ("2026-10", "g", "chargeback", "-200.00", late[0], None),
        ("2026-10", "g", "ngr", "-200.00", None, "computed NGR"),
        ("2026-10", "q", "ngr_reported", "-70.00", late[1], None),
        ("2026-10", "q", "ngr_reported", "20.00", late[2], None),
        ("2026-10", "q", "ngr_reported", "-20.00", None, "rebooked"),
        ("2026-10", "q", "ngr", "-70.00", None, "reported NGR"),
    ]
    # NGR 400 - 270 of adjustments = 130 → 25 % = 32.50.
    assert (november["ngr"], november["adjustments_ngr"], november["revshare"]) == (
        "400.00",
        "-270.00",
        "32.50",
    )
    assert november["adjustments"][0]["received_at"] is not None
    # October never changes: a re-run leaves it as it was closed.
    result = await run(client, tenant, "2026-10")
    assert (result["closed_unchanged"], result["statements"]) == (1, [])
    assert await statement(client, tenant, "2026-10", affiliate_id) == october
    # Re-running November books the same adjustments (nothing twice).
    await run(client, tenant, "2026-11")
    again = await statement(client, tenant, "2026-11", affiliate_id)
    assert again["adjustments"] == november["adjustments"]
    assert again["revshare"] == "32.50"


async def test_replay_then_rerun_reproduces_every_figure(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id, _october, _ = await _october_closed(client, engine, tenant)
    await send_rv(
        client,
        tenant,
        rv(tenant, "chargeback", "g", "2026-10-20T10:00:00Z", "200"),
        rv(tenant, "wager_settled", "g", "2026-11-05T10:00:00Z", "-400"),
        rv(tenant, "deposit", "g", "2026-11-05T09:00:00Z", "75.25"),
    )
    await project_and_run(client, engine, tenant, "2026-11")
    before = statement_tables(engine)
    assert len(before["statements"]) == 2
    assert len(before["adjustments"]) == 2
    projector(engine).replay()
    await run(client, tenant, "2026-11")
    assert statement_tables(engine) == before
    november = await statement(client, tenant, "2026-11", affiliate_id)
    assert lines_by_player(november)["g"]["deposits"] == "75.25"


async def test_the_affiliate_sees_only_its_own_closed_statements(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id, october, _ = await _october_closed(client, engine, tenant)
    other_id = await revshare_affiliate(client, tenant, "other")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, other_id, "o-1", "2026-11-01T08:00:00Z"),
        rv(tenant, "wager_settled", "o-1", "2026-11-02T10:00:00Z", "-10"),
    )
    await project_and_run(client, engine, tenant, "2026-11")
    mine, theirs = (
        await _token(client, tenant, affiliate_id),
        await _token(client, tenant, other_id),
    )

    listed = await client.get("/api/v1/affiliate/statements", headers=mine)
    assert [s["id"] for s in listed.json()["statements"]] == [october["id"]]  # not November's
    shown = await client.get(f"/api/v1/affiliate/statements/{october['id']}", headers=mine)
    assert shown.status_code == 200
    salt = player_salt(engine, affiliate_id)
    assert sorted(line["player"] for line in shown.json()["lines"]) == sorted(
        player_hash(salt, brand_id=tenant.brand_id, player_ref=ref) for ref in ("g", "q")
    )
    assert "player_ref" not in shown.text
    assert '"g"' not in shown.text
    as_csv = await client.get(
        f"/api/v1/affiliate/statements/{october['id']}", headers={**mine, "Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sorted((row["ngr"], row["revshare"]) for row in rows) == [
        ("1000.00", "250.00"),
        ("250.00", "62.50"),
    ]
    # Another affiliate: nothing of it, and its own draft is not shown either.
    assert (await client.get("/api/v1/affiliate/statements", headers=theirs)).json()[
        "statements"
    ] == []
    hidden = await client.get(f"/api/v1/affiliate/statements/{october['id']}", headers=theirs)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "not_found")
    assert (await client.get("/api/v1/affiliate/statements")).status_code == 401


async def test_errors(client: httpx.AsyncClient, engine: Engine, tenant: Tenant) -> None:
    affiliate_id, october, _ = await _october_closed(client, engine, tenant)
    admin = tenant.admin_key
    for period in ("2026-13", "26-10", "2026-1", "abc", "2099-01"):
        bad = await post(client, admin, "/api/v1/statements/run", {"period": period})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_request"), period
        assert bad.json()["details"][0]["field"] == "period"
    bad = await post(client, admin, "/api/v1/statements/run", {"month": "2026-10"})
    assert bad.status_code == 400
    forbidden = await post(client, tenant.read_key, "/api/v1/statements/run", {"period": "2026-10"})
    assert forbidden.status_code == 403
    listing = await client.get(
        "/api/v1/statements", params={"status": "open"}, headers={"X-API-Key": admin}
    )
    assert listing.status_code == 400
    missing = await client.get("/api/v1/statements/nope", headers={"X-API-Key": admin})
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    again = await close(client, tenant, october["id"])
    assert (again.status_code, again.json()["error"]) == (409, "already_closed")
    # Another operator sees none of it.
    other = make_tenant(engine, name="other-op")
    foreign = await client.get(
        f"/api/v1/statements/{october['id']}", headers={"X-API-Key": other.admin_key}
    )
    assert foreign.status_code == 404
    refused = await client.post(
        f"/api/v1/statements/{october['id']}/close", headers={"X-API-Key": other.admin_key}
    )
    assert refused.status_code == 404
    # A month before a closed one is not recomputed for that affiliate.
    result = await run(client, tenant, "2026-09")
    assert result["skipped"] == [{"affiliate_id": affiliate_id, "reason": "later_month_closed"}]
    # November and December drafts: December cannot close before November.
    await send_rv(client, tenant, rv(tenant, "wager_settled", "g", "2026-11-05T10:00:00Z", "-1"))
    await project_and_run(client, engine, tenant, "2026-11")
    november = await statement(client, tenant, "2026-11", affiliate_id)
    assert november["status"] == "draft"
    csv_answer = await client.get(
        f"/api/v1/statements/{november['id']}", headers={"X-API-Key": admin, "Accept": "text/csv"}
    )
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert [row["player_ref"] for row in csv.DictReader(io.StringIO(csv_answer.text))] == ["g"]


async def test_a_closed_month_before_the_open_one_must_be_recomputed_first(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await revshare_affiliate(client, tenant, "order")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "p", "2026-09-01T08:00:00Z"),
        rv(tenant, "wager_settled", "p", "2026-09-10T10:00:00Z", "-100"),
        rv(tenant, "wager_settled", "p", "2026-10-10T10:00:00Z", "-100"),
    )
    await project_and_run(client, engine, tenant, "2026-09")
    await run(client, tenant, "2026-10")
    september = await statement(client, tenant, "2026-09", affiliate_id)
    october = await statement(client, tenant, "2026-10", affiliate_id)
    early = await close(client, tenant, october["id"])
    assert (early.status_code, early.json()["error"]) == (409, "earlier_open")
    assert (await close(client, tenant, september["id"])).status_code == 200
    stale = await close(client, tenant, october["id"])
    assert (stale.status_code, stale.json()["error"]) == (409, "stale_statement")
    await run(client, tenant, "2026-10")
    assert (await close(client, tenant, october["id"])).status_code == 200


async def test_cli_run_list_show_close(
    client: httpx.AsyncClient,
    engine: Engine,
    tenant: Tenant,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    affiliate_id = await revshare_affiliate(client, tenant, "cli")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "p", "2026-10-01T08:00:00Z"),
        rv(tenant, "wager_settled", "p", "2026-10-10T10:00:00Z", "-80"),
    )
    project(engine)
    invoke = _cli(database_url, monkeypatch)
    assert "1 statements (1 new, 0 recomputed)" in invoke(
        "statements", "run", "--period", "2026-10", "--operator", "acme"
    )
    listed = invoke("statements", "list", "--period", "2026-10")
    statement_id = listed.split()[0]
    assert "draft" in listed
    assert "total 20.00 EUR" in listed
    assert "payable 20.00 EUR" in listed
    shown = json.loads(invoke("statements", "show", statement_id))
    assert (shown["revshare"], shown["lines"][0]["player_ref"]) == ("20.00", "p")
    assert "closed: payable 20.00 EUR" in invoke("statements", "close", statement_id)
    assert "it never changes" in invoke("statements", "close", statement_id, ok=False)
    assert "no operator" in invoke(
        "statements", "run", "--period", "2026-10", "--operator", "nobody", ok=False
    )
    assert "YYYY-MM" in invoke("statements", "run", "--period", "2026/10", ok=False)


def _cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    monkeypatch.setenv("CROUPIER_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, list(args))
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    return invoke


async def _token(client: httpx.AsyncClient, tenant: Tenant, affiliate_id: str) -> dict[str, str]:
    response = await client.post(
        f"/api/v1/affiliates/{affiliate_id}/tokens", headers={"X-API-Key": tenant.admin_key}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_a_deductions_version_may_not_start_in_a_closed_month(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    await _october_closed(client, engine, tenant)
    for day in ("2026-10-15", "2026-09-01"):
        refused = await post(
            client,
            tenant.admin_key,
            "/api/v1/ngr/deductions",
            {"effective_from": day, "gaming_tax_pct": "10"},
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "period_closed"
    listed = await client.get("/api/v1/ngr/deductions", headers={"X-API-Key": tenant.admin_key})
    assert listed.json()["deductions"] == []
    accepted = await post(
        client,
        tenant.admin_key,
        "/api/v1/ngr/deductions",
        {"effective_from": "2026-11-01", "gaming_tax_pct": "10"},
    )
    assert accepted.status_code in (200, 201), accepted.text
