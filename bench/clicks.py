"""Click benchmark: ``GET /t/{code}`` on a real ``croupier serve``, driven by wrk over loopback.

    python -m bench.clicks [--stores sqlite,postgresql] [--seconds 10] [--record]

For each store: an operator, brand, affiliate and tracking link are created, then wrk hammers
``/t/{code}?sub1=...`` with a varying sub1 and user agent (a few hundred distinct visitors,
so both unique and repeat clicks are decided). It prints clicks/s, p50/p95/p99 latency,
errors and the server's peak RSS, and checks the store holds at least as many clicks as
wrk counted 302 answers (a redirect is sent only after its click is committed; wrk may stop
waiting for at most one answer per connection whose click was still committed).
Target: >= 3,000 clicks/s and p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.ingest import (
    RESULTS,
    RssSampler,
    free_port,
    machine,
    prepare_store,
    start_server,
    stop_server,
)
from bench.loadgen import fixed_rate
from croupier.affiliates import management
from croupier.affiliates.models import Click
from croupier.kit.db import create_db_engine, write_session
from croupier.tenancy import service as tenancy

LUA = r"""
-- Each request: a fresh sub1, one of VISITORS user agents (repeat visitors are not unique).
local code = os.getenv("CODE")
local visitors = tonumber(os.getenv("VISITORS") or "500")
local threads = {}
local counter = 0
redirects, other = 0, 0

function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

function request()
   counter = counter + 1
   local visitor = (counter * 7919 + (thread_id or 0)) % visitors
   local headers = {["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 v" .. visitor}
   local path = "/t/" .. code .. "?sub1=s" .. (thread_id or 0) .. "-" .. counter .. "&sub2=uk"
   return wrk.format("GET", path, headers)
end

function response(status, headers, body)
   if status == 302 then redirects = redirects + 1 else other = other + 1 end
end

function done(summary, latency, requests)
   local r, o = 0, 0
   for _, thread in ipairs(threads) do
      r = r + (tonumber(thread:get("redirects")) or 0)
      o = o + (tonumber(thread:get("other")) or 0)
   end
   local errors = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"socket_errors":%d,"timeouts":%d,"redirects":%d,"other":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
      latency:percentile(99), latency.max, errors.connect + errors.read + errors.write,
      errors.timeout, r, o))
