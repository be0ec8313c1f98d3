"""The click path: ``GET /t/{code}`` looks up the link, records the click, and redirects.

It is hot, so:

* links are cached in memory for ``LINK_CACHE_SECONDS``, then refreshed in the background
  while clicks still land. A link disabled, or its landing URL changed, takes effect at
  its next click on the process that served the change, and on the others within that
  time under steady traffic (twice it at most);
* clicks are group-committed: each request adds its click to a buffer and waits; one
  flush takes everything buffered and inserts it in a single transaction on the ingest
  writer's thread (serialized with event commits, so SQLite never fights for its write
  lock), then answers all the waiting redirects. While a flush runs, new clicks form the
  next group, so the commit rate follows the load with no timer. The redirect is sent only
  once its click is committed: every click_id a landing page sees is in the store.
* uniqueness is decided at flush time, against the store and the clicks of the same group,
  so it sees every click committed before it and those still buffered with it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.affiliates.management import SUB_KEYS, SUB_MAX_LENGTH
from croupier.affiliates.models import Click, TrackingLink
from croupier.kit.db import read_session, write_session
from croupier.kit.refreshing import RefreshingCache
from croupier.tenancy.models import Brand

log = logging.getLogger(__name__)

LINK_CACHE_SECONDS = 5.0
_LINK_CACHE_MAX = 50_000  # unknown codes are cached too; a flood of them must not grow memory
_MAX_GROUP = 2000
CLICKS: Table = Click.__table__  # type: ignore[assignment]

# Known crawlers, link previewers, monitors and scripted clients, matched case-insensitively
# as substrings of the User-Agent. Deliberately specific: a bare "bot" would also catch
# phone models (Cubot). A missing or empty User-Agent counts as a bot too: browsers always
# send one. Bot clicks are stored (flagged) but never counted nor unique.
BOT_SIGNATURES = (
    "googlebot",
    "adsbot-google",
    "mediapartners-google",
    "google-inspectiontool",
    "bingbot",
    "bingpreview",
    "yandexbot",
    "baiduspider",
    "duckduckbot",
    "slurp",
    "applebot",
    "petalbot",
    "ahrefsbot",
    "semrushbot",
    "mj12bot",
    "dotbot",
    "bytespider",
    "gptbot",
    "ccbot",
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "linkedinbot",
    "slackbot",
    "discordbot",
    "telegrambot",
    "whatsapp",
    "skypeuripreview",
    "pinterestbot",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "pingdom",
    "uptimerobot",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "scrapy",
    "spider",
    "crawler",
)


def is_bot(user_agent: str | None) -> bool:
    if not user_agent or not user_agent.strip():
        return True
    lowered = user_agent.lower()
    return any(signature in lowered for signature in BOT_SIGNATURES)


# --- the client's address --------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The socket's peer, unless it is a trusted proxy: then the right-most address of
    X-Forwarded-For that is not a trusted proxy (anything left of it could be forged)."""
    peer = peer or "0.0.0.0"  # an ASGI server that gives no peer
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    chosen = peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:  # garbage: believe nothing further left
            break
        chosen = str(address)
        if not any(address in network for network in trusted):
            break
    return chosen


def _trusted(peer: str, trusted: tuple[Network, ...]) -> bool:
    address = _address(peer)
    return address is not None and any(address in network for network in trusted)


# --- the redirect ----------------------------------------------------------------------------


def landing_location(landing_url: str, click_id: str, subs: dict[str, str]) -> str:
    """The landing URL with ``click_id`` and the non-empty sub-ids appended to its own query
    (kept as it was, minus any parameter of the same name we set) and its fragment kept."""
    parts = urlsplit(landing_url)
    ours = {"click_id": click_id, **{key: subs[key] for key in SUB_KEYS if subs.get(key)}}
    kept = [pair for pair in parts.query.split("&") if pair and pair.split("=", 1)[0] not in ours]
    added = [f"{key}={quote(value, safe='')}" for key, value in ours.items()]
    return urlunsplit(parts._replace(query="&".join([*kept, *added])))


def click_subs(defaults: dict[str, Any], query: Any) -> dict[str, str]:
    """sub1..sub5: the query string's where given and non-empty, else the link's default."""
    subs: dict[str, str] = {}
    for key in SUB_KEYS:
        value = query.get(key) or defaults.get(key)
        if value:
            subs[key] = str(value)[:SUB_MAX_LENGTH]
    return subs


# --- link lookup -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkTarget:
    link_id: str
    operator_id: str
    brand_id: str
    affiliate_id: str
    campaign_id: str | None
    landing_url: str
    default_subs: dict[str, Any]


class LinkCache(RefreshingCache[str, "LinkTarget | None"]):
    """Enabled links by code (kit.refreshing): a link past ``ttl`` is answered from the
    cache while one lookup refreshes it, so a change made elsewhere shows one lookup after
    ``ttl`` under steady traffic, and within twice that at most (``forget``: a change made
    here, at once). Unknown (or disabled) codes are cached too, never answered stale."""

    def __init__(self, engine: Engine, *, ttl: float = LINK_CACHE_SECONDS) -> None:
        self._engine = engine
        super().__init__(self._load, ttl=ttl, max_entries=_LINK_CACHE_MAX)

    def _load(self, code: str) -> LinkTarget | None:
        with read_session(self._engine) as session:
            row = session.execute(
                select(TrackingLink, Brand.landing_url)
                .join(Brand, Brand.id == TrackingLink.brand_id)
                .where(TrackingLink.code == code)
            ).first()
        target = None
        if row is not None:
            link, brand_landing = row
            landing = link.landing_url or brand_landing
            if link.enabled and landing:
                target = LinkTarget(
                    link_id=link.id,
                    operator_id=link.operator_id,
                    brand_id=link.brand_id,
                    affiliate_id=link.affiliate_id,
                    campaign_id=link.campaign_id,
                    landing_url=landing,
                    default_subs=dict(link.default_subs or {}),
                )
        return target


