"""What an affiliate sees of its own business: stats, the players credited to it, its links.

Every query is scoped to one affiliate of one operator (the token's). Players are shown by
the affiliate's own player hash, never by the operator's player_ref, and nothing personal
(IP, user agent) leaves here. Callers own the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from croupier.affiliates import management
from croupier.affiliates.affiliate_auth import AffiliateIdentity, player_hash
from croupier.affiliates.attribution_models import AttributionChange, PlayerAttribution
from croupier.affiliates.models import Affiliate, Campaign, Click, TrackingLink
from croupier.kit.errors import ApiError, invalid
from croupier.players.models import Player

# group_by → the field that carries the group's value in each stats row.
GROUPINGS = {
    "day": "day",
    "link": "link_id",
    "sub1": "sub1",
    "brand": "brand_id",
    "country": "country",
}
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30
_RATE_PLACES = Decimal("0.0001")


# --- the period ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days, both ends included."""

    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), UTC)

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]


def parse_period(
    from_text: str | None, to_text: str | None, *, today: date, required: bool = True
) -> Period | None:
    """``from``/``to`` as YYYY-MM-DD, at most a year apart. Missing ends default to the last
    30 days up to today; with ``required=False`` no ends at all means no period."""
    if not required and from_text is None and to_text is None:
        return None
    last_day = _day("to", to_text) if to_text is not None else None
    first_day = _day("from", from_text) if from_text is not None else None
    if last_day is None:
        last_day = today if first_day is None else first_day + timedelta(DEFAULT_PERIOD_DAYS - 1)
    if first_day is None:
        first_day = last_day - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first_day > last_day:
        raise invalid("from", "from is after to", "invalid_range", error="invalid_query")
    if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
        raise invalid(
            "to",
            f"at most {MAX_PERIOD_DAYS} days from 'from'",
            "invalid_range",
            error="invalid_query",
        )
    return Period(first_day, last_day)


def _day(name: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(
            name, "a date like 2026-10-01", "invalid_date", error="invalid_query"
        ) from None


# --- stats -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    clicks: int = 0
    unique_clicks: int = 0
    registrations: int = 0
    first_depositors: int = 0
    first_deposit_amount: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: _Group) -> None:
        self.clicks += other.clicks
        self.unique_clicks += other.unique_clicks
        self.registrations += other.registrations
        self.first_depositors += other.first_depositors
        for currency, amount in other.first_deposit_amount.items():
            self._add_deposit(currency, amount)

    def _add_deposit(self, currency: str, amount: Decimal) -> None:
        self.first_deposit_amount[currency] = (
            self.first_deposit_amount.get(currency, Decimal(0)) + amount
        )

    def add_first_deposit(self, currency: str | None, amount: Decimal | None) -> None:
        self.first_depositors += 1
        if currency is not None and amount is not None:
            self._add_deposit(currency, amount)

    def as_json(self) -> dict[str, Any]:
        return {
            "clicks": self.clicks,
            "unique_clicks": self.unique_clicks,
            "registrations": self.registrations,
            "first_depositors": self.first_depositors,
            "first_deposit_amount": dict(sorted(self.first_deposit_amount.items())),
            # Unique clicks: a visitor clicking twice is still one chance to register.
            "click_to_registration": _rate(self.registrations, self.unique_clicks),
            "registration_to_ftd": _rate(self.first_depositors, self.registrations),
        }


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(_RATE_PLACES, ROUND_HALF_UP)


def stats(
    session: Session, *, affiliate: AffiliateIdentity, period: Period, group_by: str
) -> dict[str, Any]:
    """Clicks (bots left out) by click time; registrations by registration time (first event
    when none arrived); first depositors and their amounts by first deposit time. Players are
    grouped by link and sub1 through the click they were credited by (none: a null group);
    clicks carry no country, so by country they all fall in the null group."""
    groups: dict[Any, _Group] = defaultdict(_Group)
    if group_by == "day":
        for day in period.days():  # every day of the period, quiet ones too
            groups[day.isoformat()] = _Group()
    for key, clicks, unique in _click_counts(
        session, affiliate=affiliate, period=period, group_by=group_by
    ):
        groups[key].clicks += clicks
        groups[key].unique_clicks += unique
    for player in _credited_players(session, affiliate=affiliate, period=period):
        if period.start <= player.registered_at < period.end:
            groups[_player_key(player, group_by, player.registered_at)].registrations += 1
        deposit_at = player.first_deposit_at
        if deposit_at is not None and period.start <= deposit_at < period.end:
            groups[_player_key(player, group_by, deposit_at)].add_first_deposit(
                player.first_deposit_currency, player.first_deposit_amount
            )

    name = GROUPINGS[group_by]
    codes = _link_codes(session, affiliate=affiliate, link_ids=groups) if group_by == "link" else {}
    rows: list[dict[str, Any]] = []
    totals = _Group()
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        row: dict[str, Any] = {name: key}
        if group_by == "link":
            row["link_code"] = codes.get(key)
        rows.append(row | groups[key].as_json())
        totals.add(groups[key])
    payout_currency = session.scalar(
        select(Affiliate.payout_currency).where(Affiliate.id == affiliate.affiliate_id)
    )
    return {
        "from": period.first_day,
        "to": period.last_day,
        "group_by": group_by,
        "payout_currency": payout_currency,
        "totals": totals.as_json(),
        "groups": rows,
    }


