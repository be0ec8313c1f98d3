"""Factories for attribution tests: affiliates, promo codes and clicks written directly, and
wire events of each format carrying attribution signals."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from croupier.affiliates.models import Affiliate, PromoCode
from croupier.kit.db import write_session
from croupier.tenancy.models import Operator
from factories import add_click

# Registrations happen here; clicks are placed relative to it.
REGISTERED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
IP = "203.0.113.7"
AGENT = "Mozilla/5.0 (Windows NT 10.0) Firefox/130.0"


def make_affiliate(engine: Engine, *, operator_id: str, name: str) -> str:
    affiliate_id = str(uuid.uuid4())
    with write_session(engine) as session, session.begin():
        session.add(
            Affiliate(
                id=affiliate_id,
                operator_id=operator_id,
                name=name,
                email=f"{name}@example.com",
                status="active",
                payout_currency="EUR",
                parent_id=None,
                postback_secret=secrets.token_hex(16),
                player_salt=secrets.token_hex(16),
                created_at=REGISTERED - timedelta(days=400),
            )
        )
    return affiliate_id


def make_promo_code(engine: Engine, *, operator_id: str, affiliate_id: str, code: str) -> None:
    with write_session(engine) as session, session.begin():
        session.add(
            PromoCode(
                id=str(uuid.uuid4()),
                operator_id=operator_id,
                affiliate_id=affiliate_id,
                code=code.upper(),
                created_at=REGISTERED - timedelta(days=400),
            )
        )


def make_click(
    engine: Engine,
    *,
    operator_id: str,
    brand_id: str,
    affiliate_id: str,
    clicked_at: datetime,
    ip_address: str = IP,
    user_agent: str | None = AGENT,
    is_bot: bool = False,
) -> str:
    return add_click(
        engine,
        operator_id=operator_id,
        brand_id=brand_id,
        affiliate_id=affiliate_id,
        ip_address=ip_address,
        user_agent=user_agent,
        clicked_at=clicked_at,
        is_bot=is_bot,
    )


def set_operator(engine: Engine, operator_id: str, **settings: Any) -> None:
    with write_session(engine) as session, session.begin():
        operator = session.get(Operator, operator_id)
        assert operator is not None
        for name, value in settings.items():
            setattr(operator, name, value)


def dp(event_name: str, player: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A DataPulse event (specs/000); financial ones get a transaction id and money."""
    event: dict[str, Any] = {
        "client_user_id": player,
        "event_name": event_name,
        "timestamp": int(at.timestamp()),
    }
    if event_name in ("deposit", "withdraw", "bet"):
        event.update(
            transaction_id=f"tx-{uuid.uuid4().hex[:12]}", amount=Decimal("50"), currency="EUR"
        )
    event.update(fields)
    return event


def revvvs(event_type: str, player: str, at: datetime, brand: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": event_type,
        "event_time": at.isoformat().replace("+00:00", "Z"),
        "brand_id": brand,
        "player_external_ref": player,
        "idempotency_key": f"{event_type}-{player}-{uuid.uuid4().hex[:8]}",
    }
    if event_type not in ("registration", "account_flag_changed"):
        event.update(currency="EUR", amount=Decimal("50"))
    event.update(fields)
    return event
