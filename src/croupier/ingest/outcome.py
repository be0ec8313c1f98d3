"""What ingest answers for each event, and what it hands the writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from croupier.kit.errors import FieldError, StoreUnavailable


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    CONFLICT = "conflict"


@dataclass(slots=True)
class Outcome:
    status: Status
    event_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (Status.ACCEPTED, Status.DUPLICATE)


@dataclass(slots=True)
class PendingEvent:
    """One valid event, as the row to insert plus what the store checks it against."""

    row: dict[str, Any]
    key_field: str  # the payload field that carries the idempotency key, for error messages
    endpoint: str
    position: int | None  # index in the request's batch; None for a single event
    # The INSERT's values, computed off the writer's thread when the store is known: the
    # writer is the bottleneck under load, the event loop's thread is not.
    params: tuple[Any, ...] | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        row = self.row
        return row["operator_id"], row["format"], row["idempotency_key"]


class WriterOverloaded(StoreUnavailable):
    """The writer's queue is full: refuse quickly instead of piling up memory."""


def rejected_row(
    *,
    operator_id: str,
    api_key_id: str | None,
    fmt: str,
    source: str,
    endpoint: str,
    position: int | None,
    received_at: datetime,
    errors: list[FieldError],
    payload: str,
) -> dict[str, Any]:
    """A ``rejected_events`` row: what was refused, why, from whom, and when."""
    return {
        "operator_id": operator_id,
        "api_key_id": api_key_id,
        "format": fmt,
        "source": source,
        "endpoint": endpoint,
        "position": position,
        "received_at": received_at,
        "errors": [error.as_dict() for error in errors],
        "payload": payload,
    }
