"""CPA qualification: the projection handler, through the real ingest API and projector, on
SQLite and PostgreSQL; the cpa_qualified postback queued once; the CPA on the statement."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine
from statement_support import (
    affiliate,
    assign,
    deliveries,
    lines_by_player,
    plan,
    player_salt,
    postback,
    project_and_run,
    qualifications,
    rates,
    registration,
    rv,
    send_rv,
    statement,
)

from croupier.affiliates.affiliate_auth import player_hash
from croupier.commissions.statement_models import CpaQualification
from factories import Tenant
from projection_support import ft_casino, project, projector, send, table_rows

pytestmark = pytest.mark.anyio
D = Decimal
CPA = {
    "kind": "cpa",
    "cpa": {
        "amount": "50",
        "window_days": 7,
        "min_first_deposit": "10",
        "min_total_deposits": "100",
    },
}


async def _cpa_affiliate(client: httpx.AsyncClient, tenant: Tenant, **terms: object) -> str:
    found = await affiliate(client, tenant, "cpa-aff")
    created = await plan(client, tenant, "cpa", **(terms or CPA))
    await assign(client, tenant, found["id"], created["id"])
    return str(found["id"])


async def test_third_deposit_inside_the_window_qualifies_one_day_late_does_not(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await _cpa_affiliate(client, tenant)
    template = await postback(
        client,
        tenant,
        affiliate_id,
        "https://aff.example/pb?e={event}&p={player}&a={amount}&c={currency}",
        ["cpa_qualified"],
    )
    # Registered 2026-10-01T10:00: the window ends 2026-10-08T10:00. Deposits 20, 30, 60:
    # the first is over 10, the total reaches 100 only with the third.
    events = []
    for player, third in (("in-time", "2026-10-08T09:00:00Z"), ("late", "2026-10-09T09:00:00Z")):
        events += [
            registration(engine, tenant, affiliate_id, player, "2026-10-01T10:00:00Z"),
            rv(tenant, "deposit", player, "2026-10-02T10:00:00Z", "20"),
            rv(tenant, "deposit", player, "2026-10-04T10:00:00Z", "30"),
            rv(tenant, "deposit", player, third, "60"),
        ]
    random.Random(3).shuffle(events)
    ids = {}
    for event in events:  # one at a time, shuffled: arrival order must not matter
        [ids[event["idempotency_key"]]] = await send_rv(client, tenant, event)
        projector(engine, batch_size=1).drain()
    found = qualifications(engine)
    assert set(found) == {"in-time"}
    row = found["in-time"]
    third_key = next(
        e["idempotency_key"]
        for e in events
        if e["player_external_ref"] == "in-time" and e["event_time"].startswith("2026-10-08")
    )
    assert (row.rule, row.event_id, row.amount, row.currency) == (
        "min_total_deposits",
        ids[third_key],
        D("50"),
        "EUR",
    )
    assert row.qualified_at == datetime.fromisoformat("2026-10-08T09:00:00+00:00")
    assert row.progress == {
        "deposits": 3,
        "first_deposit": "20",
        "deposits_total": "110",
        "turnover": "0",
        "bets": 0,
    }
    sent = deliveries(engine, "cpa_qualified")
    assert [(d.player_ref, d.template_id, d.status) for d in sent] == [
        ("in-time", template["id"], "pending")
    ]
    salt = player_salt(engine, affiliate_id)
    assert parse_qs(urlsplit(sent[0].url).query) == {
        "e": ["cpa_qualified"],
        "p": [player_hash(salt, brand_id=tenant.brand_id, player_ref="in-time")],
        "a": ["50"],
        "c": ["EUR"],
    }
    # A replay rebuilds the same row and never queues the postback again.
    before = table_rows(engine, CpaQualification.__table__)  # type: ignore[arg-type]
    projector(engine).replay()
    assert table_rows(engine, CpaQualification.__table__) == before  # type: ignore[arg-type]
    assert len(deliveries(engine, "cpa_qualified")) == 1
    # The statement pays it in October.
    await project_and_run(client, engine, tenant, "2026-10")
    document = await statement(client, tenant, "2026-10", affiliate_id)
    assert {ref: line["cpa"] for ref, line in lines_by_player(document).items()} == {
        "in-time": "50.00",
        "late": "0.00",
    }
    assert lines_by_player(document)["in-time"]["cpa_rule"] == "min_total_deposits"
    assert (document["cpa"], document["revshare"], document["payable"]) == (
        "50.00",
        "0.00",
        "50.00",
    )


async def test_excluded_flags_block_qualification_before_not_after(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    affiliate_id = await _cpa_affiliate(client, tenant)
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, affiliate_id, "excluded", "2026-10-01T10:00:00Z"),
        rv(
            tenant,
            "account_flag_changed",
            "excluded",
            "2026-10-02T08:00:00Z",
            metadata={"flag": "self_excluded"},
        ),
        rv(tenant, "deposit", "excluded", "2026-10-02T10:00:00Z", "200"),
        # A flag after qualification does not undo it.
        registration(engine, tenant, affiliate_id, "flagged-later", "2026-10-01T10:00:00Z"),
        rv(tenant, "deposit", "flagged-later", "2026-10-02T10:00:00Z", "150"),
        rv(
            tenant,
            "account_flag_changed",
            "flagged-later",
            "2026-10-03T08:00:00Z",
            metadata={"flag": "duplicate"},
        ),
        # A flag the plan does not exclude (closed) is no obstacle.
        registration(engine, tenant, affiliate_id, "closed", "2026-10-01T10:00:00Z"),
        rv(
            tenant,
            "account_flag_changed",
            "closed",
            "2026-10-01T11:00:00Z",
            metadata={"flag": "closed"},
        ),
        rv(tenant, "deposit", "closed", "2026-10-02T10:00:00Z", "100"),
    )
    project(engine)
    found = qualifications(engine)
    assert sorted(found) == ["closed", "flagged-later"]
    assert {ref: row.rule for ref, row in found.items()} == {
        "closed": "min_total_deposits",
        "flagged-later": "min_total_deposits",
    }


async def test_turnover_and_bets_rules_with_fast_track_rates(
    client: httpx.AsyncClient, engine: Engine, tenant: Tenant
) -> None:
    # Hybrid terms with bet rules, no window: a first deposit (any amount), a turnover of
    # 100 EUR and 2 bets. Fast Track bets in USD at the event's own rate 0.5 → 40 USD
    # is 20 EUR; a DataPulse USD bet is valued with the fx_rates row of its day.
    found = await affiliate(client, tenant, "bets")
    created = await plan(
        client,
        tenant,
        "bets",
        kind="hybrid",
        cpa={"amount": "25", "min_turnover": "100", "min_bets": 2},
        revshare={"rate": "10"},
    )
    await assign(client, tenant, found["id"], created["id"])
    await rates(
        client, tenant, {"date": "2026-10-03", "currency": "USD", "quote": "EUR", "rate": "0.8"}
    )
    await send_rv(
        client,
        tenant,
        registration(engine, tenant, found["id"], "ft-1", "2026-10-01T10:00:00Z"),
        rv(tenant, "deposit", "ft-1", "2026-10-01T11:00:00Z", "5"),
    )
    for n, (stamp, amount) in enumerate(
        (("2026-10-02T10:00:00Z", "40"), ("2026-10-02T11:00:00Z", "100"))
    ):
        await send(
            client,
            tenant.key,
            "/v1/integration/casino",
            ft_casino(
                activity_id=f"a-{n}",
                round_id=f"r-{n}",
                user_id="ft-1",
                amount=D(amount),
                currency="USD",
                exchange_rate=D("0.5"),
                timestamp=stamp,
            ),
        )
    project(engine)
    assert qualifications(engine) == {}  # 20 + 50 = 70 EUR over 2 bets: not yet
    dp_bet = {
        "client_user_id": "ft-1",
        "event_name": "bet",
        "transaction_id": "dp-bet-1",
        "timestamp": 1791028800,  # 2026-10-03T12:00:00Z
        "amount": D("37.5"),
        "currency": "USD",
    }
    await send(client, tenant.key, "/v2/s2s/event", dp_bet)
    project(engine)
    row = qualifications(engine)["ft-1"]
    assert (row.rule, row.progress["turnover"], row.progress["bets"]) == (
        "min_turnover",
        "100.00",
        3,
    )
