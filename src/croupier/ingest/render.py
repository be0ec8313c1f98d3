"""Answers in each format's documented shape."""

from __future__ import annotations

from typing import Any

from croupier.ingest.outcome import Outcome, Status
from croupier.kit.errors import ApiError


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    counts = dict.fromkeys(Status, 0)
    for outcome in outcomes:
        counts[outcome.status] += 1
    return {
        "total": len(outcomes),
        "accepted": counts[Status.ACCEPTED],
        "duplicates": counts[Status.DUPLICATE],
        "errors": counts[Status.REJECTED] + counts[Status.CONFLICT],
    }


def result(outcome: Outcome, index: int | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if index is not None:
        out["index"] = index
    out["event_id"] = outcome.event_id
    out.update(extra)
    out["status"] = outcome.status.value
    if outcome.errors:
        out["errors"] = [error.as_dict(index) for error in outcome.errors]
    return out


def single(outcome: Outcome) -> dict[str, Any]:
    """DataPulse and Fast Track, one event: its id and status, or a 400."""
    if not outcome.ok:
        raise _refusal([outcome], [result(outcome, None)], single=True)
    return result(outcome, None)


def batch(outcomes: list[Outcome], results: list[dict[str, Any]]) -> dict[str, Any]:
    """A summary and one result per event; a 400 when not one event was taken."""
    if outcomes and not any(outcome.ok for outcome in outcomes):
        raise _refusal(outcomes, results, single=False)
    return {"summary": summary(outcomes), "results": results}


def _refusal(outcomes: list[Outcome], results: list[dict[str, Any]], *, single: bool) -> ApiError:
    details = [detail for item in results for detail in item.get("errors", [])]
    conflict = all(outcome.status is Status.CONFLICT for outcome in outcomes)
    if single:
        code = "conflict" if conflict else "invalid_event"
        message = (
            "the idempotency key was already used for different content"
            if conflict
            else "the event is invalid; see details"
        )
        return ApiError(400, code, message, details=details, extra=results[0])
    return ApiError(
        400,
        "no_event_accepted",
        "no event in the batch was accepted; see details",
        details=details,
        extra={"summary": summary(outcomes), "results": results},
    )
