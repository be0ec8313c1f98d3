"""CPA qualification: a projection handler that decides when a player earns its affiliate
a CPA, and fires the ``cpa_qualified`` postback.

A player credited to an affiliate whose plan has CPA terms qualifies at the first of its
events (approved deposits and bets, walked in event time, ties by seq) after which,
under the plan version in force on that event's day:
- the player has made a first deposit within the window (at least ``min_first_deposit``
  when set; a CPA always needs a depositing player);
- the approved deposits total at least ``min_total_deposits``, the bets' stakes at least
  ``min_turnover``, the bets number at least ``min_bets`` (each when set);
- all within ``window_days`` of registration (the player's first event when no
  registration arrived), and the player never carried an excluded account flag
  (self_excluded, duplicate, blocked by default) at or before that moment. A flag set
  after qualification does not undo it.
Amounts are valued in the operator's reporting currency as the daily report does (the
event's own Fast Track rate, else the fx_rates rate of its day; an amount without a rate
does not count).

A player qualifies once: the row stores the time, the rule completed last, the event and
the plan version. It is recomputed from the player's whole history whenever an event
could change it, so arrival order and replays give the same rows; the postback is queued
through the outbox, inserted only if absent, so it is sent once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from croupier.affiliates import postbacks
from croupier.affiliates.attribution import ATTRIBUTIONS
from croupier.commissions.plan_terms import CpaTerms
from croupier.commissions.plans import PlanBook, Version, load_book
from croupier.commissions.statement_models import CpaQualification
from croupier.events.models import Event
from croupier.kit import rows
from croupier.kit.money import decimal_text
from croupier.players.models import Player, PlayerFlag
from croupier.projections.engine import MAIN, Context, EventRow
from croupier.projections.models import Checkpoint
from croupier.reports import fx
from croupier.reports.daily import EXACT, event_rate
from croupier.tenancy.models import Operator

QUALIFICATIONS: Table = CpaQualification.__table__  # type: ignore[assignment]
PLAYERS: Table = Player.__table__  # type: ignore[assignment]
ZERO = Decimal(0)
RULES = ("first_deposit", "min_first_deposit", "min_total_deposits", "min_turnover", "min_bets")
PlayerKey = tuple[str, str, str]  # operator_id, brand_id, player_ref


class Handler:
    tables: tuple[Table, ...] = (QUALIFICATIONS,)

    def apply(self, session: Session, events: Sequence[EventRow], context: Context) -> None:
        by_operator: dict[str, list[EventRow]] = defaultdict(list)
        for event in events:
            by_operator[event.operator_id].append(event)
        for operator_id in sorted(by_operator):
            book = load_book(session, operator_id=operator_id)
            if not book.has_cpa():
                continue
            currency = context.operator(operator_id).currency
            _apply(session, by_operator[operator_id], book=book, currency=currency)


def _apply(session: Session, events: list[EventRow], *, book: PlanBook, currency: str) -> None:
    batch: dict[PlayerKey, list[EventRow]] = defaultdict(list)
    for event in events:
        batch[(event.operator_id, event.brand_id, event.player_ref)].append(event)
    attributions = rows.load(session, ATTRIBUTIONS, batch)
    existing = rows.load(session, QUALIFICATIONS, batch)
    with_plans = book.cpa_affiliates()
    touched: dict[PlayerKey, str | None] = {}
    for key, player_events in batch.items():
        attribution = attributions.get(key)
        affiliate_id = attribution["affiliate_id"] if attribution else None
        if affiliate_id not in with_plans:
            affiliate_id = None
        row = existing.get(key)
        if row is None and affiliate_id is None:
            continue
        if row is not None and row["affiliate_id"] == affiliate_id and _after(row, player_events):
            continue  # only later events: the qualifying prefix of the history is unchanged
        touched[key] = affiliate_id
    window = book.cpa_window()
    if window is not None:
        # Events after every plan's window cannot qualify anyone: skip players whose batch
        # holds only such events (a busy player who never qualified costs nothing then).
        fresh = [key for key in touched if key not in existing]
        starts = {
            key: player["registered_at"] or player["first_seen_at"]
            for key, player in rows.load(session, PLAYERS, fresh).items()
        }
        for key in fresh:
            start = starts.get(key)
            if start is not None and all(
                e.kind != "registration" and e.occurred_at > start + window for e in batch[key]
            ):
                del touched[key]
    if not touched:
        return
    _store(session, touched, book=book, currency=currency)


def _store(
    session: Session, touched: dict[PlayerKey, str | None], *, book: PlanBook, currency: str
) -> None:
    """Recompute these players' rows, replace them, queue the postbacks of new ones."""
    decided = recompute(session, touched, book=book, currency=currency)
    rows.delete(session, QUALIFICATIONS, touched)
    rows.upsert(session, QUALIFICATIONS, list(decided.values()))
    postbacks.enqueue(
        session,
        [
            postbacks.Trigger(
                key=key,
                affiliate_id=row["affiliate_id"],
                event="cpa_qualified",
                amount=decimal_text(row["amount"]) or "",
                currency=row["currency"],
                received_at=row["event_received_at"],
            )
            for key, row in sorted(decided.items())
        ],
    )


