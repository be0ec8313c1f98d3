"""Arbitrary JSON to every ingest endpoint: always a clear 2xx/4xx, never a 5xx."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from croupier.kit import jsoncodec
from factories import Tenant

pytestmark = pytest.mark.anyio

ENDPOINTS = [
    ("POST", "/v2/s2s/event"),
    ("POST", "/v2/s2s/batch"),
    ("POST", "/api/v1/events"),
    ("POST", "/v1/integration/casino"),
    ("POST", "/v1/integration/bonus"),
    ("POST", "/v1/integration/payment"),
    ("POST", "/v2/integration/user"),
    ("PUT", "/v2/integration/user"),
    ("PUT", "/v2/integration/user/blocks"),
    ("POST", "/v2/integration/login"),
]
FIELDS = [
    "client_user_id",
    "event_name",
    "timestamp",
    "amount",
    "currency",
    "transaction_id",
    "event_type",
    "event_time",
    "brand_id",
    "player_external_ref",
    "idempotency_key",
    "user_id",
    "activity_id",
    "type",
    "status",
    "round_id",
    "events",
    "metadata",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False).map(Decimal),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    json_values.map(jsoncodec.encode),
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[" * 5000,
            b'{"amount": 1e999999}',
            b"NaN",
            b'"\xff"',
            b'{"events": {}}',
            b"[{}]" * 3,
        ]
    ),
)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_arbitrary_bodies_never_500(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str
) -> None:
    # hypothesis draws the bodies; the async client then sends each one.
    drawn: list[bytes] = []

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(body=bodies)
    def draw(body: bytes) -> None:
        drawn.append(body)

    draw()
    assert drawn
    for body in drawn:
        response = await client.request(
            method,
            path,
            content=body,
            headers={"X-API-Key": tenant.key, "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (body[:200], response.text)
        payload: Any = response.json()
        if response.status_code >= 400:
            assert isinstance(payload["error"], str)
            assert isinstance(payload["message"], str)
