"""Attribution rules, pure: from one player's signals to the decision and its history.

Rules, best first: a ``click_id`` of one of our clicks; a promo code mapped to an
affiliate; the operator's last click from the player's IP (same user agent preferred)
within its window before registration; otherwise organic. A better signal seen before
the first approved deposit replaces the decision; from that deposit on it is frozen
(an operator setting) and only an admin's override changes it. Signals are walked in
event time (ties by seq), so the result depends only on the set of inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croupier.events.model import Kind
from croupier.projections.engine import EventRow

RANK = {"organic": 0, "last_click": 1, "promo_code": 2, "click_id": 3}


@dataclass(frozen=True)
class Settings:
    window: timedelta
    freeze_at_first_deposit: bool


@dataclass(frozen=True)
class Signal:
    reason: str
    occurred_at: datetime
    seq: int
    affiliate_id: str | None
    click_id: str | None = None
    promo_code: str | None = None

    @property
    def rank(self) -> int:
        return RANK[self.reason]


@dataclass(frozen=True)
class Override:
    id: str
    affiliate_id: str | None
    reason: str
    key_id: str
    created_at: datetime


@dataclass(frozen=True)
class LastClick:
    click_id: str
    affiliate_id: str
    clicked_at: datetime
    same_user_agent: bool


@dataclass
class Facts:
    """What one player's decision is made from, loaded by ``_load_facts``."""

    events: list[EventRow]
    our_clicks: dict[str, str] = field(default_factory=dict)  # click_id → affiliate
    promo_codes: dict[str, str] = field(default_factory=dict)  # CODE → affiliate
    overrides: list[Override] = field(default_factory=list)
    last_click: LastClick | None = None


def _order(event: EventRow) -> tuple[datetime, int]:
    return event.occurred_at, event.seq


def promo_codes_of(attributes: dict[str, Any]) -> list[str]:
    """Promo codes an event carries: Revvvs ``metadata.bonus_code``/``promo_code``, a
    DataPulse custom ``promo_code`` property, Fast Track ``bonus_code``; upper-cased."""
    metadata = attributes.get("metadata")
    sources = [attributes, metadata if isinstance(metadata, dict) else {}]
    found: list[str] = []
    for source in sources:
        for name in ("promo_code", "bonus_code"):
            value = source.get(name)
            if isinstance(value, str) and value.strip() and value.strip().upper() not in found:
                found.append(value.strip().upper())
    return found


def anchor_of(events: Sequence[EventRow]) -> EventRow:
    """The registration (earliest), or the player's first event when none arrived."""
    registrations = [e for e in events if e.kind == Kind.REGISTRATION]
    return min(registrations or events, key=_order)


def first_deposit_of(events: Sequence[EventRow]) -> EventRow | None:
    deposits = [e for e in events if e.kind == Kind.DEPOSIT and e.status == "approved"]
    return min(deposits, key=_order) if deposits else None


def before_freeze(events: Sequence[EventRow], settings: Settings) -> list[EventRow]:
    """The events whose signals count: up to and including the first approved deposit."""
    ordered = sorted(events, key=_order)
    deposit = first_deposit_of(ordered) if settings.freeze_at_first_deposit else None
    if deposit is None:
        return ordered
    return [e for e in ordered if _order(e) <= _order(deposit)]


def ip_source_of(events: Sequence[EventRow], settings: Settings) -> EventRow | None:
    """Where the player's IP and user agent come from: the anchor if it has an IP, else the
    earliest event before the freeze that has one."""
    anchor = anchor_of(events)
    if anchor.ip_address:
        return anchor
    with_ip = [e for e in before_freeze(events, settings) if e.ip_address]
    return with_ip[0] if with_ip else None


