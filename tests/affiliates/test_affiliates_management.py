"""The operator's affiliate management API: affiliates, tokens, campaigns, links, promo codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.affiliates.management import hash_token
from croupier.affiliates.models import AffiliateToken
from croupier.kit.db import write_session
from croupier.tenancy.models import Brand
from factories import Tenant, make_tenant

pytestmark = pytest.mark.anyio


async def admin(
    client: httpx.AsyncClient, key: str, method: str, path: str, body: Any = None, **params: Any
) -> httpx.Response:
    return await client.request(method, path, json=body, params=params, headers={"X-API-Key": key})


async def new_affiliate(client: httpx.AsyncClient, key: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Ann Partner", "email": "ann@partners.example", **fields}
    response = await admin(client, key, "POST", "/api/v1/affiliates", body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def set_landing(engine: Engine, brand_id: str, url: str | None) -> None:
    with write_session(engine) as session, session.begin():
        session.execute(update(Brand).where(Brand.id == brand_id).values(landing_url=url))


async def test_create_get_and_list_affiliates(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ann = await new_affiliate(client, tenant.admin_key, email="Ann@Partners.Example")
    assert ann["status"] == "pending"
    assert ann["payout_currency"] == "EUR"  # the operator's currency by default
    assert ann["email"] == "ann@partners.example"
    assert len(ann["postback_secret"]) == 64
    bob = await new_affiliate(
        client,
        tenant.admin_key,
        name="Bob",
        email="bob@partners.example",
        status="active",
        payout_currency="USD",
        parent_id=ann["id"],
    )
    assert (bob["parent_id"], bob["payout_currency"]) == (ann["id"], "USD")

    got = await admin(client, tenant.admin_key, "GET", f"/api/v1/affiliates/{ann['id']}")
    assert got.status_code == 200
    assert got.json() == ann

    page = await admin(client, tenant.admin_key, "GET", "/api/v1/affiliates", limit=1)
    assert [a["id"] for a in page.json()["affiliates"]] == [ann["id"]]
    cursor = page.json()["next_cursor"]
    rest = await admin(
        client, tenant.admin_key, "GET", "/api/v1/affiliates", limit=1, cursor=cursor
    )
    assert [a["id"] for a in rest.json()["affiliates"]] == [bob["id"]]
    active = await admin(client, tenant.admin_key, "GET", "/api/v1/affiliates", status="active")
    assert [a["id"] for a in active.json()["affiliates"]] == [bob["id"]]
    assert active.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "email": "a@b.example"}, "name"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "A", "email": "a@b.example", "payout_currency": "XXY"}, "payout_currency"),
        ({"name": "A", "email": "a@b.example", "status": "suspended"}, "status"),
        ({"name": "A", "email": "a@b.example", "parent_id": "nope"}, "parent_id"),
        ({"name": "A", "email": "a@b.example", "colour": "red"}, "colour"),
        ({"email": "a@b.example"}, "name"),
    ],
)
async def test_affiliate_validation(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await admin(client, tenant.admin_key, "POST", "/api/v1/affiliates", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert [d["field"] for d in response.json()["details"]] == [field]


async def test_duplicate_email_is_a_conflict(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await new_affiliate(client, tenant.admin_key)
    body = {"name": "Again", "email": "ANN@partners.example"}
    response = await admin(client, tenant.admin_key, "POST", "/api/v1/affiliates", body)
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


async def test_status_transitions(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ann = await new_affiliate(client, tenant.admin_key)
    path = f"/api/v1/affiliates/{ann['id']}"
    bad = await admin(client, tenant.admin_key, "PATCH", path, {"status": "suspended"})
    assert bad.status_code == 400
    assert bad.json()["details"][0]["code"] == "invalid_transition"
    for status in ("active", "suspended", "active"):
        ok = await admin(client, tenant.admin_key, "PATCH", path, {"status": status})
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == status
    back = await admin(client, tenant.admin_key, "PATCH", path, {"status": "pending"})
    assert back.status_code == 400
    renamed = await admin(client, tenant.admin_key, "PATCH", path, {"name": "Ann B"})
    assert renamed.json()["name"] == "Ann B"
    assert renamed.json()["status"] == "active"  # untouched fields stay


async def test_parent_must_be_own_and_acyclic(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    top = await new_affiliate(client, tenant.admin_key, email="top@p.example")
    mid = await new_affiliate(client, tenant.admin_key, email="mid@p.example", parent_id=top["id"])
    low = await new_affiliate(client, tenant.admin_key, email="low@p.example", parent_id=mid["id"])
    cycle = await admin(
        client,
        tenant.admin_key,
        "PATCH",
        f"/api/v1/affiliates/{top['id']}",
        {"parent_id": low["id"]},
    )
    assert cycle.status_code == 400
    assert cycle.json()["details"][0]["code"] == "cycle"
    itself = await admin(
        client,
        tenant.admin_key,
        "PATCH",
        f"/api/v1/affiliates/{top['id']}",
        {"parent_id": top["id"]},
    )
    assert itself.status_code == 400

    other = make_tenant(engine, name="other")
    stranger = await new_affiliate(client, other.admin_key, email="x@other.example")
    foreign = await admin(
        client,
        tenant.admin_key,
        "PATCH",
        f"/api/v1/affiliates/{low['id']}",
        {"parent_id": stranger["id"]},
    )
    assert foreign.status_code == 400
    cleared = await admin(
        client, tenant.admin_key, "PATCH", f"/api/v1/affiliates/{low['id']}", {"parent_id": None}
    )
    assert cleared.json()["parent_id"] is None


async def test_tokens_issued_once_hashed_and_revocable(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    ann = await new_affiliate(client, tenant.admin_key)
    path = f"/api/v1/affiliates/{ann['id']}/tokens"
    issued = await admin(client, tenant.admin_key, "POST", path)
    assert issued.status_code == 201
    token = issued.json()
    assert token["token"].startswith("crpa_")
    assert token["revoked_at"] is None
    with Session(engine) as session:
        stored = session.scalars(select(AffiliateToken)).one()
    assert stored.token_hash == hash_token(token["token"])
    assert token["token"] not in stored.token_hash

    listed = await admin(client, tenant.admin_key, "GET", path)
    assert [t["id"] for t in listed.json()["tokens"]] == [token["id"]]
    assert "token" not in listed.json()["tokens"][0]

    revoked = await admin(client, tenant.admin_key, "DELETE", f"{path}/{token['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    missing = await admin(client, tenant.admin_key, "DELETE", f"{path}/no-such-token")
    assert missing.status_code == 404


async def test_campaigns(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ann = await new_affiliate(client, tenant.admin_key)
    body = {"affiliate_id": ann["id"], "name": "Spring"}
    created = await admin(client, tenant.admin_key, "POST", "/api/v1/campaigns", body)
    assert created.status_code == 201
    listed = await admin(
        client, tenant.admin_key, "GET", "/api/v1/campaigns", affiliate_id=ann["id"]
    )
    assert listed.json()["campaigns"] == [created.json()]
    unknown = await admin(
        client, tenant.admin_key, "POST", "/api/v1/campaigns", {"affiliate_id": "x", "name": "A"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "affiliate_id"


async def test_links(client: httpx.AsyncClient, tenant: Tenant, engine: Engine) -> None:
    ann = await new_affiliate(client, tenant.admin_key)
    bob = await new_affiliate(client, tenant.admin_key, email="bob@p.example")
    campaign = (
        await admin(
            client,
            tenant.admin_key,
            "POST",
            "/api/v1/campaigns",
            {"affiliate_id": ann["id"], "name": "Spring"},
        )
    ).json()
    base = {"affiliate_id": ann["id"], "brand_id": tenant.brand_id}

    # No landing URL on the link nor on the brand: refused.
    none = await admin(client, tenant.admin_key, "POST", "/api/v1/links", base)
    assert none.status_code == 400
    assert none.json()["details"][0]["field"] == "landing_url"

    set_landing(engine, tenant.brand_id, "https://casino.example/welcome")
    body = {**base, "campaign_id": campaign["id"], "default_subs": {"sub1": "news", "sub3": ""}}
    created = await admin(client, tenant.admin_key, "POST", "/api/v1/links", body)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["landing_url"] is None  # the brand's, at click time
    assert link["default_subs"] == {"sub1": "news"}
    assert link["enabled"] is True
    assert len(link["code"]) >= 10
    assert link["url"].endswith(f"/t/{link['code']}")

    second = await admin(
        client,
        tenant.admin_key,
        "POST",
        "/api/v1/links",
        {**base, "landing_url": "https://casino.example/promo?x=1"},
    )
    assert second.json()["code"] != link["code"]

    for bad, field in [
        ({**base, "landing_url": "ftp://casino.example"}, "landing_url"),
        ({**base, "landing_url": "/relative"}, "landing_url"),
        ({**base, "brand_id": "nope"}, "brand_id"),
        ({**base, "campaign_id": "nope"}, "campaign_id"),
        ({**base, "affiliate_id": bob["id"], "campaign_id": campaign["id"]}, "campaign_id"),
        ({**base, "default_subs": {"sub9": "x"}}, "default_subs.sub9"),
    ]:
        refused = await admin(client, tenant.admin_key, "POST", "/api/v1/links", bad)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["details"][0]["field"] == field

    got = await admin(client, tenant.admin_key, "GET", f"/api/v1/links/{link['id']}")
    assert got.json()["clicks"] == {"total": 0, "unique": 0, "bots": 0}
    patched = await admin(
        client,
        tenant.admin_key,
        "PATCH",
        f"/api/v1/links/{link['id']}",
        {"enabled": False, "landing_url": "https://casino.example/other"},
    )
    assert (patched.json()["enabled"], patched.json()["landing_url"]) == (
        False,
        "https://casino.example/other",
    )
    listed = await admin(
        client, tenant.admin_key, "GET", "/api/v1/links", campaign_id=campaign["id"]
    )
    assert [x["id"] for x in listed.json()["links"]] == [link["id"]]


async def test_promo_codes_unique_in_any_case(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ann = await new_affiliate(client, tenant.admin_key)
    body = {"affiliate_id": ann["id"], "code": "Welcome100"}
    created = await admin(client, tenant.admin_key, "POST", "/api/v1/promo-codes", body)
    assert created.status_code == 201
    assert created.json()["code"] == "WELCOME100"
    again = {"affiliate_id": ann["id"], "code": "welcome100"}
    duplicate = await admin(client, tenant.admin_key, "POST", "/api/v1/promo-codes", again)
    assert duplicate.status_code == 409
    bad = {"affiliate_id": ann["id"], "code": "two words"}
    invalid = await admin(client, tenant.admin_key, "POST", "/api/v1/promo-codes", bad)
    assert invalid.status_code == 400
    listed = await admin(client, tenant.admin_key, "GET", "/api/v1/promo-codes")
    assert listed.json()["promo_codes"] == [created.json()]


async def test_other_operator_sees_404_and_other_scopes_403(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    set_landing(engine, tenant.brand_id, "https://casino.example/")
    ann = await new_affiliate(client, tenant.admin_key)
    link = (
        await admin(
            client,
            tenant.admin_key,
            "POST",
            "/api/v1/links",
            {"affiliate_id": ann["id"], "brand_id": tenant.brand_id},
        )
    ).json()
    other = make_tenant(engine, name="other")
    for method, path in [
        ("GET", f"/api/v1/affiliates/{ann['id']}"),
        ("PATCH", f"/api/v1/affiliates/{ann['id']}"),
        ("POST", f"/api/v1/affiliates/{ann['id']}/tokens"),
        ("GET", f"/api/v1/links/{link['id']}"),
        ("PATCH", f"/api/v1/links/{link['id']}"),
    ]:
        body = {} if method == "PATCH" else None
        response = await admin(client, other.admin_key, method, path, body)
        assert response.status_code == 404, (method, path, response.text)
    listed = await admin(client, other.admin_key, "GET", "/api/v1/affiliates")
    assert listed.json()["affiliates"] == []
    # Another operator's affiliate cannot be given a link, campaign or promo code.
    for path, body in [
        ("/api/v1/links", {"affiliate_id": ann["id"], "brand_id": other.brand_id}),
        ("/api/v1/campaigns", {"affiliate_id": ann["id"], "name": "x"}),
        ("/api/v1/promo-codes", {"affiliate_id": ann["id"], "code": "X"}),
    ]:
        response = await admin(client, other.admin_key, "POST", path, body)
        assert response.status_code == 400
    # Nor a link on another operator's brand.
    cross = await admin(
        client,
        tenant.admin_key,
        "POST",
        "/api/v1/links",
        {"affiliate_id": ann["id"], "brand_id": other.brand_id, "landing_url": "https://x.example"},
    )
    assert cross.status_code == 400

    for key in (tenant.read_key, tenant.key):
        forbidden = await admin(client, key, "GET", "/api/v1/affiliates")
        assert forbidden.status_code == 403
    assert (await client.get("/api/v1/affiliates")).status_code == 401


async def test_bad_json_and_bad_query(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/affiliates",
        content=b"{nope",
        headers={"X-API-Key": tenant.admin_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    too_many = await admin(client, tenant.admin_key, "GET", "/api/v1/affiliates", limit=5000)
    assert too_many.status_code == 400
