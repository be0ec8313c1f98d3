"""Ingest benchmark: Croupier as a real server process, driven over loopback.

    python -m bench.ingest [--stores sqlite,postgresql] [--seconds 10] [--workers 1] [--record]

For each store it prints events/s, requests/s, p50/p95/p99 latency, errors, the server's
peak RSS and its CPU time per event (the store process's share, and PostgreSQL's) per
scenario, next to two ceilings measured in the same run on the same machine, each right
before the scenario it is compared with: the HTTP ceiling (the same server stack answering
a no-work endpoint) and the storage ceiling (the same rows bulk-inserted with the driver,
no HTTP). After each scenario it checks that the store holds exactly as many events as the
answers said were accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.loadgen import fixed_rate
from croupier.events.models import Event
from croupier.kit import migrate
from croupier.kit.db import create_db_engine, write_session
from croupier.tenancy import service as tenancy

HERE = Path(__file__).resolve().parent
LUA = HERE / "ingest.lua"
RESULTS = HERE / "RESULTS.md"
PG_URL = os.environ.get(
    "CROUPIER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SINGLE_DEPOSIT = (
    '{{"client_user_id":"player_{n}","event_name":"deposit","transaction_id":"{run}-{n}",'
    '"timestamp":1702963200,"amount":50.00,"currency":"EUR","ip_address":"203.0.113.1"}}'
)


@dataclass
class Scenario:
    name: str
    lua: str
    batch: int
    replay: bool = False
    connections: int = 32


# Each ceiling is measured right before the scenario compared with it (the storage ceiling
# before the DataPulse batch, see bench_store): this VM's speed drifts by up to 1.5x within
# minutes, and a ceiling from another spell made the ratio meaningless.
SCENARIOS = [
    Scenario("DataPulse batch of 100", "dp_batch", 100, connections=16),
    Scenario("Revvvs batch of 100", "rv_batch", 100, connections=16),
    Scenario("http ceiling (no-work endpoint, 1-event body)", "null", 1, connections=64),
    Scenario("DataPulse single events", "dp_single", 1, connections=64),
    Scenario("Fast Track casino single events", "ft_casino", 1, connections=64),
    Scenario(
        "duplicate-heavy replay (batch of 100, each sent twice)",
        "dp_batch",
        100,
        replay=True,
        connections=16,
    ),
]


@dataclass
class Row:
    store: str
    scenario: str
    events_per_s: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    peak_rss_mb: float
    check: str
    # CPU µs per event: the server's process group, of which its store processes, and
    # PostgreSQL's processes (0 on SQLite).
    cpu_us_per_event: float = 0.0
    store_cpu_us_per_event: float = 0.0
    postgres_cpu_us_per_event: float = 0.0
    # Server processes; for the storage ceiling, those of the (idle) server it was measured beside.
    workers: int = 0


# --- the store and the server ----------------------------------------------------------------


def prepare_store(kind: str, workdir: Path) -> tuple[str, Any]:
    """A fresh, migrated store; returns its URL and a cleanup callable."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        cleanup: Any = lambda: None  # noqa: E731 - the temp dir goes with the run
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_db_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"

        def cleanup() -> None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url, cleanup


