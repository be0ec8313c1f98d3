"""Sending the outbox: due postbacks go out as signed GET requests, each attempt logged.

Why GET: affiliate trackers (and 001's own example) take postbacks as a URL with the
values in its query string; the template is that URL, so there is no body to send.

Each round (``deliver_due``) claims due rows and leases them (``next_attempt_at`` moved
past the attempt's timeout, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several
processes can send without sending one postback twice at once; a process that dies mid
attempt only delays the row until its lease ends. A 2xx delivers; anything else is
retried with exponential backoff and jitter until ``retry_hours`` after the row was
created, then it is ``failed``. Targets that resolve to private, loopback, link-local,
multicast or reserved addresses are refused (no request made) unless allowed; the request
goes to the very address that was checked (no second DNS lookup to rebind).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from croupier.affiliates.models import Affiliate
from croupier.affiliates.postback_models import PostbackAttempt, PostbackDelivery
from croupier.kit.db import in_db_thread, read_session, write_session

log = logging.getLogger("croupier.postbacks")
RunDb = Callable[[Callable[[], Any]], Awaitable[Any]]
SIGNATURE_HEADER = "X-Croupier-Signature"
TIMESTAMP_HEADER = "X-Croupier-Timestamp"
REFUSED = "refused_private_target"
_FIRST_RETRY_SECONDS = 30.0
_MAX_RETRY_SECONDS = 3600.0
_LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_seconds: float = 5.0
    retry_hours: float = 24.0
    allow_private_targets: bool = False
    batch: int = 100


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    operator_id: str
    affiliate_id: str
    url: str
    secret: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    attempted: bool  # False: given up before trying (the window had passed)
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    retryable: bool


def sign(url: str, secret: str) -> str:
    """The signature header's value: HMAC-SHA256 of the exact URL requested."""
    return "sha256=" + hmac.new(secret.encode(), url.encode(), hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: doubling from 30 s, capped at an hour, with
    "equal jitter" (half fixed, half random) so that retries of one outage spread out."""
    ceiling = min(_MAX_RETRY_SECONDS, _FIRST_RETRY_SECONDS * 2.0 ** (attempts - 1))
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where an attempt connects. ``address`` pins the host name's address checked by the
    SSRF rule, so the connection cannot go elsewhere (DNS rebinding: a name that resolves
    to a public address for the check and to a private one for the request)."""

    refused: bool
    address: str | None = None  # None: connect by name (allowed private targets)


async def _resolve_target(url: str, *, allow_private: bool) -> _Target:
    """Resolve the URL's host once: refuse it if any of its addresses is not public."""
    if allow_private:
        return _Target(refused=False)
    host = urlsplit(url).hostname or ""
    try:
        return _Target(refused=not is_public(host), address=host)
    except ValueError:
        pass  # a name, not an address: resolve it
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return _Target(refused=False)  # unresolvable: the attempt fails as a connect error
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        return _Target(refused=False)
    if any(not is_public(address) for address in addresses):
        return _Target(refused=True)
    return _Target(refused=False, address=addresses[0])


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request for ``url`` sent to ``address``: the URL with the address as its host,
    the original ``Host`` header, and (for https) the name for SNI and certificate checks."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc_host = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc_host += f":{parts.port}"
    pinned = parts._replace(netloc=netloc_host).geturl()
    host_header = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        host_header += f":{parts.port}"
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


async def deliver_due(
    engine: Engine,
    *,
    policy: DeliveryPolicy,
    now: datetime | None = None,
    client: httpx.AsyncClient | None = None,
    run_db: RunDb | None = None,
) -> int:
    """One round: send every due postback (up to ``policy.batch``); how many were tried.

    ``now`` is the clock of this round (tests move it); ``run_db`` runs the store work
    (``croupier serve`` on SQLite passes the ingest writer's thread, as the projector does).
    """
    moment = now or datetime.now(UTC)
    runner: RunDb = run_db or in_db_thread
    jobs: list[_Job] = await runner(lambda: _claim(engine, now=moment, policy=policy))
    if not jobs:
        return 0
    own_client = client is None
    http = client or httpx.AsyncClient(follow_redirects=False)
    try:
        outcomes = await asyncio.gather(
            *(_attempt(http, job, now=moment, policy=policy) for job in jobs)
        )
    finally:
        if own_client:
            await http.aclose()
    await runner(lambda: _record(engine, outcomes, now=moment, policy=policy))
    return len(jobs)


def _claim(engine: Engine, *, now: datetime, policy: DeliveryPolicy) -> list[_Job]:
    lease_until = now + timedelta(seconds=policy.timeout_seconds) + _LEASE_MARGIN
    due = (PostbackDelivery.status == "pending", PostbackDelivery.next_attempt_at <= now)
    with read_session(engine) as session:
        # Idle rounds only read: SQLite's write lock is taken only when there is work.
        if session.scalar(select(PostbackDelivery.id).where(*due).limit(1)) is None:
            return []
    with write_session(engine) as session, session.begin():
        query = (
            select(PostbackDelivery, Affiliate.postback_secret)
            .join(Affiliate, Affiliate.id == PostbackDelivery.affiliate_id)
            .where(*due)
            .order_by(PostbackDelivery.next_attempt_at, PostbackDelivery.id)
            .limit(policy.batch)
        )
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(of=PostbackDelivery, skip_locked=True)
        jobs = []
        for delivery, secret in session.execute(query).all():
            delivery.next_attempt_at = lease_until
            jobs.append(
                _Job(
                    delivery.id,
                    delivery.operator_id,
                    delivery.affiliate_id,
                    delivery.url,
                    secret,
                    delivery.attempts,
                    delivery.created_at,
                )
            )
        return jobs


async def _attempt(
    http: httpx.AsyncClient, job: _Job, *, now: datetime, policy: DeliveryPolicy
) -> _Outcome:
    if now >= job.created_at + timedelta(hours=policy.retry_hours):
        return _Outcome(job, False, False, None, "retry_window_expired", 0, retryable=False)
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    target = await _resolve_target(job.url, allow_private=policy.allow_private_targets)
    if target.refused:
        return _Outcome(job, True, False, None, REFUSED, elapsed(), retryable=False)
    headers = {
        SIGNATURE_HEADER: sign(job.url, job.secret),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        "User-Agent": "Croupier-Postback/1",
    }
    url, extensions = job.url, dict[str, Any]()
    if target.address is not None:
        url, host, extensions = pinned_request(job.url, target.address)
        headers.update(host)
    try:
        response = await http.get(
            url, headers=headers, timeout=policy.timeout_seconds, extensions=extensions
        )
    except httpx.TimeoutException:
        return _Outcome(job, True, False, None, "timeout", elapsed(), retryable=True)
    except httpx.HTTPError as exc:
        failure = f"{type(exc).__name__}: {exc}"[:500]
        return _Outcome(job, True, False, None, failure, elapsed(), retryable=True)
    ok = 200 <= response.status_code < 300
    error = None if ok else f"http_{response.status_code}"
    return _Outcome(job, True, ok, response.status_code, error, elapsed(), retryable=not ok)


def _record(
    engine: Engine, outcomes: list[_Outcome], *, now: datetime, policy: DeliveryPolicy
) -> None:
    with write_session(engine) as session, session.begin():
        for outcome in outcomes:
            job = outcome.job
            delivery = session.get(PostbackDelivery, job.delivery_id)
            if delivery is None or delivery.status != "pending":
                continue  # cancelled (its template deleted) while in flight
            attempts = job.attempts + (1 if outcome.attempted else 0)
            if outcome.attempted:
                session.add(
                    PostbackAttempt(
                        delivery_id=job.delivery_id,
                        number=attempts,
                        operator_id=job.operator_id,
                        affiliate_id=job.affiliate_id,
                        attempted_at=now,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        duration_ms=outcome.duration_ms,
                    )
                )
            delivery.attempts = attempts
            delivery.last_error = outcome.error
            if outcome.delivered:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                    "delivered",
                    now,
                    None,
                )
                continue
            retry_at = now + backoff(attempts)
            deadline = job.created_at + timedelta(hours=policy.retry_hours)
            if outcome.retryable and retry_at < deadline:
                delivery.next_attempt_at = retry_at
            else:
                delivery.status, delivery.next_attempt_at = "failed", None
                if outcome.retryable:
                    delivery.last_error = f"{outcome.error}; retry window over"