def requalify(session: Session, *, operator_id: str, affiliate_ids: Collection[str]) -> int:
    """Re-decide the CPA of the players credited to these affiliates (or qualified for
    them) under the plan book as this transaction has it: a plan version or assignment
    created after a player's events takes effect now, not at the player's next event. The
    projector is held off until the transaction commits (on SQLite the write lock does
    it), so no batch decides with the book this replaces. The players re-decided."""
    if not affiliate_ids:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Checkpoint.name).where(Checkpoint.name == MAIN).with_for_update())
    wanted = sorted(set(affiliate_ids))
    keys: set[PlayerKey] = set()
    for table in (ATTRIBUTIONS, QUALIFICATIONS):
        query = select(table.c.operator_id, table.c.brand_id, table.c.player_ref).where(
            table.c.operator_id == operator_id, table.c.affiliate_id.in_(wanted)
        )
        keys.update((o, b, r) for o, b, r in session.execute(query))
    if not keys:
        return 0
    book = load_book(session, operator_id=operator_id)
    with_plans = book.cpa_affiliates()
    attributions = rows.load(session, ATTRIBUTIONS, keys)
    touched: dict[PlayerKey, str | None] = {}
    for key in sorted(keys):
        found = attributions.get(key)
        affiliate_id = found["affiliate_id"] if found else None
        touched[key] = affiliate_id if affiliate_id in with_plans else None
    operator = session.get(Operator, operator_id)
    assert operator is not None
    _store(session, touched, book=book, currency=operator.currency)
    return len(touched)


def _after(row: dict[str, Any], events: list[EventRow]) -> bool:
    return all(
        event.occurred_at > row["qualified_at"] and event.kind != "registration" for event in events
    )


# -- the decision -------------------------------------------------------------------------


@dataclass
class Progress:
    """What a player has done since registration, as their events are walked."""

    deposits: int = 0
    first_deposit: Decimal | None = None
    has_first_deposit: bool = False
    deposits_total: Decimal = ZERO
    turnover: Decimal = ZERO
    bets: int = 0
    met: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "deposits": self.deposits,
            "first_deposit": decimal_text(self.first_deposit),
            "deposits_total": decimal_text(self.deposits_total),
            "turnover": decimal_text(self.turnover),
            "bets": self.bets,
        }


def rules_met(cpa: CpaTerms, progress: Progress) -> set[str]:
    met: set[str] = set()
    if progress.has_first_deposit:
        met.add("first_deposit")
    first = progress.first_deposit
    if cpa.min_first_deposit is None or (first is not None and first >= cpa.min_first_deposit):
        met.add("min_first_deposit")
    if cpa.min_total_deposits is None or progress.deposits_total >= cpa.min_total_deposits:
        met.add("min_total_deposits")
    if cpa.min_turnover is None or progress.turnover >= cpa.min_turnover:
        met.add("min_turnover")
    if cpa.min_bets is None or progress.bets >= cpa.min_bets:
        met.add("min_bets")
    return met


def configured(cpa: CpaTerms) -> set[str]:
    """The rules a plan sets (a first deposit is always required)."""
    thresholds = {
        "min_first_deposit": cpa.min_first_deposit,
        "min_total_deposits": cpa.min_total_deposits,
        "min_turnover": cpa.min_turnover,
        "min_bets": cpa.min_bets,
    }
    return {"first_deposit"} | {name for name, value in thresholds.items() if value is not None}


@dataclass(frozen=True, slots=True)
class PlayerFacts:
    start: datetime
    events: list[Any]
    flags: list[tuple[datetime, str]]


def decide(
    facts: PlayerFacts,
    *,
    plan_for: Any,
    value: Any,
) -> tuple[Version, Any, str, Progress] | None:
    """The qualifying (version, event, rule, progress), or None. ``plan_for(day)`` gives
    the version in force; ``value(event, amount)`` the amount in the reporting currency."""
    progress = Progress()
    before: set[str] = set()
    for event in sorted(facts.events, key=lambda e: (e.occurred_at, e.seq)):
        if event.occurred_at < facts.start:
            continue
        _count(progress, event, value)
        version: Version | None = plan_for(event.occurred_at.date())
        cpa = version.terms.cpa if version is not None else None
        if version is None or cpa is None:
            continue
        met = rules_met(cpa, progress)
        newly = met - before
        before = met
        if cpa.window_days is not None and event.occurred_at > facts.start + timedelta(
            days=cpa.window_days
        ):
            continue
        if any(flag in cpa.excluded_flags and at <= event.occurred_at for at, flag in facts.flags):
            continue
        if met >= set(RULES):
            completed = newly & configured(cpa)
            rule = next((name for name in reversed(RULES) if name in completed), "plan_version")
            return version, event, rule, progress
    return None


