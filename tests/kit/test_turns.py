"""Turns: at most one taker per pass of the event loop, in the order they asked."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from croupier.kit.turns import Turns

pytestmark = pytest.mark.anyio


class Passes:
    """Counts passes of the event loop: a callback that re-schedules itself once a pass."""

    def __init__(self) -> None:
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def test_takers_run_one_a_pass_in_the_order_they_asked() -> None:
    turns = Turns()
    passes = Passes()
    ran: list[tuple[str, int]] = []

    async def taker(name: str) -> None:
        await turns.take()
        ran.append((name, passes.count))

    try:
        await asyncio.gather(*(taker(name) for name in "abcd"))
    finally:
        passes.stop()
    assert [name for name, _ in ran] == list("abcd")
    moments = [moment for _, moment in ran]
    assert all(later > earlier for earlier, later in pairwise(moments))


async def test_a_lone_taker_does_not_wait() -> None:
    turns = Turns()
    passes = Passes()
    try:
        before = passes.count
        await turns.take()
        assert passes.count == before  # no pass went by
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        before = passes.count
        await turns.take()  # the earlier turn has passed: this one is free again
        assert passes.count == before
    finally:
        passes.stop()


async def test_a_taker_cancelled_after_its_turn_came_passes_it_on() -> None:
    turns = Turns()
    loop = asyncio.get_running_loop()
    first = asyncio.ensure_future(turns.take())
    second = asyncio.ensure_future(turns.take())
    await turns.take()  # this pass's turn: `first` and `second` will wait behind it
    # Next pass: both start waiting, the turn goes to `first`, then `first` is cancelled
    # before it could run.
    loop.call_soon(first.cancel)
    await asyncio.wait_for(second, timeout=1)
    assert first.cancelled()


async def test_a_taker_cancelled_while_waiting_is_skipped() -> None:
    turns = Turns()
    loop = asyncio.get_running_loop()
    first = asyncio.ensure_future(turns.take())
    second = asyncio.ensure_future(turns.take())
    # Next pass: both start waiting, `first` is cancelled, and only then is the turn passed.
    loop.call_soon(first.cancel)
    await turns.take()
    await asyncio.wait_for(second, timeout=1)
    assert first.cancelled()