# -- the background loop -------------------------------------------------------------------


class PostbackSender:
    """Runs ``deliver_due`` every ``poll_seconds`` on the event loop (``croupier serve``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        policy: DeliveryPolicy,
        poll_seconds: float = 1.0,
        run_db: RunDb | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.poll_seconds = poll_seconds
        self.run_db = run_db
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name="croupier-postbacks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_forever(self, stop: threading.Event | None = None) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            while stop is None or not stop.is_set():
                tried = 0
                try:
                    tried = await deliver_due(
                        self.engine, policy=self.policy, client=http, run_db=self.run_db
                    )
                except Exception:
                    log.exception("postbacks: delivery round failed")
                if tried < self.policy.batch:  # a full batch: more may be due at once
                    await asyncio.sleep(self.poll_seconds)


def run_sender_thread(sender: PostbackSender, stop: threading.Event) -> threading.Thread:
    """``croupier worker``: the sender on its own thread and event loop until ``stop``."""
    thread = threading.Thread(
        target=lambda: asyncio.run(sender.run_forever(stop)),
        name="croupier-postbacks",
        daemon=True,
    )
    thread.start()
    return thread


def policy_from(settings: Any) -> DeliveryPolicy:
    return DeliveryPolicy(
        timeout_seconds=settings.postback_timeout_seconds,
        retry_hours=settings.postback_retry_hours,
        allow_private_targets=settings.postback_allow_private_targets,
    )
