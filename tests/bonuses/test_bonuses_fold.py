"""The pure parts of the bonus fold: lifecycle from a history, violations from fields."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from croupier.bonuses.projection import blank_bonus, lifecycle, violations

D = Decimal
START = datetime(2026, 11, 1, 10, tzinfo=UTC)
KEY = ("op", "brand", "p-1", "ABCD")


def step(seq: int, status: str, minutes: int, **fields: Any) -> dict[str, Any]:
    """One stored bonus event, as ``bonus_events`` holds it."""
    row: dict[str, Any] = dict.fromkeys(
        (
            "currency",
            "bonus_turned_real",
            "locked_amount",
            "required_wagering",
            "bonus_id",
            "bonus_type",
            "product",
            "bonus_code",
        )
    )
    row.update(
        seq=seq,
        status=status,
        occurred_at=START + timedelta(minutes=minutes),
        amount=D("100"),
        currency="EUR",
    )
    row.update(fields)
    return row


def folded(history: list[dict[str, Any]], **casino: Any) -> dict[str, Any]:
    ordered = sorted(history, key=lambda row: (row["occurred_at"], row["seq"]))
    row = {**blank_bonus(KEY), **lifecycle(ordered), **casino}
    return {**row, **violations(row)}


def test_a_second_created_is_flagged_and_the_first_one_counts() -> None:
    row = folded([step(1, "created", 0), step(2, "created", 5, amount=D("40"))])
    assert (row["created_count"], row["second_created"]) == (2, True)
    assert row["created_at"] == START
    assert row["amount_awarded"] == D("100")
    assert row["events_after_closure"] is False


def test_claimed_and_ongoing_do_not_close_a_bonus() -> None:
    row = folded([step(1, "created", 0), step(2, "claimed", 1), step(3, "ongoing", 2)])
    assert row["status"] == "ongoing"
    assert row["closed_at"] is None
    assert row["closed_status"] is None


@pytest.mark.parametrize(
    ("status", "turned_real", "forfeited"),
    [
        ("completed", D("100"), None),
        ("autocompleted", D("100"), None),
        ("forfeited", None, D("100")),
        ("expired", None, D("100")),
        ("lost", None, D("100")),
        ("reversed", None, D("100")),
        ("notapplicable", None, None),
    ],
)
def test_each_closing_status_books_its_amount(
    status: str, turned_real: Decimal | None, forfeited: Decimal | None
) -> None:
    row = folded([step(1, "created", 0), step(2, status, 30)])
    assert (row["closed_status"], row["closed_at"]) == (status, START + timedelta(minutes=30))
    assert (row["amount_turned_real"], row["amount_forfeited"]) == (turned_real, forfeited)


def test_bonus_turned_real_wins_over_the_bonus_amount() -> None:
    row = folded([step(1, "created", 0), step(2, "completed", 30, bonus_turned_real=D("0.5"))])
    assert row["amount_turned_real"] == D("0.5")


def test_the_history_order_decides_not_the_arrival_order() -> None:
    history = [
        step(1, "created", 0),
        step(2, "ongoing", 10),
        step(3, "completed", 20),
        step(4, "lost", 30),
    ]
    results = [folded(list(order)) for order in itertools.permutations(history)]
    assert all(result == results[0] for result in results)
    assert (results[0]["status"], results[0]["closed_status"]) == ("lost", "completed")
    assert results[0]["events_after_closure"] is True


def test_a_casino_event_stamped_with_the_created_time_is_no_violation() -> None:
    row = folded(
        [step(1, "created", 0)], casino_events=1, first_casino_at=START, last_casino_at=START
    )
    assert row["casino_before_created"] is False


def test_a_casino_event_stamped_with_the_closure_time_is_no_violation() -> None:
    closed = START + timedelta(minutes=30)
    row = folded(
        [step(1, "created", 0), step(2, "completed", 30)],
        casino_events=1,
        first_casino_at=closed,
        last_casino_at=closed,
    )
    assert row["events_after_closure"] is False
