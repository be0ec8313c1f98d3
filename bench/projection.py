"""Projection benchmark: events projected per second on SQLite and PostgreSQL.

Fills a fresh store's event log with a realistic mix (Fast Track registrations,
payments, bonus lifecycles and casino rounds; DataPulse deposits and bets with their
results), interleaved across players as live traffic is, then times the projector
folding the whole log into every projection (players, rounds, sessions, bonuses,
player-days), batch by batch, each batch one transaction with its checkpoint.

    python -m bench.projection [--events 60000] [--stores sqlite,postgresql] [--record]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.ingest import RESULTS, cpu_snapshot, machine, make_key, prepare_store
from croupier.dialects import datapulse, fasttrack
from croupier.dialects.fasttrack import FtType
from croupier.ingest.auth import KeyInfo
from croupier.ingest.service import event_row
from croupier.ingest.store import EVENT_INSERTS
from croupier.kit.db import create_db_engine
from croupier.projections import registry
from croupier.projections.engine import DEFAULT_BATCH, Projector
from croupier.serving import tune_runtime
from croupier.tenancy.service import Scope

START = datetime(2026, 10, 1, tzinfo=UTC)
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def player_events(rng: random.Random, number: int) -> list[tuple[str, Any]]:
    """About 30 wire events of one player: (dialect, payload)."""
    player = f"p{number}"
    base = START + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
    common = {"user_id": player, "origin": "bench"}
    events: list[tuple[str, Any]] = [
        ("user_create", {**common, "timestamp": _iso(base), "ip_address": "192.0.2.1"})
    ]
    for deposit in range(2):
        payment = {
            **common,
            "amount": Decimal(rng.randint(10, 500)),
            "currency": "EUR",
            "exchange_rate": Decimal(1),
            "payment_id": f"{player}-pay-{deposit}",
            "status": "Approved",
            "timestamp": _iso(base + timedelta(minutes=5 + deposit * 600)),
            "type": "Credit",
            "vendor_id": "psp",
        }
        events.append(("payment", payment))
    bonus = f"{player}-bonus"
    for status, minutes in (("Created", 6), ("Completed", 300)):
        events.append(
            (
                "bonus",
                {
                    **common,
                    "amount": Decimal(20),
                    "bonus_id": "welcome",
                    "currency": "EUR",
                    "exchange_rate": Decimal(1),
                    "product": "Casino",
                    "status": status,
                    "timestamp": _iso(base + timedelta(minutes=minutes)),
                    "type": "FreeMoney",
                    "user_bonus_id": bonus,
                },
            )
        )
    moment = base + timedelta(minutes=10)
    for round_number in range(10):
        moment += timedelta(minutes=rng.choice([1, 2, 3, 45]))
        stake = Decimal(rng.randint(1, 2000)) / 100
        win = rng.random() < 0.4
        for kind, amount, offset in (
            ("Bet", stake, 0),
            ("Win" if win else "Loss", stake * 2 if win else Decimal(0), 2),
        ):
            casino = {
                **common,
                "activity_id": f"{player}-{round_number}-{kind}",
                "amount": amount,
                "currency": "EUR",
                "exchange_rate": Decimal(1),
                "game_id": f"g{rng.randint(1, 40)}",
                "game_name": "Slot",
                "game_type": "Slots",
                "is_round_end": kind != "Bet",
                "round_id": f"{player}-r{round_number}",
                "status": "Approved",
                "timestamp": _iso(moment + timedelta(seconds=offset)),
                "type": kind,
                "vendor_id": "netent",
                "vendor_name": "NetEnt",
            }
            if round_number < 3:
                casino["user_bonus_id"] = bonus
            events.append(("casino", casino))
    for bet_number in range(3):
        at = int((moment + timedelta(minutes=bet_number)).timestamp())
        bet = {
            "client_user_id": player,
            "event_name": "bet",
            "timestamp": at,
            "transaction_id": f"{player}-dp-{bet_number}",
            "amount": Decimal(5),
            "currency": "EUR",
            "bet_result": "loss",
            "bet_result_amount": Decimal(-5),
        }
        events.append(("datapulse", bet))
    return events


def parse(dialect: str, payload: Any) -> Any:
    if dialect == "datapulse":
        return datapulse.parse(payload, future_limit=FUTURE)
    ft_type = {
        "user_create": FtType.USER_CREATE_V2,
        "payment": FtType.PAYMENT,
        "bonus": FtType.BONUS,
        "casino": FtType.CASINO,
    }[dialect]
    return fasttrack.parse(ft_type, payload, future_limit=FUTURE)


def _moment(payload: dict[str, Any]) -> float:
    stamp = payload["timestamp"]
    if isinstance(stamp, int):
        return float(stamp)
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def fill_log(url: str, events: int, seed: int, order: str) -> tuple[str, int]:
    """Insert ``events`` (about) into the log with the ingest store's own encoder."""
    engine = create_db_engine(url)
    _secret, brand, operator_id = make_key(engine, f"proj-{uuid.uuid4().hex[:6]}")
    info = KeyInfo("bench", operator_id, brand, frozenset({brand}), Scope.INGEST, None, False)
    rng = random.Random(seed)
    wire: list[tuple[str, Any]] = []
    number = 0
    while len(wire) < events:
        wire.extend(player_events(rng, number))
        number += 1
    if order == "shuffled":  # players interleave, and events arrive out of order
        rng.shuffle(wire)
    else:  # live traffic: players interleave, each player's events roughly in time order
        wire.sort(key=lambda item: _moment(item[1]))
    received = datetime.now(UTC)
    rows = []
    for dialect, payload in wire:
        draft = parse(dialect, payload)
        assert not isinstance(draft, list), draft
        rows.append(event_row(draft, info, source="http", received_at=received))
    encoder = EVENT_INSERTS[engine.dialect.name]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = ", ".join(encoder.columns)
        for start in range(0, len(rows), 1000):
            chunk = [encoder.params(row) for row in rows[start : start + 1000]]
            if engine.dialect.name == "sqlite":
                marks = ", ".join(["?"] * len(encoder.columns))
                cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(f"INSERT INTO events ({columns}) VALUES ({marks})", chunk)
            else:
                with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                    for values in chunk:
                        copy.write_row(values)
            raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return operator_id, len(rows)


