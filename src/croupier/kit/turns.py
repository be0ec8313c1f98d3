"""Turns on the event loop for long synchronous work, so replies are not held behind it.

The event loop runs, in one pass, every callback that was ready when the pass began, and
only then looks at its sockets again. When a wave of request bodies arrives at once, each
request's parsing runs in that one pass: with 64 connections sending batches of 100
events, about 200 ms in which the answers the store process had already sent back were
not read, so their clients could not send again and the store process idled. Work that
takes a turn first runs at most one such piece per pass, with a look at the sockets
between any two.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    """``await turns.take()`` before a long synchronous stretch: at most one taker per pass
    of the event loop, in the order they asked."""

    def __init__(self) -> None:
        self._taken = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def take(self) -> None:
        if self._taken or self._waiting:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # handed this turn: pass it on
                    self._pass()
                raise
        self._taken = True
        asyncio.get_running_loop().call_soon(self._pass)

    def _pass(self) -> None:
        """The next pass's turn, to the first taker still waiting."""
        self._taken = False
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self._taken = True  # held for it until it runs
                return
