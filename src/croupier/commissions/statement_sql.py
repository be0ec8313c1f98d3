"""The statements' queries: set-based sums of ledger lines, exact on both engines.

Ledger lines are summed in SQL, grouped per (brand, player, component), valued in the
operator's reporting currency the one way ``ledger.Valuer`` does: ``rated_amount`` when
set, else ``amount`` times the fx_rates rate of the line's day and currency (1 for the
reporting currency itself), else unvalued (left out of the sum and reported apart).

PostgreSQL sums NUMERIC exactly. SQLite has no decimal type (``Money`` is stored as
text) and its SUM is a float, so on SQLite the statements register two functions on
their connection: ``croupier_dsum`` (an exact Decimal sum aggregate) and
``croupier_dmul`` (an exact product), and the same query uses them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from croupier.affiliates.attribution_models import PlayerAttribution
from croupier.commissions.ledger import NGR_COMPONENTS, NGR_LINES, NGR_REPORTED
from croupier.commissions.statement_models import (
    CpaQualification,
    Statement,
    StatementAdjustment,
    StatementLine,
)
from croupier.kit.db import Money
from croupier.players.models import Player
from croupier.projections.engine import MAIN
from croupier.projections.models import Checkpoint
from croupier.reports.daily import EXACT
from croupier.reports.models import FxRate

ZERO = Decimal(0)
_CHUNK = 400
PlayerKey = tuple[str, str]  # brand_id, player_ref


def month_bounds(period: date) -> tuple[date, date]:
    first = period.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# -- exact arithmetic on SQLite -----------------------------------------------------------


class _DecimalSum:
    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is None:
            return
        amount = Decimal(value)
        self.total = amount if self.total is None else EXACT.add(self.total, amount)

    def finalize(self) -> str | None:
        return None if self.total is None else format(self.total, "f")


def _decimal_product(left: Any, right: Any) -> str | None:
    if left is None or right is None:
        return None
    return format(EXACT.multiply(Decimal(left), Decimal(right)), "f")


def prepare(session: Session) -> bool:
    """Make the session's connection ready for the statements' sums; True on PostgreSQL.

    PostgreSQL: the transaction reads one snapshot (REPEATABLE READ), so the projector's
    checkpoint and the ledger lines it covers are read consistently (this must be the
    transaction's first use of its connection). SQLite (WAL): a read transaction reads one
    snapshot from its first read on, without the write lock; register the exact decimal
    functions."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return True
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    raw.create_aggregate("croupier_dsum", 1, _DecimalSum)
    raw.create_function("croupier_dmul", 2, _decimal_product, deterministic=True)
    return False


def _sum(postgres: bool, value: ColumnElement[Any]) -> ColumnElement[Any]:
    if postgres:
        return func.sum(value, type_=Money())
    return func.croupier_dsum(value, type_=Money())


def _mul(postgres: bool, left: Any, right: Any) -> ColumnElement[Any]:
    if postgres:
        product: ColumnElement[Any] = left.op("*", return_type=Money())(right)
        return product
    return func.croupier_dmul(left, right, type_=Money())


def checkpoint(session: Session) -> tuple[int, int]:
    found = session.get(Checkpoint, MAIN)
    return (found.tx_id, found.seq) if found is not None else (0, 0)


# -- ledger sums --------------------------------------------------------------------------


@dataclass
class PlayerSums:
    """One player's month: each component's reporting-currency value (valued lines only)
    and, per currency, the amounts left unvalued for want of a rate."""

    values: dict[str, Decimal] = field(default_factory=dict)
    unvalued: dict[str, Decimal] = field(default_factory=dict)


def _rate_of(line: Table, currency: str) -> Any:
    return (
        select(FxRate.rate)
        .where(
            FxRate.operator_id == line.c.operator_id,
            FxRate.day == line.c.day,
            FxRate.currency == line.c.currency,
            FxRate.quote_currency == currency,
        )
        .scalar_subquery()
    )


def player_sums(
    session: Session,
    *,
    postgres: bool,
    operator_id: str,
    currency: str,
    first: date,
    last: date,
    players: Sequence[PlayerKey] | None = None,
) -> dict[PlayerKey, PlayerSums]:
    """Per (brand, player): the month's ledger sums (all players, or only ``players``)."""
    line = NGR_LINES
    rate = _rate_of(line, currency)
    value = func.coalesce(
        line.c.rated_amount,
        case(
            (line.c.currency == currency, line.c.amount), else_=_mul(postgres, line.c.amount, rate)
        ),
    )
    unvalued = and_(line.c.rated_amount.is_(None), line.c.currency != currency, rate.is_(None))
    base = select(
        line.c.brand_id,
        line.c.player_ref,
        line.c.component,
        _sum(postgres, value).label("value"),
        func.sum(case((unvalued, 1), else_=0)).label("unvalued"),
    ).where(line.c.operator_id == operator_id, line.c.day >= first, line.c.day <= last)
    grouping = (line.c.brand_id, line.c.player_ref, line.c.component)
    found: dict[PlayerKey, PlayerSums] = defaultdict(PlayerSums)
    partial: set[PlayerKey] = set()
    for query in _restricted(base, players):
        for brand_id, player_ref, component, total, missing in session.execute(
            query.group_by(*grouping)
        ):
            sums = found[(brand_id, player_ref)]
            sums.values[component] = total if total is not None else ZERO
            if missing:
                partial.add((brand_id, player_ref))
    if partial:
        _add_unvalued(
            session,
            found,
            postgres=postgres,
            operator_id=operator_id,
            currency=currency,
            first=first,
            last=last,
            players=sorted(partial),
        )
    return dict(found)


def _restricted(base: Select[Any], players: Sequence[PlayerKey] | None) -> Iterable[Select[Any]]:
    if players is None:
        yield base
        return
    wanted = sorted(set(players))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        # player_ref alone too: the (operator, player, day) index serves it on both engines
        # (a row-value IN does not on SQLite), so the cost is these players' lines.
        yield base.where(
            NGR_LINES.c.player_ref.in_(sorted({ref for _brand, ref in chunk})),
            tuple_(NGR_LINES.c.brand_id, NGR_LINES.c.player_ref).in_(chunk),
        )


def _add_unvalued(
    session: Session,
    found: dict[PlayerKey, PlayerSums],
    *,
    postgres: bool,
    operator_id: str,
    currency: str,
    first: date,
    last: date,
    players: list[PlayerKey],
) -> None:
    line = NGR_LINES
    rate = _rate_of(line, currency)
    base = select(
        line.c.brand_id,
        line.c.player_ref,
        line.c.currency,
        _sum(postgres, line.c.amount).label("amount"),
    ).where(
        line.c.operator_id == operator_id,
        line.c.day >= first,
        line.c.day <= last,
        line.c.rated_amount.is_(None),
        line.c.currency != currency,
        rate.is_(None),
        line.c.component.in_((*NGR_COMPONENTS, NGR_REPORTED)),
    )
    for query in _restricted(base, players):
        grouped = query.group_by(line.c.brand_id, line.c.player_ref, line.c.currency)
        for brand_id, player_ref, line_currency, amount in session.execute(grouped):
            found[(brand_id, player_ref)].unvalued[line_currency] = amount


def _after(covered: tuple[int, int], postgres: bool) -> ColumnElement[bool]:
    """Lines booked after the checkpoint ``covered``, as a range of the ledger's position
    index (``ix_ngr_lines_position``): its cost is the lines booked since, not history."""
    line = NGR_LINES
    if postgres:
        return tuple_(line.c.tx_id, line.c.seq) > tuple_(literal(covered[0]), literal(covered[1]))
    # SQLite: one writer, so tx_id is always 0 and seq is commit order.
    return and_(line.c.tx_id == covered[0], line.c.seq > covered[1])


def late_players(
    session: Session,
    *,
    postgres: bool,
    operator_id: str,
    first: date,
    last: date,
    covered: tuple[int, int],
) -> set[PlayerKey]:
    """Players with ledger lines of the month booked after ``covered`` (a checkpoint)."""
    query = late_players_query(
        postgres=postgres, operator_id=operator_id, first=first, last=last, covered=covered
    )
    return {(brand_id, player_ref) for brand_id, player_ref in session.execute(query)}


def late_players_query(
    *, postgres: bool, operator_id: str, first: date, last: date, covered: tuple[int, int]
) -> Select[Any]:
    line = NGR_LINES
    return (
        select(line.c.brand_id, line.c.player_ref)
        .where(
            line.c.operator_id == operator_id,
            _after(covered, postgres),
            _late_day(postgres).between(first, last),
        )
        .distinct()
    )


def _late_day(postgres: bool) -> ColumnElement[Any]:
    """The line's day where late lines are sought. Without statistics SQLite would rather
    range over the month's days (its whole history): there the day is compared through
    coalesce, which no index serves, so the lines are read by position (or by player).
    PostgreSQL's planner chooses by its statistics."""
    line = NGR_LINES
    return line.c.day if postgres else func.coalesce(line.c.day, line.c.day)


def late_lines(
    session: Session,
    *,
    postgres: bool,
    operator_id: str,
    first: date,
    last: date,
    covered: tuple[int, int],
    players: Sequence[PlayerKey],
) -> list[dict[str, Any]]:
    """The lines behind ``late_players``: what an adjustment itemises."""
    line = NGR_LINES
    base = select(line).where(
        line.c.operator_id == operator_id,
        _late_day(postgres).between(first, last),
        _after(covered, postgres),
    )
    found: list[dict[str, Any]] = []
    for query in _restricted(base, players):
        found.extend(dict(row) for row in session.execute(query).mappings())
    return found


# -- players, qualifications, rates --------------------------------------------------------


def attributions(session: Session, *, operator_id: str) -> dict[PlayerKey, str]:
    query = select(
        PlayerAttribution.brand_id, PlayerAttribution.player_ref, PlayerAttribution.affiliate_id
    ).where(
        PlayerAttribution.operator_id == operator_id, PlayerAttribution.affiliate_id.is_not(None)
    )
    return {(brand, ref): str(affiliate) for brand, ref, affiliate in session.execute(query)}


def first_depositors(
    session: Session, *, operator_id: str, first: date, last: date
) -> dict[PlayerKey, str]:
    """The players whose first deposit fell in the month, with their affiliate."""
    query = (
        select(Player.brand_id, Player.player_ref, PlayerAttribution.affiliate_id)
        .join(
            PlayerAttribution,
            and_(
                PlayerAttribution.operator_id == Player.operator_id,
                PlayerAttribution.brand_id == Player.brand_id,
                PlayerAttribution.player_ref == Player.player_ref,
            ),
        )
        .where(
            Player.operator_id == operator_id,
            Player.first_deposit_at >= start_of(first),
            Player.first_deposit_at < start_of(last + timedelta(days=1)),
            PlayerAttribution.affiliate_id.is_not(None),
        )
    )
    return {(brand, ref): str(affiliate) for brand, ref, affiliate in session.execute(query)}


def qualifications(
    session: Session, *, operator_id: str, before: date, since: date | None = None
) -> list[CpaQualification]:
    """CPA qualifications of the operator qualified before ``before`` (and from ``since``)."""
    query = select(CpaQualification).where(
        CpaQualification.operator_id == operator_id,
        CpaQualification.qualified_at < start_of(before),
    )
    if since is not None:
        query = query.where(CpaQualification.qualified_at >= start_of(since))
    return list(session.scalars(query))


def payout_rate(
    session: Session, *, operator_id: str, day: date, currency: str, payout_currency: str
) -> Decimal | None:
    if currency == payout_currency:
        return Decimal(1)
    return session.scalar(
        select(FxRate.rate).where(
            FxRate.operator_id == operator_id,
            FxRate.day == day,
            FxRate.currency == currency,
            FxRate.quote_currency == payout_currency,
        )
    )


# -- what closed statements paid -----------------------------------------------------------


def statements_of(session: Session, *, operator_id: str) -> list[Statement]:
    query = select(Statement).where(Statement.operator_id == operator_id)
    return list(session.scalars(query.order_by(Statement.period, Statement.affiliate_id)))


LINE_FIELDS = (
    "deposits",
    "ggr",
    "bonus_cost",
    "chargeback",
    "fee",
    "gaming_tax",
    "admin_fee",
    "payment_fee",
    "ngr_computed",
    "ngr_reported",
    "ngr",
    "cpa",
)


def paid_lines(
    session: Session, *, operator_id: str, period: date, players: Sequence[PlayerKey]
) -> dict[PlayerKey, tuple[str, dict[str, Decimal | None]]]:
    """What the month's closed statements (of any affiliate) showed for these players:
    (brand, player) → (the statement's affiliate, its line's fields)."""
    found: dict[PlayerKey, tuple[str, dict[str, Decimal | None]]] = {}
    table: Table = StatementLine.__table__  # type: ignore[assignment]
    wanted = sorted(set(players))
    base = (
        select(table, Statement.affiliate_id.label("_affiliate_id"))
        .join(Statement, Statement.id == table.c.statement_id)
        .where(
            Statement.operator_id == operator_id,
            Statement.period == period,
            Statement.status == "closed",
        )
    )
    key = tuple_(table.c.brand_id, table.c.player_ref)
    # Statement lines have no index by player: many players are one read of the month's
    # closed lines (its players, not the ledger), a few are looked up.
    queries = [base] if len(wanted) > _CHUNK else [base.where(key.in_(wanted))]
    chosen = set(wanted)
    for query in queries:
        for row in session.execute(query).mappings():
            player = (row["brand_id"], row["player_ref"])
            if player in chosen:
                found[player] = (row["_affiliate_id"], {name: row[name] for name in LINE_FIELDS})
    return found


def paid_adjustments(session: Session, statement_ids: Sequence[str]) -> list[StatementAdjustment]:
    if not statement_ids:
        return []
    query = select(StatementAdjustment).where(
        StatementAdjustment.statement_id.in_(sorted(statement_ids))
    )
    return list(session.scalars(query))


def cpa_paid(session: Session, *, operator_id: str) -> set[tuple[str, str, str]]:
    """(affiliate, brand, player) whose CPA a closed statement paid, on a line or as an
    adjustment: a CPA is paid once."""
    closed = and_(
        Statement.operator_id == operator_id,
        Statement.status == "closed",
    )
    lines = (
        select(Statement.affiliate_id, StatementLine.brand_id, StatementLine.player_ref)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(closed, StatementLine.cpa_qualified_at.is_not(None))
    )
    adjustments = (
        select(Statement.affiliate_id, StatementAdjustment.brand_id, StatementAdjustment.player_ref)
        .join(Statement, Statement.id == StatementAdjustment.statement_id)
        .where(closed, StatementAdjustment.component == "cpa")
    )
    found = {(a, brand, ref) for a, brand, ref in session.execute(lines)}
    found.update((a, brand, ref) for a, brand, ref in session.execute(adjustments))
    return found
