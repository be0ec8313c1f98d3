"""What every format shares: the result of parsing one wire event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from croupier.dialects.fields import Fields, type_name
from croupier.events.model import EventDraft
from croupier.kit.errors import FieldError

Parsed = EventDraft | list[FieldError]


def reader(value: Any, *, future_limit: datetime) -> Fields | list[FieldError]:
    """A field reader over one event, or the error saying it is not an object."""
    if not isinstance(value, dict):
        return [
            FieldError(
                "", "invalid_type", f"an event must be a JSON object, got {type_name(value)}"
            )
        ]
    return Fields(value, future_limit=future_limit)