def decide(facts: Facts, *, settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The player's attribution row (without its key) and its audit log, oldest first."""
    events = facts.events
    anchor = anchor_of(events)
    counted = before_freeze(events, settings)
    deposit = first_deposit_of(events)
    signals = [Signal("organic", anchor.occurred_at, anchor.seq, None)]
    click_inputs: list[dict[str, Any]] = []
    promo_inputs: list[dict[str, Any]] = []
    external: str | None = None
    for event in counted:
        if event.click_id and event.click_id not in {c["click_id"] for c in click_inputs}:
            affiliate = facts.our_clicks.get(event.click_id)
            click_inputs.append(
                {"click_id": event.click_id, "ours": affiliate is not None, "at": _iso(event)}
            )
            if affiliate is None:
                external = external or event.click_id
            else:
                signals.append(
                    Signal(
                        "click_id", *_order(event), affiliate_id=affiliate, click_id=event.click_id
                    )
                )
        for code in promo_codes_of(event.attributes or {}):
            if code in {p["code"] for p in promo_inputs}:
                continue
            affiliate = facts.promo_codes.get(code)
            promo_inputs.append({"code": code, "known": affiliate is not None, "at": _iso(event)})
            if affiliate is not None:
                signals.append(
                    Signal("promo_code", *_order(event), affiliate_id=affiliate, promo_code=code)
                )
    ip_source = ip_source_of(events, settings)
    last = facts.last_click
    if last is not None and ip_source is not None:
        at, seq = max(_order(anchor), _order(ip_source))
        signals.append(Signal("last_click", at, seq, last.affiliate_id, click_id=last.click_id))
    changes, best = _timeline(signals, facts.overrides)
    final = changes[-1]
    manual = final["reason"] == "manual"
    row = {
        "affiliate_id": final["affiliate_id"],
        "reason": final["reason"],
        "click_id": None if manual else best.click_id,
        "promo_code": None if manual else best.promo_code,
        "external_click_id": external,
        "registered_at": anchor.occurred_at,
        "decided_at": final["changed_at"],
        "frozen_at": deposit.occurred_at
        if deposit is not None and settings.freeze_at_first_deposit
        else None,
        "inputs": {
            "registration": anchor.kind == Kind.REGISTRATION,
            "registered_at": anchor.occurred_at.isoformat(),
            "ip_address": ip_source.ip_address if ip_source else None,
            "user_agent": ip_source.user_agent if ip_source else None,
            "click_ids": click_inputs,
            "promo_codes": promo_inputs,
            "last_click": None
            if last is None
            else {
                "click_id": last.click_id,
                "clicked_at": last.clicked_at.isoformat(),
                "same_user_agent": last.same_user_agent,
            },
            "window_days": settings.window.days,
            "freeze_at_first_deposit": settings.freeze_at_first_deposit,
            "first_deposit_at": deposit.occurred_at.isoformat() if deposit else None,
        },
    }
    return row, changes


def _timeline(
    signals: list[Signal], overrides: list[Override]
) -> tuple[list[dict[str, Any]], Signal]:
    """Walk signals and overrides in time: the best signal so far decides (an earlier one
    keeps a tie) until an override, after which the latest override decides."""
    entries: list[tuple[tuple[datetime, int, int, str], Signal | Override]] = [
        ((s.occurred_at, 0, s.seq, ""), s) for s in signals
    ]
    entries += [((o.created_at, 1, 0, o.id), o) for o in overrides]
    entries.sort(key=lambda entry: entry[0])
    changes: list[dict[str, Any]] = []
    best: Signal | None = None
    overridden = False
    state: tuple[str | None, str] | None = None
    for index, (_, entry) in enumerate(entries):
        if isinstance(entry, Override):
            overridden = True
            changes.append(_change(state, entry, manual=True))
            state = (entry.affiliate_id, "manual")
            continue
        if best is None or entry.rank > best.rank:
            best = entry
        following = entries[index + 1][1] if index + 1 < len(entries) else None
        same_event = isinstance(following, Signal) and (
            (following.occurred_at, following.seq) == (entry.occurred_at, entry.seq)
        )
        if overridden or same_event:
            continue  # one change per event, made once all its signals are seen
        if (best.affiliate_id, best.reason) != state:
            changes.append(_change(state, best, manual=False))
            state = (best.affiliate_id, best.reason)
    assert best is not None  # the organic signal is always there
    return changes, best


def _change(
    state: tuple[str | None, str] | None, source: Signal | Override, *, manual: bool
) -> dict[str, Any]:
    previous = state[0] if state else None
    if isinstance(source, Override):
        return {
            "changed_at": source.created_at,
            "event_seq": None,
            "previous_affiliate_id": previous,
            "affiliate_id": source.affiliate_id,
            "reason": "manual",
            "changed_by": "admin",
            "note": source.reason,
            "override_id": source.id,
            "key_id": source.key_id,
        }
    return {
        "changed_at": source.occurred_at,
        "event_seq": source.seq,
        "previous_affiliate_id": previous,
        "affiliate_id": source.affiliate_id,
        "reason": source.reason,
        "changed_by": "system",
        "note": None,
        "override_id": None,
        "key_id": None,
    }


def _iso(event: EventRow) -> str:
    return str(event.occurred_at.isoformat())


@dataclass(frozen=True)
class ClickSeen:
    seq: int
    click_id: str
    affiliate_id: str
    ip_address: str
    user_agent: str | None
    clicked_at: datetime


def pick_last_click(
    clicks: Iterable[ClickSeen],
    *,
    ip_address: str,
    user_agent: str | None,
    registered_at: datetime,
    window: timedelta,
) -> LastClick | None:
    """The latest human click from this IP in [registration - window, registration]
    (ties by click seq), one with the same user agent preferred."""
    in_window = [
        c
        for c in clicks
        if c.ip_address == ip_address and registered_at - window <= c.clicked_at <= registered_at
    ]
    same = [c for c in in_window if user_agent and c.user_agent == user_agent]
    chosen = max(same or in_window, key=lambda c: (c.clicked_at, c.seq), default=None)
    if chosen is None:
        return None
    return LastClick(chosen.click_id, chosen.affiliate_id, chosen.clicked_at, bool(same))
