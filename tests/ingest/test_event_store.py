"""The event store's classification of a group: new, duplicate (same key, same content) and
conflict (same key, other content), against keys stored before and keys earlier in the same
group. SQLite inserts first and looks keys up only when some were skipped; PostgreSQL looks
them up first: both must answer alike."""

from __future__ import annotations

from typing import Any

from helpers import dp_event, pending_of, rejected, stored_events
from sqlalchemy.engine import Engine

from croupier.ingest.outcome import Outcome, Status
from croupier.ingest.store import EventStore
from factories import Tenant


def _write(engine: Engine, tenant: Tenant, *payloads: dict[str, Any]) -> list[Outcome]:
    return EventStore(engine).write([pending_of(tenant, payload) for payload in payloads], [])


def test_a_group_of_new_events_is_all_accepted_under_the_ids_it_brought(
    engine: Engine, tenant: Tenant
) -> None:
    events = [pending_of(tenant, dp_event(transaction_id=f"t{n}")) for n in range(3)]
    outcomes = EventStore(engine).write(events, [])
    assert [(o.status, o.event_id) for o in outcomes] == [
        (Status.ACCEPTED, event.row["event_id"]) for event in events
    ]
    assert sorted(e.event_id for e in stored_events(engine)) == sorted(
        event.row["event_id"] for event in events
    )


def test_keys_stored_before_and_keys_earlier_in_the_group_are_duplicates_or_conflicts(
    engine: Engine, tenant: Tenant
) -> None:
    (first,) = _write(engine, tenant, dp_event(transaction_id="old"))
    outcomes = _write(
        engine,
        tenant,
        dp_event(transaction_id="new"),
        dp_event(transaction_id="old"),  # a retry: duplicate of the stored event
        dp_event(transaction_id="old", amount=99),  # conflict with the stored event
        dp_event(transaction_id="new"),  # duplicate of the first event of this group
        dp_event(transaction_id="new", amount=7),  # conflict with it
        dp_event(transaction_id="later"),
    )
    statuses = [o.status for o in outcomes]
    assert statuses == [
        Status.ACCEPTED,
        Status.DUPLICATE,
        Status.CONFLICT,
        Status.DUPLICATE,
        Status.CONFLICT,
        Status.ACCEPTED,
    ]
    new_id = outcomes[0].event_id
    assert [o.event_id for o in outcomes[1:5]] == [first.event_id, first.event_id, new_id, new_id]
    assert [o.errors for o in outcomes if o.status is not Status.CONFLICT] == [[]] * 4
    assert {o.errors[0].code for o in outcomes if o.status is Status.CONFLICT} == {"conflict"}

    stored = {e.transaction_id: e for e in stored_events(engine)}
    assert set(stored) == {"old", "new", "later"}
    assert stored["new"].event_id == new_id
    assert stored["new"].amount == 50  # the first content, not the conflicting one
    conflicts = rejected(engine)
    assert len(conflicts) == 2
    assert all(r.errors[0]["code"] == "conflict" for r in conflicts)
    assert sorted(r.payload for r in conflicts) == sorted(
        pending_of(tenant, dp_event(transaction_id=tx, amount=amount)).row["raw"]
        for tx, amount in (("old", 99), ("new", 7))
    )


def test_a_group_that_is_all_retries_stores_nothing_more(engine: Engine, tenant: Tenant) -> None:
    sent = [dp_event(transaction_id=f"t{n}") for n in range(4)]
    first = _write(engine, tenant, *sent)
    again = _write(engine, tenant, *sent)
    assert [o.status for o in again] == [Status.DUPLICATE] * 4
    assert [o.event_id for o in again] == [o.event_id for o in first]
    assert len(stored_events(engine)) == 4
    assert rejected(engine) == []
