"""Factories for affiliate-side API tests: affiliates with tokens, links and clicks written
directly, so the figures are exactly what the test put there."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.affiliates import management
from croupier.affiliates.models import Affiliate, TrackingLink
from croupier.kit.db import write_session
from factories import add_click


@dataclass(frozen=True)
class Partner:
    affiliate_id: str
    token: str
    token_id: str
    player_salt: str


def make_partner(engine: Engine, *, operator_id: str, name: str, status: str = "active") -> Partner:
    """An affiliate and its API token (through the management rules)."""
    with write_session(engine) as session, session.begin():
        affiliate = Affiliate(
            id=str(uuid.uuid4()),
            operator_id=operator_id,
            name=name,
            email=f"{name}@partners.example",
            status=status,
            payout_currency="EUR",
            parent_id=None,
            postback_secret=secrets.token_hex(16),
            player_salt=secrets.token_hex(16),
            created_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        session.add(affiliate)
        session.flush()
        issued = management.issue_token(session, operator_id=operator_id, affiliate_id=affiliate.id)
        return Partner(affiliate.id, issued.secret, issued.token.id, affiliate.player_salt)


def make_link(engine: Engine, *, operator_id: str, affiliate_id: str, brand_id: str) -> str:
    link_id = str(uuid.uuid4())
    with write_session(engine) as session, session.begin():
        session.add(
            TrackingLink(
                id=link_id,
                code=secrets.token_urlsafe(9),
                operator_id=operator_id,
                affiliate_id=affiliate_id,
                campaign_id=None,
                brand_id=brand_id,
                landing_url="https://casino.example/",
                default_subs={},
                enabled=True,
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    return link_id


def make_click(
    engine: Engine,
    *,
    link_id: str,
    clicked_at: datetime,
    sub1: str | None = None,
    is_unique: bool = True,
    is_bot: bool = False,
    ip_address: str = "203.0.113.9",
) -> str:
    """A click on ``link_id``, with the link's operator, affiliate and brand."""
    with Session(engine) as session:
        link = session.get(TrackingLink, link_id)
        assert link is not None
        owner = (link.operator_id, link.brand_id, link.affiliate_id)
    return add_click(
        engine,
        operator_id=owner[0],
        brand_id=owner[1],
        affiliate_id=owner[2],
        link_id=link_id,
        sub1=sub1,
        ip_address=ip_address,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        clicked_at=clicked_at,
        is_unique=is_unique and not is_bot,
        is_bot=is_bot,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
