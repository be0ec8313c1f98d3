"""Answer a list as JSON or, when the client asks with ``Accept: text/csv``, as CSV.

One header row, then one row per item. Nested objects are flattened into dotted columns
(``first_deposit_amount.EUR``), Decimals are written exactly (never in exponent form), times
in ISO 8601, ``None`` as an empty cell. A CSV answer carries one page: the next page's cursor
travels in the ``X-Next-Cursor`` header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from croupier.kit import jsoncodec

CSV_MEDIA_TYPE = "text/csv"
# What a spreadsheet would run as a formula. Sub-ids and landing URLs come from the outside
# world, so a text cell starting with one of these is defused with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# For an OpenAPI ``responses`` entry: a list answer documented in both media types.
CSV_OR_JSON: dict[str, Any] = {
    "content": {
        "application/json": {},
        CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
    }
}


def wants_csv(request: Request) -> bool:
    """True when ``Accept`` prefers ``text/csv`` (or ``text/*``) at least as much as JSON."""
    csv_quality = json_quality = 0.0
    for media, quality in _accepted(request.headers.get("accept", "")):
        if media in (CSV_MEDIA_TYPE, "text/*"):
            csv_quality = max(csv_quality, quality)
        elif media in ("application/json", "application/*", "*/*"):
            json_quality = max(json_quality, quality)
    return csv_quality > 0 and csv_quality >= json_quality


def _accepted(header: str) -> Iterable[tuple[str, float]]:
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        yield media.lower(), quality


def list_response(
    request: Request,
    body: Mapping[str, Any],
    *,
    items: str,
    filename: str,
    columns: Sequence[str] | None = None,
) -> Response:
    """``body`` as JSON, or its ``body[items]`` list as CSV (``body["next_cursor"]``, if any,
    in the ``X-Next-Cursor`` header)."""
    if not wants_csv(request):
        return _answer(request, jsoncodec.encode_answer(dict(body)), "application/json", {})
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    next_cursor = body.get("next_cursor")
    if next_cursor is not None:
        headers["X-Next-Cursor"] = str(next_cursor)
    return csv_response(request, body[items], headers=headers, columns=columns)


def csv_response(
    request: Request,
    rows: Iterable[Mapping[str, Any]],
    *,
    headers: dict[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> Response:
    content = to_csv(rows, columns=columns).encode()
    return _answer(request, content, f"{CSV_MEDIA_TYPE}; charset=utf-8", headers or {})


def _answer(request: Request, content: bytes, media_type: str, headers: dict[str, str]) -> Response:
    # Like croupier.web.json_response: the rate-limit headers of the request ride along,
    # read from the state's dict (a missing ``request.state`` attribute raises inside).
    merged = dict(request.scope.get("state", {}).get("rate_headers", {}))
    merged.update(headers)
    return Response(content, headers=merged, media_type=media_type)


def to_csv(rows: Iterable[Mapping[str, Any]], *, columns: Sequence[str] | None = None) -> str:
    """The CSV text. Without ``columns``, every flattened key, in order of first appearance
    (so a currency seen only in a later row still gets its column)."""
    flat = [flatten(row) for row in rows]
    if columns is None:
        seen: dict[str, None] = {}
        for row in flat:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in flat:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue()


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            cells.update(flatten(value, f"{name}."))
        else:
            cells[name] = cell(value)
    return cells


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return jsoncodec.encode_answer(list(value)).decode()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text