def make_key(engine: Engine, name: str) -> tuple[str, str, str]:
    """An operator with an unlimited ingest key: (secret, brand id, operator id)."""
    with write_session(engine) as session, session.begin():
        operator = tenancy.create_operator(session, name=name)
        brand = tenancy.create_brand(session, operator=operator, name=f"{name}-brand")
        issued = tenancy.create_key(
            session, operator=operator, brand=brand, rate_limit=tenancy.UNLIMITED
        )
        return issued.secret, brand.id, operator.id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    url: str, port: int, workers: int, *, projector: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CROUPIER_DATABASE_URL": url,
        "CROUPIER_LOG_REQUESTS": "false",
        "CROUPIER_BOOTSTRAP_DEMO": "false",
        "CROUPIER_BENCH_NULL_ENDPOINT": "true",
        "CROUPIER_LOG_LEVEL": "WARNING",
        # By default ingest alone, as in production where `croupier worker` projects (the
        # projector's own speed is bench/projection.py's); --projector runs it embedded.
        "CROUPIER_PROJECTOR_IN_PROCESS": "true" if projector else "false",
    }
    croupier = Path(sys.executable).parent / "croupier"
    process = subprocess.Popen(
        [str(croupier), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(
                    process.stderr.read().decode() if process.stderr else ""
                ) from None
            time.sleep(0.2)
    raise RuntimeError("the server did not become ready in 30 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class CpuTimes(NamedTuple):
    """CPU time (user + system) used so far, in seconds: a figure that, unlike throughput,
    barely moves when other work shares the machine. ``server``: the server's whole process
    group; ``store``: the store processes among it; ``postgres``: every PostgreSQL process
    on the machine (its backends do the store's work on the same two cores)."""

    server: float
    store: float
    postgres: float


@dataclass(frozen=True)
class CpuSnapshot:
    """Each process's CPU time so far: pid -> (server, store, postgres) seconds."""

    processes: dict[int, tuple[float, float, float]]

    def __sub__(self, earlier: CpuSnapshot) -> CpuTimes:
        """What the processes used since ``earlier``, process by process: a process that
        ended meanwhile (a PostgreSQL backend whose connection closed) takes nothing away
        from the others, as it did from a difference of totals. (A pid reused meanwhile
        counts as nothing rather than as less than nothing.)"""
        used = [0.0, 0.0, 0.0]
        for pid, now in self.processes.items():
            then = earlier.processes.get(pid, (0.0, 0.0, 0.0))
            for role in range(3):
                used[role] += max(0.0, now[role] - then[role])
        return CpuTimes(*used)


def cpu_snapshot(pgid: int) -> CpuSnapshot:
    clock = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[float, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().rsplit(")", 1)
            fields = rest.split()
            used = (int(fields[11]) + int(fields[12])) / clock  # utime, stime
            if comm.endswith("(postgres"):
                processes[int(entry.name)] = (0.0, 0.0, used)
            elif os.getpgid(int(entry.name)) == pgid:
                store = b"croupier.ingest.store_process" in (entry / "cmdline").read_bytes()
                processes[int(entry.name)] = (used, used if store else 0.0, 0.0)
        except (OSError, ProcessLookupError, IndexError, ValueError):
            continue
    return CpuSnapshot(processes)


def cpu_times(pgid: int) -> CpuTimes:
    """The CPU time used so far by the live processes of each role."""
    return cpu_snapshot(pgid) - CpuSnapshot({})


def per_event(cpu: CpuTimes, events: float) -> CpuTimes:
    return CpuTimes(*(seconds * 1e6 / max(1, events) for seconds in cpu))


class RssSampler:
    """Peak resident memory of the server's process group (parent and workers), summed,
    and the CPU time the group (and PostgreSQL) used while sampling."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.peak_kb = 0
        self.cpu = CpuTimes(0.0, 0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._cpu_start = cpu_snapshot(self.pgid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu = cpu_snapshot(self.pgid) - self._cpu_start

    def _run(self) -> None:
        members: list[Path] = []
        next_scan = 0.0
        while not self._stop.is_set():
            # The group's processes are found once a second (a walk of /proc costs the
            # machine more than reading a few status files ten times a second).
            if time.monotonic() >= next_scan:
                members = self._members()
                next_scan = time.monotonic() + 1.0
            total = 0
            for entry in members:
                try:
                    for line in (entry / "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                except OSError:
                    continue
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(0.1)

    def _members(self) -> list[Path]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) == self.pgid:
                    found.append(entry)
            except (OSError, ProcessLookupError):
                continue
        return found


# --- the scenarios ---------------------------------------------------------------------------


def run_wrk(
    scenario: Scenario, *, port: int, key: str, brand: str, seconds: int, threads: int
) -> dict[str, Any]:
    env = {
        **os.environ,
        "SCENARIO": scenario.lua,
        "BATCH": str(scenario.batch),
        "KEY": key,
        "BRAND": brand,
        "REPLAY": "1" if scenario.replay else "0",
        "RUN": uuid.uuid4().hex[:8],
    }
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(scenario.connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    return result


def count_stored(engine: Engine, operator_id: str) -> int:
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(Event).where(Event.operator_id == operator_id)
        )
        return int(count or 0)


def wrk_row(
    store: str,
    scenario: Scenario,
    result: dict[str, Any],
    *,
    stored: int | None,
    peak_kb: int,
    cpu: CpuTimes,
) -> Row:
    seconds = result["duration_us"] / 1e6
    requests_per_s = result["requests"] / seconds
    errors = (
        result["socket_errors"]
        + result["status_errors"]
        + result["timeouts"]
        + result["non200"]
        + result["failed"]
    )
    check = "-"
    if stored is not None:
        # wrk stops mid-flight: requests it sent but stopped waiting for may still be
        # committed (at most one per connection), but nothing acknowledged may be missing.
        unread = stored - result["accepted"]
        if 0 <= unread <= scenario.connections * scenario.batch:
            check = f"ok (+{unread} unread)" if unread else "ok"
        else:
            check = f"MISMATCH stored {stored}, acknowledged {result['accepted']}"
    events_per_s = (result["accepted"] + result["duplicate"]) / seconds
    if scenario.lua == "null":
        events_per_s = requests_per_s * scenario.batch
    return Row(
        store,
        scenario.name,
        events_per_s,
        requests_per_s,
        result["p50_us"] / 1000,
        result["p95_us"] / 1000,
        result["p99_us"] / 1000,
        errors,
        peak_kb / 1024,
        check,
        *per_event(cpu, events_per_s * seconds),
    )


def fixed_rate_row(
    store: str,
    *,
    port: int,
    key: str,
    engine: Engine,
    operator_id: str,
    rate: int,
    seconds: int,
    pgid: int,
) -> Row:
    run = uuid.uuid4().hex[:8]

    def make_request(number: int) -> bytes:
        body = SINGLE_DEPOSIT.format(n=number, run=run).encode()
        return (
            f"POST /v2/s2s/event HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    with RssSampler(pgid) as rss:
        result = asyncio.run(
            fixed_rate("127.0.0.1", port, rate=rate, seconds=seconds, make_request=make_request)
        )
    stored = count_stored(engine, operator_id)
    check = "ok" if stored == result.ok else f"MISMATCH stored {stored} != accepted {result.ok}"
    return Row(
        store,
        f"single events at {rate} req/s offered",
        result.ok / seconds,
        result.sent / seconds,
        result.percentile(50),
        result.percentile(95),
        result.percentile(99),
        result.errors,
        rss.peak_kb / 1024,
        check,
        *per_event(rss.cpu, result.ok),
    )


def storage_ceiling(url: str, *, rows: int = 60_000, per_commit: int = 1000) -> Row:
    """The same rows the DataPulse batch scenario stores, bulk-inserted with the driver."""
    from croupier.dialects import datapulse
    from croupier.ingest.auth import KeyInfo
    from croupier.ingest.service import event_row
    from croupier.ingest.store import EVENT_INSERTS
    from croupier.kit import jsoncodec
    from croupier.tenancy.service import Scope

    engine = create_db_engine(url)
    _key, brand, operator_id = make_key(engine, f"ceiling-{uuid.uuid4().hex[:6]}")
    info = KeyInfo("ceiling", operator_id, brand, frozenset({brand}), Scope.INGEST, None, False)
    future = datetime.now(UTC).replace(year=2100)
    prepared = []
    for number in range(rows):
        wire = jsoncodec.decode(SINGLE_DEPOSIT.format(n=number, run="ceiling").encode())
        draft = datapulse.parse(wire, future_limit=future)
        assert not isinstance(draft, list)
        prepared.append(event_row(draft, info, source="http", received_at=datetime.now(UTC)))
    # The store's own encoder, so the ceiling inserts exactly what ingest inserts.
    encoder = EVENT_INSERTS["sqlite" if url.startswith("sqlite") else "postgresql"]
    columns = encoder.columns
    sqlite = url.startswith("sqlite")
    placeholder = "?" if sqlite else "%s"
    sql = (
        f"INSERT INTO events ({', '.join(columns)}) "
        f"VALUES ({', '.join([placeholder] * len(columns))})"
    )
    params = [encoder.params(row) for row in prepared]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for start in range(0, rows, per_commit):
            chunk = params[start : start + per_commit]
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(sql, chunk)
            else:  # PostgreSQL's fastest bulk path with this driver
                with cursor.copy(f"COPY events ({', '.join(columns)}) FROM STDIN") as copy:
                    for values in chunk:
                        copy.write_row(values)
            raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
    stored = count_stored(engine, operator_id)
    engine.dispose()
    return Row(
        "",
        f"storage ceiling ({'executemany' if sqlite else 'COPY'}, {per_commit} rows/commit)",
        rows / elapsed,
        0,
        0,
        0,
        0,
        0,
        0,
        "ok" if stored == rows else "MISMATCH",
    )


# --- the run ---------------------------------------------------------------------------------


def bench_store(store: str, args: argparse.Namespace) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="croupier-bench-"))
    url, cleanup = prepare_store(store, workdir)
    engine = create_db_engine(url)
    rows: list[Row] = []
    try:
        for workers in (int(n) for n in args.workers.split(",")):
            port = free_port()
            server = start_server(url, port, workers, projector=args.projector)
            try:
                for scenario in SCENARIOS:
                    if args.only and not any(word in scenario.name for word in args.only):
                        continue
                    if scenario.lua == "dp_batch" and not scenario.replay:
                        # The server is idle meanwhile: the ceiling has both cores.
                        ceiling = storage_ceiling(url)
                        ceiling.store, ceiling.workers = store, workers
                        rows.append(ceiling)
                        print_row(ceiling)
                    key, brand, operator_id = make_key(engine, f"s-{uuid.uuid4().hex[:8]}")
                    with RssSampler(server.pid) as rss:
                        result = run_wrk(
                            scenario,
                            port=port,
                            key=key,
                            brand=brand,
                            seconds=args.seconds,
                            threads=args.threads,
                        )
                    stored = None if scenario.lua == "null" else count_stored(engine, operator_id)
                    row = wrk_row(
                        store,
                        scenario,
                        result,
                        stored=stored,
                        peak_kb=rss.peak_kb,
                        cpu=rss.cpu,
                    )
                    row.workers = workers
                    rows.append(row)
                    print_row(row)
                key, _brand, operator_id = make_key(engine, f"r-{uuid.uuid4().hex[:8]}")
                row = fixed_rate_row(
                    store,
                    port=port,
                    key=key,
                    engine=engine,
                    operator_id=operator_id,
                    rate=args.rate,
                    seconds=args.seconds,
                    pgid=server.pid,
                )
                row.workers = workers
                rows.append(row)
                print_row(row)
            finally:
                stop_server(server)
    finally:
        engine.dispose()
        cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


HEADER = (
    "| store | workers | scenario | events/s | req/s | p50 ms | p95 ms | p99 ms | errors | "
    "peak RSS MB | server CPU µs/event (store process; PostgreSQL) | stored = accepted |"
)


def format_row(row: Row) -> str:
    return (
        f"| {row.store} | {row.workers or '-'} | {row.scenario} | {row.events_per_s:,.0f} | "
        f"{row.requests_per_s:,.0f} | {row.p50_ms:.1f} | {row.p95_ms:.1f} | "
        f"{row.p99_ms:.1f} | {row.errors} | {row.peak_rss_mb:.0f} | "
        f"{cpu_column(row)} | {row.check} |"
    )


def cpu_column(row: Row) -> str:
    if not row.cpu_us_per_event:
        return "0"
    parts = [f"{row.store_cpu_us_per_event:.0f}"]
    if row.store == "postgresql":
        parts.append(f"{row.postgres_cpu_us_per_event:.0f}")
    return f"{row.cpu_us_per_event:.0f} ({'; '.join(parts)})"


def print_row(row: Row) -> None:
    print(format_row(row), flush=True)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def summarize(rows: list[Row]) -> list[str]:
    lines = []
    for store in sorted({row.store for row in rows}):
        mine = [row for row in rows if row.store == store]
        for workers in sorted({row.workers for row in mine if row.workers}):
            served = {row.scenario: row for row in mine if row.workers == workers}
            http = next((r for n, r in served.items() if n.startswith("http ceiling")), None)
            storage = next((r for n, r in served.items() if n.startswith("storage ceil")), None)
            batch = served.get("DataPulse batch of 100")
            single = served.get("DataPulse single events")
            label = f"{store}, {workers} worker{'s' if workers > 1 else ''}"
            if batch and storage:
                lines.append(
                    f"- {label}: batch of 100 = {batch.events_per_s:,.0f} events/s = "
                    f"{batch.events_per_s / storage.events_per_s:.0%} of the storage ceiling"
                )
            if single and http:
                lines.append(
                    f"- {label}: single events = {single.requests_per_s:,.0f} req/s = "
                    f"{single.requests_per_s / http.requests_per_s:.0%} of the HTTP ceiling "
                    f"({http.requests_per_s:,.0f} req/s with as many workers)"
                )
    return lines


def record(rows: list[Row], args: argparse.Namespace) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"\n## {stamp} — commit {commit}\n",
        f"Machine: {machine()}. Load generator on the same machine (wrk, {args.threads} "
        f"threads; open-loop asyncio client for the fixed rate). Server: `croupier serve "
        f"--workers N` for N in {args.workers}, {args.seconds} s per scenario, projector "
        f"{'embedded in the server' if args.projector else 'off (ingest alone)'}.\n",
        HEADER,
        "|" + "---|" * 12,
        *[format_row(row) for row in rows],
        "",
        *summarize(rows),
        "",
    ]
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nNewest last; earlier rows stay so progress "
            "shows. `make bench` appends a block.\n"
        )
    with RESULTS.open("a") as results:
        results.write("\n".join(block))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--workers", default="1,2", help="server processes, one run per number: 1,2"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rate", type=int, default=1000, help="fixed-rate scenario, req/s")
    parser.add_argument("--only", nargs="*", help="run scenarios whose name contains a word")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument(
        "--projector", action="store_true", help="run the projector inside the server too"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    print(f"machine: {machine()}")
    print(HEADER)
    rows: list[Row] = []
    for store in args.stores.split(","):
        rows.extend(bench_store(store.strip(), args))
    print("\n".join(summarize(rows)))
    if args.record:
        record(rows, args)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
