"""Postbacks: the affiliates' URL templates and the outbox handler that enqueues them.

The handler runs in the projector's transaction, after attribution: a player credited to
an affiliate who registered and/or made a first deposit gets one outbox row per
(template, player, event). The row's id is derived from that key and inserted only if
absent, so arrival order, batching and replays never enqueue a postback twice. The
outbox is deliberately not in ``tables``: replay must not empty it (it would resend).

Two guards keep replays and late events from sending history: a template only fires for
a trigger event (the registration, the first deposit) received after the template was
created, and only while the player is credited to the template's affiliate.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from croupier.affiliates import management
from croupier.affiliates.affiliate_auth import player_hash
from croupier.affiliates.attribution import ATTRIBUTIONS
from croupier.affiliates.models import Affiliate, Click
from croupier.affiliates.postback_models import PostbackDelivery, PostbackTemplate
from croupier.events.models import Event
from croupier.kit import rows
from croupier.kit.errors import ApiError, invalid
from croupier.players.models import Player
from croupier.projections.engine import Context, EventRow

EVENTS = ("registration", "first_deposit", "cpa_qualified")
MACROS = frozenset(
    {"click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "event", "player", "amount"}
    | {"currency", "brand"}
)
_MACRO = re.compile(r"\{([^{}]*)\}")
# Fixed namespace: the id of a postback is a pure function of its natural key.
_NAMESPACE = uuid.UUID("6f0d3c1e-9a51-4c8e-8f7e-2b1c5d0a4e11")
DELIVERIES: Table = PostbackDelivery.__table__  # type: ignore[assignment]
PLAYERS: Table = Player.__table__  # type: ignore[assignment]


# -- templates (the management API's service) ----------------------------------------------


def check_url(url: str) -> None:
    """An http(s) URL whose macros are all known; else a 400 naming the problem."""
    parts = urlsplit(_MACRO.sub("x", url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("url", "must be an http or https URL with a host")
    unknown = sorted({name for name in _MACRO.findall(url) if name not in MACROS})
    if unknown:
        raise invalid(
            "url",
            f"unknown macro(s) {', '.join('{' + n + '}' for n in unknown)}; "
            f"known: {', '.join(sorted(MACROS))}",
            code="unknown_macro",
        )


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise invalid("events", "name at least one event")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise invalid("events", f"unknown event(s) {unknown}; known: {list(EVENTS)}")
    return [event for event in EVENTS if event in events]


def create_template(
    session: Session,
    *,
    operator_id: str,
    affiliate_id: str,
    url: str,
    events: list[str],
    link_id: str | None,
    enabled: bool,
    now: datetime,
) -> PostbackTemplate:
    management.get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id)
    check_url(url)
    if link_id is not None:
        _check_link(session, operator_id=operator_id, affiliate_id=affiliate_id, link_id=link_id)
    template = PostbackTemplate(
        id=str(uuid.uuid4()),
        operator_id=operator_id,
        affiliate_id=affiliate_id,
        link_id=link_id,
        url=url,
        events=check_events(events),
        enabled=enabled,
        created_at=now,
    )
    session.add(template)
    session.flush()
    return template


def list_templates(
    session: Session, *, operator_id: str, affiliate_id: str
) -> list[PostbackTemplate]:
    management.get_affiliate(session, operator_id=operator_id, affiliate_id=affiliate_id)
    query = (
        select(PostbackTemplate)
        .where(
            PostbackTemplate.operator_id == operator_id,
            PostbackTemplate.affiliate_id == affiliate_id,
        )
        .order_by(PostbackTemplate.created_at, PostbackTemplate.id)
    )
    return list(session.scalars(query))


def get_template(session: Session, *, operator_id: str, template_id: str) -> PostbackTemplate:
    template = session.get(PostbackTemplate, template_id)
    if template is None or template.operator_id != operator_id:
        raise ApiError(404, "not_found", f"no postback {template_id} for this operator")
    return template


def update_template(
    session: Session, *, operator_id: str, template_id: str, changes: dict[str, Any]
) -> PostbackTemplate:
    template = get_template(session, operator_id=operator_id, template_id=template_id)
    if "url" in changes:
        check_url(changes["url"])
        template.url = changes["url"]
    if "events" in changes:
        template.events = check_events(changes["events"])
    if "link_id" in changes:
        if changes["link_id"] is not None:
            _check_link(
                session,
                operator_id=operator_id,
                affiliate_id=template.affiliate_id,
                link_id=changes["link_id"],
            )
        template.link_id = changes["link_id"]
    if "enabled" in changes:
        template.enabled = bool(changes["enabled"])
    session.flush()
    return template


def delete_template(session: Session, *, operator_id: str, template_id: str) -> int:
    """Delete a template; its postbacks not yet delivered are cancelled (their count)."""
    template = get_template(session, operator_id=operator_id, template_id=template_id)
    pending = (DELIVERIES.c.template_id == template.id, DELIVERIES.c.status == "pending")
    cancelled = session.scalar(select(func.count()).select_from(DELIVERIES).where(*pending))
    session.execute(
        DELIVERIES.update()
        .where(*pending)
        .values(status="cancelled", next_attempt_at=None, last_error="template_deleted")
    )
    session.delete(template)
    session.flush()
    return int(cancelled or 0)


def _check_link(session: Session, *, operator_id: str, affiliate_id: str, link_id: str) -> None:
    link = management.get_link(session, operator_id=operator_id, link_id=link_id)
    if link.affiliate_id != affiliate_id:
        raise invalid("link_id", "the link belongs to another affiliate")


def fill(url: str, values: dict[str, str]) -> str:
    """The template with each macro replaced by its URL-encoded value (unknown: empty)."""
    return _MACRO.sub(lambda match: quote(values.get(match.group(1), ""), safe=""), url)


def delivery_id(*, template_id: str, brand_id: str, player_ref: str, event: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{template_id}\x1f{brand_id}\x1f{player_ref}\x1f{event}"))


# -- the outbox handler --------------------------------------------------------------------


class Handler:
    # The outbox is a side-effect log, never rebuilt: nothing here for replay to empty.
    tables: tuple[Table, ...] = ()

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        keys = {(e.operator_id, e.brand_id, e.player_ref) for e in events}
        credited = {
            key: row
            for key, row in rows.load(session, ATTRIBUTIONS, keys).items()
            if row["affiliate_id"] is not None
        }
        if not credited:
            return
        templates = _templates(session, {row["affiliate_id"] for row in credited.values()})
        if not templates:
            return
        credited = {k: r for k, r in credited.items() if r["affiliate_id"] in templates}
        players = rows.load(session, PLAYERS, credited)
        triggers = _received_at(
            session,
            {
                seq
                for player in players.values()
                for seq in (player["registration_seq"], player["first_deposit_seq"])
                if seq is not None
            },
        )
        clicks = _clicks(session, {r["click_id"] for r in credited.values() if r["click_id"]})
        affiliates = _affiliates(session, set(templates))
        now = datetime.now(UTC)
        outbox: list[dict[str, Any]] = []
        for key in sorted(credited):
            player = players.get(key)
            if player is None:
                continue
            attribution = credited[key]
            affiliate_id = attribution["affiliate_id"]
            salt, status = affiliates[affiliate_id]
            if status == "suspended":
                continue
            click = clicks.get(attribution["click_id"] or "")
            for template in templates[affiliate_id]:
                if template.link_id is not None and (
                    click is None or click["link_id"] != template.link_id
                ):
                    continue
                for event, seq in _due_events(player):
                    received_at = triggers.get(seq)
                    if event not in template.events or received_at is None:
                        continue
                    if received_at < template.created_at:
                        continue  # history (a replay, a template added later): never sent
                    values = _macro_values(key, event=event, player=player, click=click, salt=salt)
                    outbox.append(
                        _delivery(key, template=template, event=event, values=values, now=now)
                    )
        _insert_if_absent(session, outbox)


@dataclass(frozen=True, slots=True)
class Trigger:
    """A postback event another domain's handler fires (commissions: ``cpa_qualified``)
    for a player credited to ``affiliate_id``; ``received_at`` is when Croupier stored the
    event that fired it (a template fires only for triggers stored after its creation)."""

    key: tuple[str, str, str]  # operator_id, brand_id, player_ref
    affiliate_id: str
    event: str
    amount: str
    currency: str
    received_at: datetime


def enqueue(session: Session, triggers: Sequence[Trigger]) -> None:
    """Queue each trigger's postbacks, once per (template, player, event), like the
    handler's: in the caller's projection transaction, inserted only if absent."""
    if not triggers:
        return
    templates = _templates(session, {trigger.affiliate_id for trigger in triggers})
    wanted = [trigger for trigger in triggers if trigger.affiliate_id in templates]
    if not wanted:
        return
    attributions = rows.load(session, ATTRIBUTIONS, {trigger.key for trigger in wanted})
    clicks = _clicks(session, {r["click_id"] for r in attributions.values() if r["click_id"]})
    affiliates = _affiliates(session, {trigger.affiliate_id for trigger in wanted})
    now = datetime.now(UTC)
    outbox: list[dict[str, Any]] = []
    for trigger in wanted:
        salt, status = affiliates[trigger.affiliate_id]
        attribution = attributions.get(trigger.key)
        if status == "suspended" or attribution is None:
            continue
        if attribution["affiliate_id"] != trigger.affiliate_id:
            continue
        click = clicks.get(attribution["click_id"] or "")
        _operator_id, brand_id, player_ref = trigger.key
        values = {
            "event": trigger.event,
            "player": player_hash(salt, brand_id=brand_id, player_ref=player_ref),
            "brand": brand_id,
            "click_id": click["click_id"] if click else "",
            "amount": trigger.amount,
            "currency": trigger.currency,
        }
        for n in range(1, 6):
            values[f"sub{n}"] = (click or {}).get(f"sub{n}") or ""
        for template in templates[trigger.affiliate_id]:
            if trigger.event not in template.events or trigger.received_at < template.created_at:
                continue
            if template.link_id is not None and (
                click is None or click["link_id"] != template.link_id
            ):
                continue
            outbox.append(
                _delivery(
                    trigger.key, template=template, event=trigger.event, values=values, now=now
                )
            )
    _insert_if_absent(session, outbox)


def _due_events(player: dict[str, Any]) -> list[tuple[str, int]]:
    due: list[tuple[str, int]] = []
    if player["registration_seq"] is not None:
        due.append(("registration", player["registration_seq"]))
    if player["first_deposit_seq"] is not None:
        due.append(("first_deposit", player["first_deposit_seq"]))
    return due


def _macro_values(
    key: tuple[str, str, str],
    *,
    event: str,
    player: dict[str, Any],
    click: dict[str, Any] | None,
    salt: str,
) -> dict[str, str]:
    _operator_id, brand_id, player_ref = key
    values = {
        "event": event,
        "player": player_hash(salt, brand_id=brand_id, player_ref=player_ref),
        "brand": brand_id,
        "click_id": click["click_id"] if click else "",
        "amount": "",
        "currency": "",
    }
    for n in range(1, 6):
        values[f"sub{n}"] = (click or {}).get(f"sub{n}") or ""
    if event == "first_deposit":
        values["amount"] = str(player["first_deposit_amount"] or "")
        values["currency"] = player["first_deposit_currency"] or ""
    return values


def _delivery(
    key: tuple[str, str, str],
    *,
    template: PostbackTemplate,
    event: str,
    values: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    operator_id, brand_id, player_ref = key
    return {
        "id": delivery_id(
            template_id=template.id, brand_id=brand_id, player_ref=player_ref, event=event
        ),
        "operator_id": operator_id,
        "affiliate_id": template.affiliate_id,
        "template_id": template.id,
        "brand_id": brand_id,
        "player_ref": player_ref,
        "event": event,
        "url": fill(template.url, values),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "delivered_at": None,
        "last_error": None,
    }


def _templates(session: Session, affiliate_ids: set[str]) -> dict[str, list[PostbackTemplate]]:
    found: dict[str, list[PostbackTemplate]] = {}
    query = (
        select(PostbackTemplate)
        .where(
            PostbackTemplate.affiliate_id.in_(sorted(affiliate_ids)),
            PostbackTemplate.enabled.is_(True),
        )
        .order_by(PostbackTemplate.id)
    )
    for template in session.scalars(query):
        found.setdefault(template.affiliate_id, []).append(template)
    return found


def _affiliates(session: Session, affiliate_ids: set[str]) -> dict[str, tuple[str, str]]:
    query = select(Affiliate.id, Affiliate.player_salt, Affiliate.status).where(
        Affiliate.id.in_(sorted(affiliate_ids))
    )
    return {row.id: (row.player_salt, row.status) for row in session.execute(query)}


def _received_at(session: Session, seqs: set[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for chunk in rows.in_chunks(sorted(seqs)):
        query = select(Event.seq, Event.received_at).where(Event.seq.in_(chunk))
        found.update({row.seq: row.received_at for row in session.execute(query)})
    return found


def _clicks(session: Session, click_ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    columns = (Click.click_id, Click.link_id, Click.sub1, Click.sub2, Click.sub3, Click.sub4)
    for chunk in rows.in_chunks(sorted(click_ids)):
        query = select(*columns, Click.sub5).where(Click.click_id.in_(chunk))
        found.update({row.click_id: dict(row._mapping) for row in session.execute(query)})
    return found


def _insert_if_absent(session: Session, outbox: list[dict[str, Any]]) -> None:
    if not outbox:
        return
    dialect = session.get_bind().dialect.name
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(DELIVERIES)
    session.execute(statement.on_conflict_do_nothing(index_elements=["id"]), outbox)