def _count(progress: Progress, event: Any, value: Any) -> None:
    with localcontext(EXACT):
        if event.kind == "deposit":
            if event.status != "approved" or event.amount is None:
                return
            amount = value(event, event.amount)
            progress.deposits += 1
            if not progress.has_first_deposit:
                progress.has_first_deposit = True
                progress.first_deposit = amount
            if amount is not None:
                progress.deposits_total += amount
        elif event.kind == "bet":
            # A rolled-back bet (Fast Track) un-counts the bet it repeats; its stake is
            # already negated by the format.
            progress.bets += -1 if event.status == "rollback" else 1
            stake = value(event, event.stake) if event.stake is not None else None
            if stake is not None:
                progress.turnover += stake


# -- loading ------------------------------------------------------------------------------


def recompute(
    session: Session, players: dict[PlayerKey, str | None], *, book: PlanBook, currency: str
) -> dict[PlayerKey, dict[str, Any]]:
    """The qualification rows of these players (keyed; absent: not qualified)."""
    credited = {key: affiliate for key, affiliate in players.items() if affiliate is not None}
    if not credited:
        return {}
    facts = _load_facts(session, list(credited))
    days = {event.occurred_at.date() for fact in facts.values() for event in fact.events}
    operator_id = next(iter(credited))[0]
    rates = fx.rates_into(session, operator_id=operator_id, quote=currency, days=days)

    def value(event: Any, amount: Decimal) -> Decimal | None:
        with localcontext(EXACT):
            rate = event_rate(event)
            if rate is not None:
                return amount * rate
            if event.currency == currency:
                return amount
            found = rates.get((event.occurred_at.date(), event.currency))
            return amount * found if found is not None else None

    decided: dict[PlayerKey, dict[str, Any]] = {}
    for key in sorted(credited):
        fact = facts.get(key)
        if fact is None:
            continue
        affiliate_id = credited[key]
        _operator_id, brand_id, _player_ref = key

        def plan_for(day: date, affiliate_id: str = affiliate_id, brand_id: str = brand_id) -> Any:
            return book.version_for(affiliate_id, brand_id, day)

        found = decide(fact, plan_for=plan_for, value=value)
        if found is None:
            continue
        version, event, rule, progress = found
        assert version.terms.cpa is not None
        decided[key] = {
            "operator_id": key[0],
            "brand_id": key[1],
            "player_ref": key[2],
            "affiliate_id": affiliate_id,
            "plan_id": version.plan_id,
            "version_id": version.id,
            "amount": version.terms.cpa.amount,
            "currency": currency,
            "qualified_at": event.occurred_at,
            "rule": rule,
            "event_id": event.event_id,
            "event_seq": event.seq,
            "event_received_at": event.received_at,
            "progress": progress.as_json(),
        }
    return decided


_EVENT_COLUMNS = (
    Event.seq,
    Event.event_id,
    Event.brand_id,
    Event.player_ref,
    Event.kind,
    Event.status,
    Event.amount,
    Event.stake,
    Event.currency,
    Event.exchange_rate,
    Event.format,
    Event.occurred_at,
    Event.received_at,
)


def _load_facts(session: Session, keys: list[PlayerKey]) -> dict[PlayerKey, PlayerFacts]:
    players = rows.load(session, PLAYERS, keys)
    starts = {
        key: player["registered_at"] or player["first_seen_at"] for key, player in players.items()
    }
    wanted = set(starts)
    events: dict[PlayerKey, list[Any]] = defaultdict(list)
    flags: dict[PlayerKey, list[tuple[datetime, str]]] = defaultdict(list)
    operator_id = keys[0][0]
    refs = sorted({ref for _, _, ref in wanted})
    for chunk in rows.in_chunks(refs):
        query = select(*_EVENT_COLUMNS).where(
            Event.operator_id == operator_id,
            Event.player_ref.in_(chunk),
            Event.kind.in_(("deposit", "bet")),
            Event.is_test.is_(False),
        )
        for event in session.execute(query):
            key = (operator_id, event.brand_id, event.player_ref)
            if key in wanted:
                events[key].append(event)
        flag_query = select(
            PlayerFlag.brand_id, PlayerFlag.player_ref, PlayerFlag.occurred_at, PlayerFlag.flag
        ).where(PlayerFlag.operator_id == operator_id, PlayerFlag.player_ref.in_(chunk))
        for brand_id, player_ref, occurred_at, flag in session.execute(flag_query):
            key = (operator_id, brand_id, player_ref)
            if key in wanted:
                flags[key].append((occurred_at, flag))
    return {key: PlayerFacts(start, events[key], flags[key]) for key, start in starts.items()}
