"""Event ids: UUIDv7 (RFC 9562), time-ordered, so the event_id index grows at its end
instead of taking random inserts (twice the insert rate on SQLite, see bench/RESULTS.md)."""

from __future__ import annotations

import os
import random
import time

# Ids need to be unique, not secret (reading an event back needs the operator's key), so a
# PRNG seeded from the OS per process is enough and saves a system call per id.
_random = random.Random(os.urandom(32))
_seeded_pid = os.getpid()


def uuid7() -> str:
    global _random, _seeded_pid
    if os.getpid() != _seeded_pid:  # a forked child must not repeat its parent's sequence
        _random, _seeded_pid = random.Random(os.urandom(32)), os.getpid()
    millis = time.time_ns() // 1_000_000
    rand_a = _random.getrandbits(12)
    rand_b = _random.getrandbits(62)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
