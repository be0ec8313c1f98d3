"""Ingest: from parsed wire events to stored events and one outcome each."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any, NamedTuple

from croupier.dialects.common import Parsed
from croupier.events.model import EventDraft, Format
from croupier.ingest.auth import KeyInfo
from croupier.ingest.outcome import Outcome, PendingEvent, Status, rejected_row
from croupier.ingest.store import EVENT_INSERTS
from croupier.ingest.writer import GroupWriter
from croupier.kit import jsoncodec
from croupier.kit.errors import FieldError, StoreUnavailable
from croupier.kit.ids import uuid7
from croupier.kit.timeparse import utcnow

log = logging.getLogger(__name__)


class Submission(NamedTuple):
    """A request's rows, ready for the writer; ``None`` outcomes are the writer's to give."""

    outcomes: list[Outcome | None]
    pending: list[PendingEvent]
    rejections: list[dict[str, Any]]


class IngestService:
    def __init__(self, writer: GroupWriter, *, max_rejected_payload: int) -> None:
        self.writer = writer
        self.max_rejected_payload = max_rejected_payload
        self._insert = EVENT_INSERTS[writer.store.engine.dialect.name]

    async def submit(
        self,
        key: KeyInfo,
        *,
        fmt: Format,
        endpoint: str,
        source: str,
        items: list[tuple[Any, Parsed]],
        batch: bool,
    ) -> list[Outcome]:
        """Store the valid events of one request; every item gets an outcome, in order.

        ``items`` pairs each wire event with what its format made of it.
        """
        return await self.commit(
            self.prepare(key, fmt=fmt, endpoint=endpoint, source=source, items=items, batch=batch)
        )

    def prepare(
        self,
        key: KeyInfo,
        *,
        fmt: Format,
        endpoint: str,
        source: str,
        items: list[tuple[Any, Parsed]],
        batch: bool,
    ) -> Submission:
        """``submit``'s first half, no I/O: the rows to write. A broker consumer builds the
        next batch's rows while the writer commits the previous one."""
        received_at = utcnow()
        outcomes: list[Outcome | None] = []
        pending: list[PendingEvent] = []
        rejections: list[dict[str, Any]] = []
        for index, (wire, parsed) in enumerate(items):
            position = index if batch else None
            if isinstance(parsed, EventDraft):
                parsed = self._check_brand(key, parsed)
            if isinstance(parsed, list):
                outcomes.append(Outcome(Status.REJECTED, errors=parsed))
                rejections.append(
                    self.rejection(
                        key,
                        fmt=fmt,
                        endpoint=endpoint,
                        source=source,
                        payload=wire,
                        errors=parsed,
                        position=position,
                        received_at=received_at,
                    )
                )
                continue
            outcomes.append(None)
            row = event_row(parsed, key, source=source, received_at=received_at)
            params = self._insert.params(row)
            pending.append(PendingEvent(row, parsed.key_field, endpoint, position, params))
        return Submission(outcomes, pending, rejections)

    async def commit(self, submission: Submission) -> list[Outcome]:
        """``submit``'s second half: write, and every item's outcome in order."""
        outcomes, pending, rejections = submission
        if not pending:
            await self._keep_rejections(rejections)
            return [outcome for outcome in outcomes if outcome is not None]
        stored = iter(await self.writer.write(pending, rejections))
        return [outcome if outcome is not None else next(stored) for outcome in outcomes]

    async def reject_request(
        self,
        key: KeyInfo,
        *,
        fmt: Format,
        endpoint: str,
        source: str,
        body: bytes,
        error: FieldError,
    ) -> None:
        """Keep a request that was refused whole (malformed JSON, too many events)."""
        row = self.rejection(
            key,
            fmt=fmt,
            endpoint=endpoint,
            source=source,
            payload=body,
            errors=[error],
            position=None,
            received_at=utcnow(),
        )
        await self._keep_rejections([row])

    def rejection(
        self,
        key: KeyInfo,
        *,
        fmt: Format,
        endpoint: str,
        source: str,
        payload: Any,
        errors: list[FieldError],
        position: int | None,
        received_at: datetime,
    ) -> dict[str, Any]:
        if isinstance(payload, bytes):
            text = payload[: self.max_rejected_payload].decode("utf-8", "replace")
        else:
            text = jsoncodec.encode(payload)[: self.max_rejected_payload].decode("utf-8", "replace")
        # Kept as evidence, so keep what PostgreSQL text can hold: NUL shown as U+FFFD.
        return rejected_row(
            operator_id=key.operator_id,
            api_key_id=key.key_id or None,
            fmt=fmt.value,
            source=source,
            endpoint=endpoint,
            position=position,
            received_at=received_at,
            errors=errors,
            payload=text.replace("\x00", "\ufffd"),
        )

    async def _keep_rejections(self, rejections: list[dict[str, Any]]) -> None:
        # Best effort: the sender's answer (a 4xx) does not depend on keeping the evidence.
        if not rejections:
            return
        try:
            await self.writer.write([], rejections)
        except StoreUnavailable as exc:
            log.warning("could not keep %d rejected events: %s", len(rejections), exc)

    @staticmethod
    def _check_brand(key: KeyInfo, draft: EventDraft) -> Parsed:
        if draft.brand_ref is None or draft.brand_ref in key.brand_ids:
            return draft
        return [
            FieldError(
                "brand_id",
                "brand_forbidden",
                f"{draft.brand_ref!r} is not a brand of this API key's operator",
            )
        ]


def event_row(
    draft: EventDraft, key: KeyInfo, *, source: str, received_at: datetime
) -> dict[str, Any]:
    raw = jsoncodec.encode_sorted(draft.raw)
    row = draft.__dict__.copy()  # draft-only keys ride along; the insert names its columns
    row.update(
        event_id=uuid7(),
        operator_id=key.operator_id,
        brand_id=draft.brand_ref or key.default_brand_id,
        received_at=received_at,
        content_hash=hashlib.blake2b(raw, digest_size=16).hexdigest(),
        format=draft.format.value,
        kind=draft.kind.value,
        source=source,
        is_test=key.is_test,
        api_key_id=key.key_id or None,
        raw=raw.decode(),
    )
    return row
