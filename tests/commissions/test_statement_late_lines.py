"""Late lines of closed months: found among the lines booked since the affiliate's latest
closed statement (the ledger's position index), each booked once, month after month.
SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from statement_support import (
    close,
    project_and_run,
    registration,
    revshare_affiliate,
    rv,
    send_rv,
    statement,
)

from croupier.commissions import statement_sql
from croupier.kit.db import create_db_engine
from factories import Tenant

pytestmark = pytest.mark.anyio


def _items(document: dict[str, object]) -> list[tuple[str, str, str, str]]:
    return [
        (a["for_period"], a["player_ref"], a["component"], a["amount"])
        for a in document["adjustments"]  # type: ignore[attr-defined]
    ]


async def test_late_lines_are_booked_once_across_closed_months(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await revshare_affiliate(client, tenant, "late2")
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "g", "2026-09-01T08:00:00Z"),
        rv(tenant, "wager_settled", "g", "2026-09-10T10:00:00Z", "-1000"),
    )
    await project_and_run(client, engine, tenant, "2026-09")
    september = await statement(client, tenant, "2026-09", affiliate_id)
    assert (await close(client, tenant, september["id"])).status_code == 200
    # Late for September; October's own win.
    await send_rv(
        client,
        tenant,
        rv(tenant, "chargeback", "g", "2026-09-20T10:00:00Z", "200"),
        rv(tenant, "wager_settled", "g", "2026-10-05T10:00:00Z", "-400"),
    )
    await project_and_run(client, engine, tenant, "2026-10")
    october = await statement(client, tenant, "2026-10", affiliate_id)
    assert _items(october) == [
        ("2026-09", "g", "chargeback", "-200.00"),
        ("2026-09", "g", "ngr", "-200.00"),
    ]
    assert (await close(client, tenant, october["id"])).status_code == 200
    # Later still: a second September chargeback and a late October one.
    await send_rv(
        client,
        tenant,
        rv(tenant, "chargeback", "g", "2026-09-21T10:00:00Z", "50.5"),
        rv(tenant, "chargeback", "g", "2026-10-21T10:00:00Z", "7.25"),
    )
    await project_and_run(client, engine, tenant, "2026-11")
    november = await statement(client, tenant, "2026-11", affiliate_id)
    assert _items(november) == [
        ("2026-09", "g", "chargeback", "-50.50"),
        ("2026-09", "g", "ngr", "-50.50"),
        ("2026-10", "g", "chargeback", "-7.25"),
        ("2026-10", "g", "ngr", "-7.25"),
    ]
    assert (november["adjustments_ngr"], november["revshare"]) == ("-57.75", "0.00")


def test_late_players_read_the_position_index(sqlite_template: Path, tmp_path: Path) -> None:
    """On SQLite (no planner statistics) the late lines are read by position, not by day."""
    path = tmp_path / "plan.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        statement_sql.prepare(session)
        query = statement_sql.late_players_query(
            postgres=False,
            operator_id="o",
            first=date(2026, 9, 1),
            last=date(2026, 9, 30),
            covered=(0, 10),
        )
        compiled = query.compile(session.get_bind())
        values = [compiled.params[name] for name in compiled.positiontup or []]
        plan = (
            session.connection()
            .exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}",
                tuple(v.isoformat() if isinstance(v, date) else v for v in values),
            )
            .all()
        )
    engine.dispose()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_ngr_lines_position (operator_id=? AND tx_id=? AND seq>?)" in details, details
