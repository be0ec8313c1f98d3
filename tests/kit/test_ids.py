"""Event ids: UUIDv7, time-ordered, and never repeated by a forked worker."""

from __future__ import annotations

import os
import uuid

from croupier.kit.ids import uuid7


def test_ids_are_version_7_and_ordered_by_time() -> None:
    ids = [uuid7() for _ in range(1000)]
    parsed = [uuid.UUID(value) for value in ids]
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in parsed)
    assert len(set(ids)) == 1000
    millis = [value.int >> 80 for value in parsed]
    assert millis == sorted(millis)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    uuid7()  # the parent's generator is in use before the fork, as in a server
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids and leave at once
        os.close(read_end)
        os.write(write_end, ",".join(uuid7() for _ in range(20)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [uuid7() for _ in range(20)]
    # The random parts (the last 74 bits): the same generator state would repeat them all.
    assert {uuid.UUID(value).int & ((1 << 74) - 1) for value in child}.isdisjoint(
        uuid.UUID(value).int & ((1 << 74) - 1) for value in parent
    )
