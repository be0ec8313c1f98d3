"""An open-loop HTTP/1.1 load generator: requests leave on a fixed schedule, and latency is
measured from the scheduled send time, so a slow server cannot hide its queueing
(no coordinated omission). Used for the fixed-rate latency scenario; wrk drives the rest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class RateResult:
    offered_rps: float
    sent: int
    ok: int
    errors: int
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


async def fixed_rate(
    host: str,
    port: int,
    *,
    rate: float,
    seconds: float,
    make_request: Callable[[int], bytes],
    connections: int = 64,
    ok_status: int = 200,
) -> RateResult:
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Connection(*await asyncio.open_connection(host, port)))
    result = RateResult(rate, 0, 0, 0, [])
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    pending: set[asyncio.Task[None]] = set()

    async def one(number: int, scheduled: float) -> None:
        connection = await pool.get()
        try:
            status = await connection.exchange(make_request(number))
        except (OSError, asyncio.IncompleteReadError):
            result.errors += 1
            return
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
        if status == ok_status:
            result.ok += 1
        else:
            result.errors += 1
        pool.put_nowait(connection)

    for number in range(total):
        scheduled = start + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(number, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        result.sent += 1
    await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return result
