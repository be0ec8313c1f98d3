"""Statements benchmark: one month's statements for many affiliates over a big ledger.

Seeds a fresh store (bulk inserts straight through the driver, not the API): an operator,
N affiliates with a mix of plans (flat, tiered, ladder RevShare; hybrid CPA + RevShare;
every policy for negative NGR; some sub-affiliates), their players (attributions, first
deposits, some CPA qualifications) and R ledger lines for the month — GGR, deductions,
bonus costs, chargebacks, fees, deposits, reported NGR — partly in USD, partly carrying
their own rate. Then times ``croupier statements run`` for that month (twice: the first
run creates the drafts, the second recomputes them) and prints the figures.

    python -m bench.statements [--rows 1000000] [--affiliates 1000] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.ingest import machine, make_key, prepare_store
from croupier.commissions import statements
from croupier.commissions.statement_models import (
    Statement,
    StatementAdjustment,
    StatementLine,
)
from croupier.kit.db import create_db_engine, write_session

MONTH = date(2026, 10, 1)
COMPONENTS = ("ggr", "ggr", "ggr", "ggr", "gaming_tax", "admin_fee", "deposit", "payment_fee")
RARE = ("bonus_cost", "chargeback", "fee")
PLANS: list[dict[str, Any]] = [
    {"kind": "revshare", "revshare": {"tiers": [{"from": "0", "rate": "25"}]}},
    {
        "kind": "revshare",
        "revshare": {
            "tiers": [{"from": "0", "rate": "20"}, {"from": "5000", "rate": "30"}],
            "basis": "ngr",
            "mode": "tiered",
        },
    },
    {
        "kind": "revshare",
        "revshare": {
            "tiers": [{"from": "0", "rate": "20"}, {"from": "2000", "rate": "30"}],
            "basis": "ngr",
            "mode": "ladder",
        },
        "negative_ngr": "ring_fenced",
    },
    {
        "kind": "hybrid",
        "cpa": {"amount": "50", "min_first_deposit": "20"},
        "revshare": {"tiers": [{"from": "0", "rate": "15"}], "basis": "ngr", "mode": "tiered"},
        "negative_ngr": "reset_monthly",
        "sub_affiliate_pct": "5",
    },
]


def _terms(index: int) -> dict[str, Any]:
    from croupier.commissions import plan_terms

    body = PLANS[index]
    return plan_terms.to_json(plan_terms.parse(body))


def seed(engine: Engine, *, rows: int, affiliates: int, seed_value: int = 7) -> dict[str, Any]:
    """Everything a month's run reads, bulk-inserted; what was made."""
    rng = random.Random(seed_value)
    _secret, brand_id, operator_id = make_key(engine, "bench")
    now = datetime.now(UTC)
    players_per_affiliate = max(1, rows // affiliates // 20)
    tables: dict[str, list[tuple[Any, ...]]] = {
        name: []
        for name in (
            "commission_plans",
            "commission_plan_versions",
            "affiliates",
            "commission_assignments",
            "player_attributions",
            "players",
            "cpa_qualifications",
            "fx_rates",
            "ngr_lines",
        )
    }
    plan_ids = []
    for index in range(len(PLANS)):
        plan_id = str(uuid.uuid4())
        plan_ids.append(plan_id)
        tables["commission_plans"].append((plan_id, operator_id, f"plan-{index}", now))
        terms = _terms(index)
        tables["commission_plan_versions"].append(
            (
                str(uuid.uuid4()),
                plan_id,
                operator_id,
                1,
                date(2026, 1, 1),
                terms["kind"],
                terms,
                now,
            )
        )
    affiliate_ids = [str(uuid.uuid4()) for _ in range(affiliates)]
    players: list[tuple[str, str]] = []
    for number, affiliate_id in enumerate(affiliate_ids):
        parent = affiliate_ids[number - 1] if number % 10 == 9 else None
        tables["affiliates"].append(
            (affiliate_id, operator_id, f"aff-{number}", f"aff-{number}@example.com", "active",
             "EUR" if number % 3 else "USD", parent, "s" * 64, "t" * 64, now)
        )  # fmt: skip
        plan_number = number % len(PLANS)
        tables["commission_assignments"].append(
            (str(uuid.uuid4()), operator_id, affiliate_id, plan_ids[plan_number], None,
             date(2026, 1, 1), now)
        )  # fmt: skip
        for n in range(players_per_affiliate):
            ref = f"p-{number}-{n}"
            players.append((ref, affiliate_id))
            registered = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(
                minutes=rng.randint(0, 80_000)
            )
            first_deposit = registered + timedelta(hours=1)
            tables["player_attributions"].append(
                (operator_id, brand_id, ref, affiliate_id, "click_id", "{}", registered, registered)
            )
            tables["players"].append(
                (operator_id, brand_id, ref, 1, registered, registered, registered, first_deposit,
                 Decimal(rng.randint(10, 300)), "EUR", "active")
            )  # fmt: skip
            if plan_number == 3 and rng.random() < 0.3:
                tables["cpa_qualifications"].append(
                    (operator_id, brand_id, ref, affiliate_id, plan_ids[3], str(uuid.uuid4()),
                     Decimal(50), "EUR", first_deposit, "min_first_deposit", str(uuid.uuid4()),
                     1, first_deposit, "{}")
                )  # fmt: skip
    for day in range(31):
        tables["fx_rates"].append(
            (operator_id, MONTH + timedelta(days=day), "USD", "EUR", Decimal("0.92"))
        )
    tables["fx_rates"].append((operator_id, date(2026, 10, 31), "EUR", "USD", Decimal("1.085")))
    seq = 0
    for line in range(rows):
        ref, _affiliate = players[line % len(players)]
        seq += 1
        component = rng.choice(COMPONENTS) if rng.random() > 0.03 else rng.choice(RARE)
        amount = Decimal(rng.randint(1, 50_000)) / 100
        if component != "deposit" and (component != "ggr" or rng.random() < 0.45):
            amount = -amount
        currency, rated = "EUR", None
        if line % 10 == 0:
            currency = "USD"
            if line % 20 == 0:
                rated = amount * Decimal("0.91")
        component_day = MONTH + timedelta(days=rng.randint(0, 30))
        tables["ngr_lines"].append(
            (operator_id, str(uuid.uuid4()), component, brand_id, ref, component_day, currency,
             amount, rated, seq, 0, now, None, None)
        )  # fmt: skip
    for ref, _affiliate in players[: len(players) // 10]:
        seq += 1
        tables["ngr_lines"].append(
            (operator_id, str(uuid.uuid4()), "ngr_reported", brand_id, ref, date(2026, 10, 31),
             "EUR", Decimal(rng.randint(-5000, 20000)) / 100, None, seq, 0, now, MONTH,
             date(2026, 10, 31))
        )  # fmt: skip
    started = time.perf_counter()
    _bulk(engine, tables)
    _checkpoint(engine, seq)
    return {
        "operator_id": operator_id,
        "brand_id": brand_id,
        "refs": [ref for ref, _affiliate in players],
        "players": len(players),
        "lines": len(tables["ngr_lines"]),
        "seed_seconds": time.perf_counter() - started,
    }


COLUMNS = {
    "commission_plans": "id, operator_id, name, created_at",
    "commission_plan_versions": (
        "id, plan_id, operator_id, number, effective_from, kind, terms, created_at"
    ),
    "affiliates": (
        "id, operator_id, name, email, status, payout_currency, parent_id, postback_secret, "
        "player_salt, created_at"
    ),
    "commission_assignments": (
        "id, operator_id, affiliate_id, plan_id, brand_id, effective_from, created_at"
    ),
    "player_attributions": (
        "operator_id, brand_id, player_ref, affiliate_id, reason, inputs, registered_at, decided_at"
    ),
    "players": (
        "operator_id, brand_id, player_ref, events, first_seen_at, last_activity_at, "
        "registered_at, first_deposit_at, first_deposit_amount, first_deposit_currency, "
        "account_flag"
    ),
    "cpa_qualifications": (
        "operator_id, brand_id, player_ref, affiliate_id, plan_id, version_id, amount, "
        "currency, qualified_at, rule, event_id, event_seq, event_received_at, progress"
    ),
    "fx_rates": "operator_id, day, currency, quote_currency, rate",
    "ngr_lines": (
        "operator_id, event_id, component, brand_id, player_ref, day, currency, amount, "
        "rated_amount, seq, tx_id, received_at, period_start, period_end"
    ),
}


def _cell(value: Any, *, sqlite_store: bool) -> Any:
    import json

    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ") if sqlite_store else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _bulk(engine: Engine, tables: dict[str, list[tuple[Any, ...]]]) -> None:
    sqlite_store = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if sqlite_store:
            cursor.execute("BEGIN")  # the engine's connections leave transactions to BEGIN
        for table, rows in tables.items():
            columns = COLUMNS[table]
            values = [tuple(_cell(v, sqlite_store=sqlite_store) for v in row) for row in rows]
            if sqlite_store:
                marks = ", ".join("?" for _ in columns.split(","))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
            else:
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                for row in values:
                    writer.writerow(["\\N" if v is None else v for v in row])
                buffer.seek(0)
                sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
                with cursor.copy(sql) as copy:  # type: ignore[attr-defined]
                    while data := buffer.read(1 << 20):
                        copy.write(data)
        raw.commit()
    finally:
        raw.close()
    if not sqlite_store:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def _checkpoint(engine: Engine, seq: int) -> None:
    from croupier.projections.models import Checkpoint

    with write_session(engine) as session, session.begin():
        session.add(
            Checkpoint(name="main", tx_id=0, seq=seq, events=seq, updated_at=datetime.now(UTC))
        )


def time_run(
    engine: Engine, operator_id: str, period: date = MONTH
) -> tuple[float, float, statements.RunResult]:
    """A run as the API and CLI do it: compute in a read transaction, then the short write
    (the only part that holds the write lock); (total seconds, write seconds, result)."""
    started = time.perf_counter()
    with Session(engine) as session:
        computed = statements.compute(
            session, operator_id=operator_id, period=period, now=datetime.now(UTC)
        )
    writing = time.perf_counter()
    with write_session(engine) as session, session.begin():
        result = statements.store(session, computed)
    ended = time.perf_counter()
    return ended - started, ended - writing, result


def late_month(engine: Engine, made: dict[str, Any], *, late: int) -> None:
    """Close the month, book ``late`` lines of it after the close (and as many of the next
    month), then time the next month's run, which itemises them as adjustments."""
    from sqlalchemy import update

    from croupier.commissions import statement_sql
    from croupier.commissions.ledger import NGR_LINES
    from croupier.projections.models import Checkpoint

    operator_id = made["operator_id"]
    with write_session(engine) as session, session.begin():
        session.execute(
            update(Statement)
            .where(Statement.operator_id == operator_id, Statement.period == MONTH)
            .values(status="closed", closed_at=datetime.now(UTC), closed_by="bench")
        )
        checkpoint = session.get(Checkpoint, "main")
        assert checkpoint is not None
        closed_at_seq = checkpoint.seq
    rng = random.Random(11)
    refs = made["refs"]
    rows: list[tuple[Any, ...]] = []
    seq = closed_at_seq
    now = datetime.now(UTC)
    following = (MONTH + timedelta(days=32)).replace(day=1)
    for number in range(2 * late):
        seq += 1
        month = MONTH if number < late else following
        rows.append(
            (operator_id, str(uuid.uuid4()), rng.choice(("ggr", "chargeback")), made["brand_id"],
             refs[rng.randrange(len(refs))], month + timedelta(days=rng.randint(0, 29)), "EUR",
             Decimal(rng.randint(-50_000, 50_000)) / 100, None, seq, 0, now, None, None)
        )  # fmt: skip
    _bulk(engine, {"ngr_lines": rows})
    with write_session(engine) as session, session.begin():
        found = session.get(Checkpoint, "main")
        assert found is not None
        found.seq = found.events = seq
    first, last = statement_sql.month_bounds(MONTH)
    line = NGR_LINES
    with Session(engine) as session:
        postgres = statement_sql.prepare(session)
        started = time.perf_counter()
        query = statement_sql.late_players_query(
            postgres=postgres, operator_id=operator_id, first=first, last=last,
            covered=(0, closed_at_seq),
        )  # fmt: skip
        found_players = len(session.execute(query).all())
        by_position = time.perf_counter() - started
        started = time.perf_counter()
        # The lookup as it was: the month's lines by day (its history), filtered by seq.
        old = (
            select(line.c.brand_id, line.c.player_ref)
            .where(
                line.c.operator_id == operator_id,
                line.c.day.between(first, last),
                line.c.seq > closed_at_seq,
            )
            .distinct()
        )
        assert len(session.execute(old).all()) == found_players
        by_day = time.perf_counter() - started
    print(
        f"closed {MONTH:%Y-%m}; booked {late:,} late lines of it and {late:,} of "
        f"{following:%Y-%m}: finding the {found_players:,} players with late lines "
        f"took {by_position * 1000:.1f} ms by ledger position "
        f"(the month's lines by day: {by_day * 1000:.1f} ms)"
    )
    seconds, write_seconds, result = time_run(engine, operator_id, following)
    with Session(engine) as session:
        adjustments = session.scalar(select(func.count()).select_from(StatementAdjustment))
    print(
        f"{following:%Y-%m} run after the close: {seconds:.2f}s — "
        f"{len(result.statements):,} statements, {adjustments:,} adjustment rows; "
        f"write phase {write_seconds:.2f}s"
    )


def verify(engine: Engine, operator_id: str, sample: int = 200) -> int:
    """Statement lines of a sample of players equal the ledger's own exact month totals."""
    from croupier.commissions import ledger
    from croupier.commissions.statement_figures import FIELDS

    with Session(engine) as session:
        totals = ledger.player_month_totals(session, operator_id=operator_id, month=MONTH)
        found = session.scalars(select(StatementLine).limit(sample)).all()
        for line in found:
            components = totals[(line.brand_id, line.player_ref)]
            for component, name in FIELDS.items():
                expected = components[component].value if component in components else None
                shown = getattr(line, name)
                if component == "ngr_reported" and expected is None:
                    assert shown is None
                else:
                    assert shown == (expected or 0), (line.player_ref, component, shown, expected)
    return len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--affiliates", type=int, default=1000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--late",
        type=int,
        default=0,
        help="then close the month, book this many late lines of it, time the next month",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        url, cleanup = prepare_store(args.database, Path(workdir))
        engine = create_db_engine(url)
        try:
            print(f"machine: {machine()}")
            made = seed(engine, rows=args.rows, affiliates=args.affiliates)
            print(
                f"seeded {made['lines']:,} ledger lines, {made['players']:,} players, "
                f"{args.affiliates:,} affiliates on {args.database} in {made['seed_seconds']:.1f}s"
            )
            for label in ("first run (creates drafts)", "second run (recomputes drafts)"):
                seconds, write_seconds, result = time_run(engine, made["operator_id"])
                print(
                    f"{label}: {seconds:.2f}s — {len(result.statements):,} statements, "
                    f"{result.created} new, {result.updated} recomputed; write phase "
                    f"(holds the write lock) {write_seconds:.2f}s"
                )
            with engine.connect() as conn:
                lines = conn.scalar(select(func.count()).select_from(StatementLine))
                total = conn.scalar(select(func.count()).select_from(Statement))
            print(f"stored: {total:,} statements, {lines:,} statement lines")
            checked = verify(engine, made["operator_id"])
            print(f"verified {checked} players' lines against ledger.player_month_totals: equal")
            if args.late:
                late_month(engine, made, late=args.late)
            print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        finally:
            engine.dispose()
            cleanup()


if __name__ == "__main__":
    main()
