"""A CPA plan given after a player's events (a new assignment, or a new plan version)
qualifies the player at once, in the same transaction, as a replay would; the postback is
queued once. SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy.engine import Engine
from statement_support import (
    affiliate,
    assign,
    deliveries,
    plan,
    post,
    qualifications,
    registration,
    rv,
    send_rv,
)

from croupier.commissions.statement_models import CpaQualification
from factories import Tenant
from projection_support import project, projector, table_rows

pytestmark = pytest.mark.anyio
CPA = {"kind": "cpa", "cpa": {"amount": "40", "min_first_deposit": "25"}}


async def _player_deposits(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant, aff: str
) -> None:
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, aff, "early", "2026-10-01T10:00:00Z"),
        rv(tenant, "deposit", "early", "2026-10-02T10:00:00Z", "30"),
    )
    project(engine)


async def test_an_assignment_after_the_events_qualifies_at_once(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    found = await affiliate(client, tenant, "late-plan")
    await _player_deposits(client, engine, tenant, found["id"])
    assert qualifications(engine) == {}
    created = await plan(client, tenant, "cpa-late", **CPA)
    await assign(client, tenant, found["id"], created["id"], effective_from="2026-10-01")
    [row] = qualifications(engine).values()
    assert (row.affiliate_id, row.amount, row.rule) == (
        found["id"],
        Decimal("40"),
        "min_first_deposit",
    )
    assert str(row.qualified_at).startswith("2026-10-02 10:00:00")
    assert len(deliveries(engine, "cpa_qualified")) == 0  # no postback configured
    # A replay decides the same.
    before = table_rows(engine, CpaQualification.__table__)  # type: ignore[arg-type]
    projector(engine).replay()
    assert table_rows(engine, CpaQualification.__table__) == before  # type: ignore[arg-type]


async def test_a_plan_version_after_the_events_qualifies_at_once(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    found = await affiliate(client, tenant, "late-version")
    created = await plan(client, tenant, "rs-then-cpa", kind="revshare", revshare={"rate": "20"})
    await assign(client, tenant, found["id"], created["id"])
    await _player_deposits(client, engine, tenant, found["id"])
    assert qualifications(engine) == {}
    response = await post(
        client,
        tenant.admin_key,
        f"/api/v1/commission-plans/{created['id']}/versions",
        {"effective_from": "2026-10-01", **CPA},
    )
    assert response.status_code == 201, response.text
    [row] = qualifications(engine).values()
    assert (row.affiliate_id, row.amount) == (found["id"], Decimal("40"))
    assert row.version_id == response.json()["id"]