def _click_counts(
    session: Session, *, affiliate: AffiliateIdentity, period: Period, group_by: str
) -> Iterable[tuple[Any, int, int]]:
    keys: dict[str, Any] = {
        "day": _utc_day(session, Click.clicked_at),
        "link": Click.link_id,
        "sub1": Click.sub1,
        "brand": Click.brand_id,
        "country": None,  # a click has no country
    }
    key: ColumnElement[Any] | None = keys[group_by]
    counts = (func.count(), func.count().filter(Click.is_unique.is_(True)))
    query = select(*counts) if key is None else select(key, *counts).group_by(key)
    query = query.where(
        Click.affiliate_id == affiliate.affiliate_id,
        Click.operator_id == affiliate.operator_id,
        Click.clicked_at >= period.start,
        Click.clicked_at < period.end,
        Click.is_bot.is_(False),
    )
    for row in session.execute(query):
        if key is None:
            yield None, row[0], row[1]
        else:
            value = row[0]
            yield (value.isoformat() if isinstance(value, date) else value), row[1], row[2]


def _utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    # SQLite keeps UTC times as naive text; PostgreSQL needs the UTC calendar day asked for.
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _player_key(player: Any, group_by: str, at: datetime) -> Any:
    if group_by == "day":
        return at.astimezone(UTC).date().isoformat()
    return {
        "link": player.link_id,
        "sub1": player.sub1,
        "brand": player.brand_id,
        "country": player.country,
    }[group_by]


def _credited(affiliate: AffiliateIdentity) -> Any:
    """The affiliate's players, their player row and the click they were credited by. The
    click must be this affiliate's own: a manual reassignment may keep another's click id."""
    attribution = PlayerAttribution
    return (
        select(
            attribution.brand_id,
            attribution.player_ref,
            attribution.registered_at,
            attribution.decided_at,
            attribution.reason,
            Player.country,
            Player.account_flag,
            Player.first_deposit_at,
            Player.first_deposit_amount,
            Player.first_deposit_currency,
            Click.link_id,
            Click.sub1,
            Click.sub2,
            Click.sub3,
            Click.sub4,
            Click.sub5,
        )
        .select_from(attribution)
        .outerjoin(
            Player,
            and_(
                Player.operator_id == attribution.operator_id,
                Player.brand_id == attribution.brand_id,
                Player.player_ref == attribution.player_ref,
            ),
        )
        .outerjoin(
            Click,
            and_(
                Click.click_id == attribution.click_id,
                Click.operator_id == attribution.operator_id,
                Click.affiliate_id == attribution.affiliate_id,
            ),
        )
        .where(
            attribution.operator_id == affiliate.operator_id,
            attribution.affiliate_id == affiliate.affiliate_id,
        )
    )


def _credited_players(session: Session, *, affiliate: AffiliateIdentity, period: Period) -> Any:
    attribution = PlayerAttribution
    in_period = or_(
        and_(attribution.registered_at >= period.start, attribution.registered_at < period.end),
        and_(Player.first_deposit_at >= period.start, Player.first_deposit_at < period.end),
    )
    return session.execute(_credited(affiliate).where(in_period))


def _link_codes(
    session: Session, *, affiliate: AffiliateIdentity, link_ids: Iterable[Any]
) -> dict[str, str]:
    wanted = [link_id for link_id in link_ids if link_id is not None]
    if not wanted:
        return {}
    query = select(TrackingLink.id, TrackingLink.code).where(
        TrackingLink.id.in_(wanted), TrackingLink.affiliate_id == affiliate.affiliate_id
    )
    return {row.id: row.code for row in session.execute(query)}


# --- players ---------------------------------------------------------------------------------


