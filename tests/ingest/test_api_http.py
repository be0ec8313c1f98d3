"""Rules every endpoint shares: keys, scopes, limits, body checks, test keys, readback."""

from __future__ import annotations

import httpx
import pytest
from helpers import count_rejected, dp_event, headers, rejected, stored_events
from sqlalchemy.engine import Engine

from conftest import app_client
from croupier.kit.db import write_session
from croupier.settings import Settings
from croupier.tenancy import service as tenancy
from factories import Tenant, add_key, make_tenant

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("header", ["X-API-Key", "x-api-key", "X-API-KEY", "x-Api-kEy"])
async def test_key_header_in_any_case(
    client: httpx.AsyncClient, tenant: Tenant, header: str
) -> None:
    response = await client.post("/v2/s2s/event", json=dp_event(), headers={header: tenant.key})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "code"), [(None, "missing_api_key"), ("crp_nope", "invalid_api_key")]
)
async def test_missing_or_unknown_key_is_401(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, key: str | None, code: str
) -> None:
    sent = {"X-API-Key": key} if key else {}
    response = await client.post("/v2/s2s/event", json=dp_event(), headers=sent)
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert stored_events(engine) == []


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    assert (
        await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.key))
    ).status_code == 200
    with write_session(engine) as session, session.begin():
        tenancy.revoke_key(session, key_id=tenant.key_id)
    response = await client.post(
        "/v2/s2s/event", json=dp_event(transaction_id="t2"), headers=headers(tenant.key)
    )
    assert response.status_code == 401
    assert len(stored_events(engine)) == 1


async def test_scopes(client: httpx.AsyncClient, tenant: Tenant) -> None:
    by_read = await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.read_key))
    assert by_read.status_code == 403
    assert by_read.json()["error"] == "forbidden_scope"
    by_admin = await client.post(
        "/v2/s2s/event", json=dp_event(), headers=headers(tenant.admin_key)
    )
    assert by_admin.status_code == 200
    event_id = by_admin.json()["event_id"]
    for key in (tenant.key, tenant.read_key, tenant.admin_key):
        read = await client.get(f"/api/v1/events/{event_id}", headers=headers(key))
        assert read.status_code == 200