def bench_store(store: str, args: argparse.Namespace, workdir: Path) -> str:
    url, cleanup = prepare_store(store, workdir)
    try:
        _operator, events = fill_log(url, args.events, args.seed, args.order)
        # As `croupier worker` and `croupier replay` open theirs.
        engine = create_db_engine(url, background_checkpoints=True)
        projector = Projector(engine, registry.handlers(), batch_size=args.batch)
        started = time.perf_counter()
        # PostgreSQL's backends do the projector's statements on the same two cores.
        cpu_started, postgres_started = time.process_time(), cpu_snapshot(os.getpgid(0))
        applied = projector.drain()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        postgres = (cpu_snapshot(os.getpgid(0)) - postgres_started).postgres
        replay_started = time.perf_counter()
        replayed = projector.replay()
        replay_elapsed = time.perf_counter() - replay_started
        projector.wait_for_statistics()
        engine.dispose()
    finally:
        cleanup()
    assert applied == replayed == events, (applied, replayed, events)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_column = f"{cpu * 1e6 / events:.0f}"
    if store == "postgresql":
        cpu_column += f" ({postgres * 1e6 / events:.0f})"
    return (
        f"| {store} | {args.order} | {events:,} | {args.batch} | {events / elapsed:,.0f} | "
        f"{events / replay_elapsed:,.0f} | {elapsed:.1f} s | {cpu_column} | {rss_mb:.0f} MB |"
    )


# CPU time per event barely moves when the VM's neighbours do; throughput moved by up to
# 1.5x between runs of the same code.
HEADER = (
    "| store | arrival | events | batch | projected events/s | replay events/s | time | "
    "CPU µs/event (PostgreSQL) | peak RSS |\n|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--order",
        choices=("live", "shuffled"),
        default="live",
        help="live: each player's events in time order; shuffled: any order",
    )
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    tune_runtime()  # as `croupier worker` and `croupier replay` do
    print(HEADER, flush=True)
    lines = []
    with tempfile.TemporaryDirectory() as workdir:
        for store in args.stores.split(","):
            line = bench_store(store, args, Path(workdir))
            print(line, flush=True)
            lines.append(line)
    if args.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = [
            f"\n## Projection — {stamp}\n",
            f"Machine: {machine()}. `python -m bench.projection --events {args.events}"
            f"{'' if args.batch == DEFAULT_BATCH else f' --batch {args.batch}'}`: "
            "the log is filled first, then the projector folds it into every projection "
            "(one transaction per batch, checkpoint included); replay = rebuild from empty.\n",
            HEADER,
            *lines,
            "",
        ]
        with RESULTS.open("a") as results:
            results.write("\n".join(block))


if __name__ == "__main__":
    main()
