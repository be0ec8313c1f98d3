"""Plain factory functions for test data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from croupier.ingest.auth import KeyInfo
from croupier.kit.db import write_session
from croupier.tenancy import service as tenancy
from croupier.tenancy.service import Scope


@dataclass(frozen=True)
class Tenant:
    operator_id: str
    brand_id: str
    other_brand_id: str
    key: str
    key_id: str
    read_key: str
    admin_key: str
    test_key: str

    def ingest_key(self) -> KeyInfo:
        """The ingest key as an authenticated request carries it."""
        brands = frozenset({self.brand_id})
        return KeyInfo(
            self.key_id, self.operator_id, self.brand_id, brands, Scope.INGEST, None, False
        )


def make_tenant(engine: Engine, *, name: str, rate_limit: str | None = "100000/minute") -> Tenant:
    """An operator with two brands, and keys of every scope (generous limits unless asked)."""
    with write_session(engine) as session, session.begin():
        operator = tenancy.create_operator(session, name=name, currency="EUR")
        brand = tenancy.create_brand(session, operator=operator, name=f"{name}-casino")
        other = tenancy.create_brand(session, operator=operator, name=f"{name}-sports")

        def issue(scope: Scope = Scope.INGEST, *, test: bool = False) -> tenancy.IssuedKey:
            return tenancy.create_key(
                session,
                operator=operator,
                brand=brand,
                scope=scope,
                rate_limit=rate_limit,
                is_test=test,
            )

        ingest = issue()
        return Tenant(
            operator_id=operator.id,
            brand_id=brand.id,
            other_brand_id=other.id,
            key=ingest.secret,
            key_id=ingest.key.id,
            read_key=issue(Scope.READ).secret,
            admin_key=issue(Scope.ADMIN).secret,
            test_key=issue(test=True).secret,
        )


def add_key(engine: Engine, *, operator: str, rate_limit: str | None = None) -> tuple[str, str]:
    """Another ingest key for an existing operator: (key id, secret)."""
    with write_session(engine) as session, session.begin():
        owner = tenancy.get_operator(session, name=operator)
        brand = tenancy.resolve_brand(session, operator=owner, brand=None)
        issued = tenancy.create_key(session, operator=owner, brand=brand, rate_limit=rate_limit)
        return issued.key.id, issued.secret


def add_click(engine: Engine, **columns: Any) -> str:
    """A stored click (affiliates): the given columns over plausible defaults; its click_id."""
    from croupier.affiliates.models import Click

    row: dict[str, Any] = {
        "click_id": str(uuid.uuid4()),
        "campaign_id": None,
        "link_id": str(uuid.uuid4()),
        "ip_address": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
        "referer": None,
        "is_unique": True,
        "is_bot": False,
        **columns,
    }
    with write_session(engine) as session, session.begin():
        session.add(Click(**row))
    return str(row["click_id"])