end
"""
HEADER = (
    "| store | connections | clicks/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB "
    "| server CPU µs/click | stored check |"
)


@dataclass
class Row:
    store: str
    connections: int | str
    clicks_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    peak_rss_mb: float
    cpu_us_per_click: float
    check: str


def make_link(url: str) -> tuple[str, str]:
    """An operator, brand, affiliate and link: (link code, link id)."""
    engine = create_db_engine(url)
    try:
        with write_session(engine) as session, session.begin():
            operator = tenancy.create_operator(session, name="bench-clicks")
            brand = tenancy.create_brand(
                session, operator=operator, name="b", landing_url="https://casino.example/welcome"
            )
            affiliate = management.create_affiliate(
                session, operator_id=operator.id, name="Bench", email="bench@aff.example"
            )
            link = management.create_link(
                session, operator_id=operator.id, affiliate_id=affiliate.id, brand_id=brand.id
            )
            return link.code, link.id
    finally:
        engine.dispose()


def count_clicks(url: str, link_id: str) -> tuple[int, int]:
    engine = create_db_engine(url)
    try:
        with Session(engine) as session:
            total = session.scalar(select(func.count()).where(Click.link_id == link_id))
            unique = session.scalar(
                select(func.count()).where(Click.link_id == link_id, Click.is_unique.is_(True))
            )
            return int(total or 0), int(unique or 0)
    finally:
        engine.dispose()


def run_wrk(
    *, port: int, code: str, seconds: int, threads: int, connections: int, lua: Path
) -> dict[str, Any]:
    env = {**os.environ, "CODE": code, "VISITORS": "500"}
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    return result


def bench_store(store: str, args: argparse.Namespace, lua: Path) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        url, cleanup = prepare_store(store, Path(workdir))
        try:
            code, link_id = make_link(url)
            port = free_port()
            server = start_server(url, port, args.workers)
            try:
                for connections in args.connections:
                    before, _ = count_clicks(url, link_id)
                    with RssSampler(server.pid) as rss:
                        result = run_wrk(
                            port=port,
                            code=code,
                            seconds=args.seconds,
                            threads=args.threads,
                            connections=connections,
                            lua=lua,
                        )
                    stored, unique = count_clicks(url, link_id)
                    stored -= before
                    unread = stored - result["redirects"]
                    check = (
                        f"ok (+{unread} unread, {unique} unique so far)"
                        if 0 <= unread <= connections
                        else f"MISMATCH stored {stored}, redirects {result['redirects']}"
                    )
                    seconds = result["duration_us"] / 1e6
                    row = Row(
                        store,
                        connections,
                        result["redirects"] / seconds,
                        result["p50_us"] / 1000,
                        result["p95_us"] / 1000,
                        result["p99_us"] / 1000,
                        result["socket_errors"] + result["timeouts"] + result["other"],
                        rss.peak_kb / 1024,
                        rss.cpu.server * 1e6 / max(1, result["redirects"]),
                        check,
                    )
                    print(format_row(row), flush=True)
                    rows.append(row)
                if args.rate:
                    row = fixed_rate_clicks(
                        store, url, link_id, port=port, code=code, pgid=server.pid, args=args
                    )
                    print(format_row(row), flush=True)
                    rows.append(row)
            finally:
                stop_server(server)
        finally:
            cleanup()
    return rows


def fixed_rate_clicks(
    store: str,
    url: str,
    link_id: str,
    *,
    port: int,
    code: str,
    pgid: int,
    args: argparse.Namespace,
) -> Row:
    """Clicks offered at a fixed rate by the open-loop client: latency is measured from each
    request's scheduled time, so queueing in the server shows (no coordinated omission)."""

    def make_request(number: int) -> bytes:
        visitor = number * 7919 % 500
        return (
            f"GET /t/{code}?sub1=r{number}&sub2=uk HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 v{visitor}\r\n\r\n"
        ).encode()

    before, _ = count_clicks(url, link_id)
    with RssSampler(pgid) as rss:
        result = asyncio.run(
            fixed_rate(
                "127.0.0.1",
                port,
                rate=args.rate,
                seconds=args.seconds,
                make_request=make_request,
                ok_status=302,
            )
        )
    stored, unique = count_clicks(url, link_id)
    stored -= before
    check = (
        f"ok ({unique} unique so far)"
        if stored == result.ok
        else f"MISMATCH stored {stored}, redirects {result.ok}"
    )
    return Row(
        store,
        f"{args.rate}/s offered",
        result.ok / args.seconds,
        result.percentile(50),
        result.percentile(95),
        result.percentile(99),
        result.errors,
        rss.peak_kb / 1024,
        rss.cpu.server * 1e6 / max(1, result.ok),
        check,
    )


def format_row(row: Row) -> str:
    return (
        f"| {row.store} | {row.connections} | {row.clicks_per_s:,.0f} | {row.p50_ms:.2f} "
        f"| {row.p95_ms:.2f} | {row.p99_ms:.2f} | {row.errors} | {row.peak_rss_mb:.0f} "
        f"| {row.cpu_us_per_click:.0f} | {row.check} |"
    )


def record(rows: list[Row], args: argparse.Namespace) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=RESULTS.parent,
    ).stdout.strip()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"\n## {stamp} — clicks (GET /t/{{code}}), commit {commit}\n",
        f"Machine: {machine()}. wrk on the same machine ({args.threads} threads), "
        f"`croupier serve --workers {args.workers}`, {args.seconds} s per row, projector off. "
        "Each redirect is answered after its click is committed (group commit).\n",
        HEADER,
        "|" + "---|" * 10,
        *[format_row(row) for row in rows],
        "",
    ]
    with RESULTS.open("a") as results:
        results.write("\n".join(block))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[16, 64], help="wrk connections per row"
    )
    parser.add_argument(
        "--rate", type=int, default=3000, help="open-loop row at this many clicks/s (0: none)"
    )
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    print(f"machine: {machine()}")
    print(HEADER)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scripts:
        lua = Path(scripts) / "clicks.lua"
        lua.write_text(LUA)
        for store in args.stores.split(","):
            rows.extend(bench_store(store.strip(), args, lua))
    if args.record:
        record(rows, args)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
