"""The error model every answer uses: ``{"error", "message", "details": [...]}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, frozen=True)
class FieldError:
    """One problem with one field of one event."""

    field: str
    code: str
    message: str

    def as_dict(self, index: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if index is not None:
            out["index"] = index
        out.update(field=self.field, code=self.code, message=self.message)
        return out


class ApiError(Exception):
    """An answer other than success, with its HTTP status and machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        out.update(self.extra)
        return out


class StoreUnavailable(Exception):
    """The store cannot be reached or is overloaded; nothing was acknowledged (a 503)."""


def invalid(
    field: str, message: str, code: str = "invalid_value", *, error: str = "invalid_request"
) -> ApiError:
    """A 400 naming the one field at fault (``error``: invalid_request for bodies,
    invalid_query for query parameters)."""
    return ApiError(
        400,
        error,
        f"{field}: {message}",
        details=[{"field": field, "code": code, "message": message}],
    )