def list_players(
    session: Session,
    *,
    affiliate: AffiliateIdentity,
    period: Period | None,
    offset: int,
    limit: int,
) -> list[dict[str, Any]]:
    """The affiliate's players, by registration time (``period`` filters on it)."""
    attribution = PlayerAttribution
    query = _credited(affiliate)
    if period is not None:
        query = query.where(
            attribution.registered_at >= period.start, attribution.registered_at < period.end
        )
    # player_ref only orders the page: it never leaves this function.
    query = query.order_by(attribution.registered_at, attribution.brand_id, attribution.player_ref)
    rows = session.execute(query.offset(offset).limit(limit))
    return [_player_json(row, affiliate) for row in rows]


def _player_json(row: Any, affiliate: AffiliateIdentity) -> dict[str, Any]:
    return {
        "player": player_hash(
            affiliate.player_salt, brand_id=row.brand_id, player_ref=row.player_ref
        ),
        "brand_id": row.brand_id,
        "country": row.country,
        "registered_at": row.registered_at,
        "first_deposit_at": row.first_deposit_at,
        "first_deposit_amount": row.first_deposit_amount,
        "first_deposit_currency": row.first_deposit_currency,
        "status": row.account_flag or "active",
        "attribution_reason": row.reason,
        "attributed_at": row.decided_at,
        "link_id": row.link_id,
        "sub1": row.sub1,
        "sub2": row.sub2,
        "sub3": row.sub3,
        "sub4": row.sub4,
        "sub5": row.sub5,
    }


# --- attribution changes ---------------------------------------------------------------------


def list_attribution_changes(
    session: Session, *, affiliate: AffiliateIdentity, offset: int, limit: int
) -> list[dict[str, Any]]:
    """Every change of attribution that credited this affiliate with a player or took one
    away, newest first. The other affiliate involved is not named."""
    change = AttributionChange
    mine = affiliate.affiliate_id
    query = (
        select(change)
        .where(
            change.operator_id == affiliate.operator_id,
            or_(change.affiliate_id == mine, change.previous_affiliate_id == mine),
        )
        .order_by(change.changed_at.desc(), change.brand_id, change.player_ref, change.position)
        .offset(offset)
        .limit(limit)
    )
    return [
        {
            "player": player_hash(
                affiliate.player_salt, brand_id=row.brand_id, player_ref=row.player_ref
            ),
            "brand_id": row.brand_id,
            "changed_at": row.changed_at,
            "credited": row.affiliate_id == mine,  # False: the player was taken away
            "reason": row.reason,
            "changed_by": row.changed_by,
            "note": row.note,
        }
        # A change from this affiliate to itself (a better reason) shows as credited.
        for row in session.scalars(query)
    ]


# --- links -----------------------------------------------------------------------------------


def list_links(
    session: Session, *, affiliate: AffiliateIdentity, after_id: str | None, limit: int
) -> list[tuple[TrackingLink, dict[str, int]]]:
    """The affiliate's own links, oldest first, each with its click counts."""
    links = management.list_links(
        session,
        operator_id=affiliate.operator_id,
        affiliate_id=affiliate.affiliate_id,
        campaign_id=None,
        after_id=after_id,
        limit=limit,
    )
    counts = _counts_by_link(session, link_ids=[link.id for link in links])
    empty = {"total": 0, "unique": 0, "bots": 0}
    return [(link, counts.get(link.id, empty)) for link in links]


def _counts_by_link(session: Session, *, link_ids: list[str]) -> dict[str, dict[str, int]]:
    if not link_ids:
        return {}
    query = (
        select(
            Click.link_id,
            func.count().filter(Click.is_bot.is_(False)),
            func.count().filter(Click.is_unique.is_(True), Click.is_bot.is_(False)),
            func.count().filter(Click.is_bot.is_(True)),
        )
        .where(Click.link_id.in_(link_ids))
        .group_by(Click.link_id)
    )
    return {
        link_id: {"total": total, "unique": unique, "bots": bots}
        for link_id, total, unique, bots in session.execute(query)
    }


def create_link(
    session: Session,
    *,
    affiliate: AffiliateIdentity,
    brand_id: str,
    campaign_id: str | None,
    landing_url: str | None,
    default_subs: dict[str, str],
) -> TrackingLink:
    """A link for the calling affiliate, by the same rules as the operator's API."""
    if affiliate.status != "active":
        # A pending account is not approved yet: its links would send traffic nobody pays.
        raise ApiError(403, "affiliate_not_active", "links can be created once you are active")
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        # Another affiliate's campaign is "not found", like a missing one: ids leak nothing.
        if campaign is None or campaign.affiliate_id != affiliate.affiliate_id:
            raise invalid("campaign_id", f"no campaign {campaign_id}", "not_found")
    return management.create_link(
        session,
        operator_id=affiliate.operator_id,
        affiliate_id=affiliate.affiliate_id,
        brand_id=brand_id,
        campaign_id=campaign_id,
        landing_url=landing_url,
        default_subs=default_subs,
    )