async def test_default_limit_the_61st_request_in_a_minute_is_429(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    _key_id, key = add_key(engine, operator="acme")  # no override: the default 60/minute
    for number in range(60):
        response = await client.post(
            "/v2/s2s/event", json=dp_event(transaction_id=f"t{number}"), headers=headers(key)
        )
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "60"
        assert response.headers["X-RateLimit-Remaining"] == str(59 - number)
        assert int(response.headers["X-RateLimit-Reset"]) > 0
    refused = await client.post(
        "/v2/s2s/event", json=dp_event(transaction_id="t60"), headers=headers(key)
    )
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert len(stored_events(engine)) == 60
    # another key of the same operator has its own budget
    other = await client.post(
        "/v2/s2s/event", json=dp_event(transaction_id="t61"), headers=headers(tenant.key)
    )
    assert other.status_code == 200


async def test_per_key_override(client: httpx.AsyncClient, tenant: Tenant, engine: Engine) -> None:
    _key_id, key = add_key(engine, operator="acme", rate_limit="2/minute")
    codes = [
        (
            await client.post(
                "/v2/s2s/event", json=dp_event(transaction_id=f"t{i}"), headers=headers(key)
            )
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


async def test_rate_limit_in_redis(settings: Settings, engine: Engine, tenant: Tenant) -> None:
    from conftest import require_server

    require_server("127.0.0.1", 6379, "Redis")
    _key_id, key = add_key(engine, operator="acme", rate_limit="3/minute")
    async with app_client(settings, engine, rate_limit_storage="redis://127.0.0.1:6379/0") as c:
        codes = [
            (
                await c.post(
                    "/v2/s2s/event", json=dp_event(transaction_id=f"t{i}"), headers=headers(key)
                )
            ).status_code
            for i in range(4)
        ]
    assert codes == [200, 200, 200, 429]


async def test_malformed_json_is_400_and_kept(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    response = await client.post(
        "/v2/s2s/event", content=b'{"client_user_id": "u"', headers=headers(tenant.key)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert "X-RateLimit-Remaining" in response.headers
    [kept] = rejected(engine)
    assert kept.payload == '{"client_user_id": "u"'
    assert kept.errors[0]["code"] == "invalid_json"
    assert kept.api_key_id == tenant.key_id


async def test_not_json_is_415(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v2/s2s/event",
        content=b"client_user_id=u",
        headers={"X-API-Key": tenant.key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_body_over_the_limit_is_413(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    async with app_client(settings, engine, max_body_bytes=200) as client:
        big = dp_event(note="x" * 300)
        response = await client.post("/v2/s2s/event", json=big, headers=headers(tenant.key))
        fits = await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.key))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert fits.status_code == 200


async def test_test_key_events_are_stored_and_marked(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    response = await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.test_key))
    assert response.status_code == 200
    [event] = stored_events(engine)
    assert event.is_test
    invalid = await client.post(
        "/v2/s2s/event", json=dp_event(currency="??"), headers=headers(tenant.test_key)
    )
    assert invalid.status_code == 400  # full validation for test keys too


async def test_readback_is_walled_per_operator(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    other = make_tenant(engine, name="rival")
    body_text = (
        b'{"client_user_id": "u", "event_name": "deposit", "transaction_id": "t",'
        b' "timestamp": 1702963200, "amount": 12.30, "currency": "EUR"}'
    )
    sent = await client.post("/v2/s2s/event", content=body_text, headers=headers(tenant.key))
    event_id = sent.json()["event_id"]
    mine = await client.get(f"/api/v1/events/{event_id}", headers=headers(tenant.key))
    assert mine.status_code == 200
    body = mine.json()
    assert body["amount"] == "12.30"  # exact, as a string
    assert body["payload"]["amount"] == 12.30  # the payload as received (JSON number)
    assert body["kind"] == "deposit"
    theirs = await client.get(f"/api/v1/events/{event_id}", headers=headers(other.key))
    assert theirs.status_code == 404
    listing = await client.get("/api/v1/events", headers=headers(other.key))
    assert listing.json() == {"events": [], "next_cursor": None}


async def test_listing_filters_and_pages(client: httpx.AsyncClient, tenant: Tenant) -> None:
    batch = [
        dp_event(
            transaction_id=f"t{i}", client_user_id=f"p{i % 2}", timestamp=1702963200 + i * 3600
        )
        for i in range(5)
    ]
    batch.append({"client_user_id": "p0", "event_name": "login", "timestamp": 1702963200})
    await client.post("/v2/s2s/batch", json=batch, headers=headers(tenant.key))
    page = await client.get(
        "/api/v1/events",
        params={"player_ref": "p0", "kind": "deposit", "limit": 2},
        headers=headers(tenant.key),
    )
    first = page.json()
    assert [e["transaction_id"] for e in first["events"]] == ["t0", "t2"]
    rest = await client.get(
        "/api/v1/events",
        params={"player_ref": "p0", "kind": "deposit", "cursor": first["next_cursor"]},
        headers=headers(tenant.key),
    )
    assert [e["transaction_id"] for e in rest.json()["events"]] == ["t4"]
    since = await client.get(
        "/api/v1/events",
        params={"since": "2023-12-19T07:00:00Z", "kind": "deposit"},
        headers=headers(tenant.key),
    )
    assert [e["transaction_id"] for e in since.json()["events"]] == ["t2", "t3", "t4"]
    bad = await client.get(
        "/api/v1/events", params={"since": "yesterday"}, headers=headers(tenant.key)
    )
    assert bad.status_code == 400
    bad_kind = await client.get(
        "/api/v1/events", params={"kind": "nope"}, headers=headers(tenant.key)
    )
    assert bad_kind.status_code == 400
    assert bad_kind.json()["error"] == "invalid_query"


async def test_operations_endpoints(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await client.post("/v2/s2s/event", json=dp_event(), headers=headers(tenant.key))
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    metrics = (await client.get("/metrics")).text
    assert (
        'croupier_events_total{format="datapulse",kind="deposit",result="accepted"} 1.0' in metrics
    )
    assert "croupier_request_duration_seconds_bucket" in metrics
    assert (
        'croupier_request_duration_seconds_count{route="/v2/s2s/event",status="200"} 1.0' in metrics
    )
    spec = (await client.get("/openapi.json")).json()
    casino = spec["paths"]["/v1/integration/casino"]["post"]
    assert "CASINO" in casino["requestBody"]["content"]["application/json"]["examples"]
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    assert (await client.get("/docs")).status_code == 200


async def test_rejections_are_kept_with_their_errors(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    await client.post(
        "/v2/s2s/batch",
        json=[dp_event(), dp_event(transaction_id="x", amount="1")],
        headers=headers(tenant.key),
    )
    [kept] = rejected(engine)
    assert (kept.endpoint, kept.position, kept.format) == ("datapulse.batch", 1, "datapulse")
    assert kept.errors == [
        {"field": "amount", "code": "invalid_type", "message": "must be a number, got string"}
    ]
    assert count_rejected(engine) == 1


async def test_unlimited_key_has_no_limit_headers(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    _key_id, key = add_key(engine, operator="acme", rate_limit="unlimited")
    for number in range(70):
        response = await client.post(
            "/v2/s2s/event", json=dp_event(transaction_id=f"u{number}"), headers=headers(key)
        )
        assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


async def test_openapi_lists_the_error_answers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    listing = spec["paths"]["/api/v1/events"]["get"]["responses"]
    assert {"200", "400", "401", "403", "429", "503"} <= set(listing)
    assert "422" not in listing
    assert "404" in spec["paths"]["/api/v1/events/{event_id}"]["get"]["responses"]
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    batch = spec["paths"]["/v2/s2s/batch"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "429", "503"} <= set(batch)


async def test_a_number_beyond_python_is_its_own_error(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = b'{"client_user_id": "u", "amount": ' + b"9" * 5001 + b"}"
    response = await client.post("/v2/s2s/event", content=body, headers=headers(tenant.key))
    assert response.status_code == 400
    assert response.json()["error"] == "number_out_of_range"