# --- recording -------------------------------------------------------------------------------


def new_click(
    target: LinkTarget,
    *,
    subs: dict[str, str],
    ip_address: str,
    user_agent: str | None,
    referer: str | None,
    clicked_at: datetime,
) -> dict[str, Any]:
    """A click row, ``is_unique`` still to be decided by the flush."""
    return {
        "click_id": _click_ids.next(),
        "operator_id": target.operator_id,
        "brand_id": target.brand_id,
        "affiliate_id": target.affiliate_id,
        "campaign_id": target.campaign_id,
        "link_id": target.link_id,
        **{key: subs.get(key) for key in SUB_KEYS},
        "ip_address": ip_address[:64],
        "user_agent": user_agent,
        "referer": referer,
        "clicked_at": clicked_at,
        "is_unique": False,
        "is_bot": is_bot(user_agent),
    }


class _RandomIds:
    """Random (version 4) UUIDs, their randomness read from the OS 256 at a time: one
    ``os.urandom`` call per click was a measurable part of the hot path."""

    _BATCH = 256

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * self._BATCH), 0
        chunk = self._pool[self._at : self._at + 16]
        self._at += 16
        return str(uuid.UUID(bytes=chunk, version=4))


_click_ids = _RandomIds()

RunSerialized = Callable[..., Awaitable[Any]]


VisitorKey = tuple[str, str, str | None]  # link, IP, user agent
_MEMO_MAX = 200_000


class ClickRecorder:
    """Group commit for clicks: ``record`` returns once its click is committed."""

    def __init__(
        self, engine: Engine, *, run_serialized: RunSerialized, unique_window: timedelta
    ) -> None:
        self._engine = engine
        self._run_serialized = run_serialized
        self._unique_window = unique_window
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # The last human click this process recorded per visitor: a repeat within the window
        # is known not unique without asking the store (touched on the writer thread only).
        self._last_seen: dict[VisitorKey, datetime] = {}

    async def record(self, click: dict[str, Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((click, future))
        if self._flusher is None:
            # No long-lived task: a flush runs while clicks wait, then ends.
            self._flusher = asyncio.create_task(self._drain(), name="croupier-clicks")
        await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending[:_MAX_GROUP], self._pending[_MAX_GROUP:]
                rows = [click for click, _ in group]
                try:
                    await self._run_serialized(self.insert, rows)
                except Exception as exc:
                    log.warning("could not record %d clicks: %s", len(rows), exc)
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, future in group:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flusher = None

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Blocking: decide uniqueness and insert the group in one transaction."""
        with write_session(self._engine) as session, session.begin():
            seen = mark_unique(session, rows, window=self._unique_window, known=self._last_seen)
            session.connection().execute(CLICKS.insert(), rows)
        if len(self._last_seen) + len(seen) > _MEMO_MAX:
            self._last_seen.clear()  # only a cache: the store still answers
        for key, at in seen.items():
            _remember(self._last_seen, key, at)


def mark_unique(
    session: Session,
    rows: list[dict[str, Any]],
    *,
    window: timedelta,
    known: dict[VisitorKey, datetime] | None = None,
) -> dict[VisitorKey, datetime]:
    """A human click is unique when no earlier human click of the same link, IP and user
    agent happened less than ``window`` before it, in the store or earlier in this group.

    ``known``: last clicks already seen (this process's memo). A visitor seen within the
    window is settled without the store; the others are looked up in one query. Returns the
    last click per visitor of this group."""
    humans = sorted((row for row in rows if not row["is_bot"]), key=lambda r: r["clicked_at"])
    last_seen: dict[VisitorKey, datetime] = {}
    if not humans:
        return last_seen
    known = known or {}
    ask: set[VisitorKey] = set()
    for row in humans:
        key = (row["link_id"], row["ip_address"], row["user_agent"])
        previous = known.get(key)
        if previous is not None and row["clicked_at"] - previous < window:
            last_seen[key] = previous
        else:
            ask.add(key)
    if ask:
        since = min(row["clicked_at"] for row in humans) - window
        stored = session.execute(
            select(Click.link_id, Click.ip_address, Click.user_agent, func.max(Click.clicked_at))
            .where(
                # Humans always have a user agent (none is a bot), so the triple matches.
                tuple_(Click.link_id, Click.ip_address, Click.user_agent).in_(ask),
                Click.clicked_at > since,
                Click.is_bot.is_(False),
            )
            .group_by(Click.link_id, Click.ip_address, Click.user_agent)
        )
        for link_id, ip_address, user_agent, clicked_at in stored:
            if (link_id, ip_address, user_agent) in ask:
                _remember(last_seen, (link_id, ip_address, user_agent), clicked_at)
    for row in humans:
        key = (row["link_id"], row["ip_address"], row["user_agent"])
        previous = last_seen.get(key)
        row["is_unique"] = previous is None or row["clicked_at"] - previous >= window
        _remember(last_seen, key, row["clicked_at"])
    return last_seen


def _remember(
    last_seen: dict[VisitorKey, datetime],
    key: VisitorKey,
    at: datetime,
) -> None:
    previous = last_seen.get(key)
    if previous is None or at > previous:
        last_seen[key] = at
