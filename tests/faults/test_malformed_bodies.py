"""Hostile bodies on every ingest endpoint: a 4xx in the error model, never a 5xx, and the
events stored before are untouched.

Each malformed body is built from a valid event of the endpoint's own format, so the
malformation (and not, say, a missing field) is the only thing wrong with it; after it, the
same event without the malformation must still be accepted.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from faults_support import assert_error_body
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.events.models import Event
from croupier.ingest import examples
from factories import Tenant

pytestmark = pytest.mark.anyio

TEN_MB = 10_000_000  # under the batch limit (10 MiB), ten times the single-event limit (1 MiB)
POISON = "__POISON__"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    event: dict[str, Any]  # a valid event of the endpoint's format
    key_field: str  # changed to make a new event (a different idempotency key)
    number_field: str  # where a malformed number goes
    string_field: str  # a length-checked string, for the 10 MB value
    batch_body: bool = False  # 10 MiB body limit instead of 1 MiB
    as_array: bool = False  # DataPulse batch: the body is a JSON array of events

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _rv_deposit() -> dict[str, Any]:
    events = cast("list[dict[str, Any]]", examples.REVVVS_BATCH["events"])
    return dict(events[1])


def _ft(name: str) -> dict[str, Any]:
    return dict(cast("dict[str, Any]", examples.FASTTRACK[name]))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v2/s2s/event",
        dict(examples.DATAPULSE_DEPOSIT),
        "transaction_id",
        "amount",
        "client_user_id",
    ),
    Endpoint(
        "POST",
        "/v2/s2s/batch",
        dict(examples.DATAPULSE_DEPOSIT),
        "transaction_id",
        "amount",
        "client_user_id",
        batch_body=True,
        as_array=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/events",
        _rv_deposit(),
        "idempotency_key",
        "amount",
        "player_external_ref",
        batch_body=True,
    ),
    Endpoint("POST", "/v1/integration/casino", _ft("CASINO"), "activity_id", "amount", "user_id"),
    Endpoint("POST", "/v1/integration/bonus", _ft("BONUS"), "user_bonus_id", "amount", "user_id"),
    Endpoint("POST", "/v1/integration/payment", _ft("PAYMENT"), "payment_id", "amount", "user_id"),
    # Fast Track's user messages carry no number: a malformed number goes where a string must.
    Endpoint(
        "POST", "/v2/integration/user", _ft("USER_CREATE_V2"), "user_id", "user_id", "user_id"
    ),
    Endpoint("PUT", "/v2/integration/user", _ft("USER_UPDATE_V2"), "user_id", "user_id", "user_id"),
    Endpoint(
        "PUT", "/v2/integration/user/blocks", _ft("USER_BLOCK_V2"), "user_id", "user_id", "user_id"
    ),
    Endpoint("POST", "/v2/integration/login", _ft("LOGIN_V2"), "user_id", "user_id", "user_id"),
]


# Makes one malformed body for an endpoint, given the brand its events may name.
Builder = Callable[[Endpoint, str], bytes]


def fresh_event(endpoint: Endpoint, tag: str, brand: str) -> dict[str, Any]:
    event = copy.deepcopy(endpoint.event)
    event[endpoint.key_field] = f"{tag}-{event[endpoint.key_field]}"
    if "brand_id" in event:  # Revvvs names the brand; it must be one of the key's operator
        event["brand_id"] = brand
    return event


def encode(endpoint: Endpoint, event: dict[str, Any]) -> str:
    return json.dumps([event] if endpoint.as_array else event)


def with_number(raw: str) -> Builder:
    """The endpoint's number field spelled ``raw`` on the wire (not representable in JSON
    via ``json.dumps``, so it is spliced into the text)."""

    def build(endpoint: Endpoint, brand: str) -> bytes:
        event = fresh_event(endpoint, "num", brand)
        event[endpoint.number_field] = POISON
        return encode(endpoint, event).replace(f'"{POISON}"', raw).encode()

    return build


def with_string_bytes(raw: bytes) -> Builder:
    """The endpoint's string field holding bytes that are not UTF-8."""

    def build(endpoint: Endpoint, brand: str) -> bytes:
        event = fresh_event(endpoint, "enc", brand)
        event[endpoint.string_field] = POISON
        return encode(endpoint, event).encode().replace(POISON.encode(), raw)

    return build


def truncated(endpoint: Endpoint, brand: str) -> bytes:
    body = encode(endpoint, fresh_event(endpoint, "cut", brand)).encode()
    return body[: len(body) // 2]


def utf16(endpoint: Endpoint, brand: str) -> bytes:
    return encode(endpoint, fresh_event(endpoint, "utf16", brand)).encode("utf-16")  # with its BOM


def latin1(endpoint: Endpoint, brand: str) -> bytes:
    event = fresh_event(endpoint, "latin1", brand)
    event[endpoint.string_field] = "José Müller"
    return json.dumps([event] if endpoint.as_array else event, ensure_ascii=False).encode("latin-1")


def ten_mb_string(endpoint: Endpoint, brand: str) -> bytes:
    event = fresh_event(endpoint, "big", brand)
    event[endpoint.string_field] = "x" * TEN_MB
    return encode(endpoint, event).encode()


BODIES: dict[str, Builder] = {
    "truncated JSON": truncated,
    "empty body": lambda _endpoint, _brand: b"",
    "huge exponent 1e999999": with_number("1e999999"),
    "tiny exponent 1e-999999": with_number("1e-999999"),
    "integer of 5001 digits": with_number("1" + "0" * 5000),
    "decimal of 5002 digits": with_number("1" + "0" * 5000 + ".5"),
    "NaN literal": with_number("NaN"),
    "Infinity literal": with_number("Infinity"),
    "-Infinity literal": with_number("-Infinity"),
    "100k open brackets": lambda _endpoint, _brand: b"[" * 100_000,
    "100k nested arrays": lambda _endpoint, _brand: b"[" * 100_000 + b"]" * 100_000,
    "100k nested objects": lambda _endpoint, _brand: b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "latin-1 bytes": latin1,
    "invalid UTF-8 (0xff 0xfe)": with_string_bytes(b"\xff\xfe"),
    "overlong UTF-8 (0xc0 0xaf)": with_string_bytes(b"\xc0\xaf"),
    "lone surrogate in UTF-8 (0xed 0xa0 0x80)": with_string_bytes(b"\xed\xa0\x80"),
    "lone surrogate escaped (\\ud800)": with_string_bytes(b"\\ud800"),
    "10 MB string": ten_mb_string,
}
# Bodies holding NUL bytes: refused as not JSON, then kept as rejected payloads, which
# PostgreSQL's text columns cannot hold (kept NUL-free now).
NUL_BODIES: dict[str, Builder] = {
    "UTF-16 with BOM": utf16,
    "raw NUL byte in a string": with_string_bytes(b"a\x00b"),
}

# Found by these tests and fixed: on PostgreSQL a refused body with NUL bytes was answered
# 500 (its kept payload could not be stored), and a NUL character in a text field failed every
# request sharing its commit. NUL is now refused in every string field, on every store.


def snapshot(engine: Engine) -> list[tuple[str, str, str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Event.event_id, Event.idempotency_key, Event.content_hash, Event.raw).order_by(
                Event.seq
            )
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]


async def chunks(body: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def store_one(
    client: httpx.AsyncClient, endpoint: Endpoint, tenant: Tenant, tag: str
) -> None:
    response = await client.request(
        endpoint.method,
        endpoint.path,
        content=encode(endpoint, fresh_event(endpoint, tag, tenant.brand_id)).encode(),
        headers={"X-API-Key": tenant.key, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def expected_status(endpoint: Endpoint, case: str) -> int | None:
    """The exact status where the contract names one; None where any 4xx will do."""
    if case == "10 MB string":
        # The batch endpoints take 10 MiB bodies, so the event is read and refused for its
        # field; the single-event endpoints refuse the body itself.
        return 400 if endpoint.batch_body else 413
    return None


async def send_malformed(
    client: httpx.AsyncClient, endpoint: Endpoint, tenant: Tenant, body: bytes, *, chunked: bool
) -> httpx.Response:
    return await client.request(
        endpoint.method,
        endpoint.path,
        # Streamed without Content-Length, the body limit must hold while reading.
        content=chunks(body) if chunked else body,
        headers={"X-API-Key": tenant.key, "Content-Type": "application/json"},
    )


def assert_refused(response: httpx.Response, wanted: int | None = None, case: str = "") -> None:
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:500])
    assert_error_body(response)
    if wanted is not None:
        assert response.status_code == wanted, response.text[:500]


ENDPOINT_IDS = [endpoint.id for endpoint in ENDPOINTS]


# One app per endpoint and store, every body in turn (a subtest each): an app per body would
# cost several times as long for nothing more.
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_malformed_bodies_get_a_4xx_and_leave_the_store_untouched(
    client: httpx.AsyncClient,
    tenant: Tenant,
    engine: Engine,
    endpoint: Endpoint,
    subtests: pytest.Subtests,
) -> None:
    await store_one(client, endpoint, tenant, "before")
    for case, build in BODIES.items():
        body = build(endpoint, tenant.brand_id)
        for chunked in (False, True) if case == "10 MB string" else (False,):
            with subtests.test(case=case, chunked=chunked):
                before = snapshot(engine)
                response = await send_malformed(client, endpoint, tenant, body, chunked=chunked)
                assert_refused(response, expected_status(endpoint, case))
                assert snapshot(engine) == before
    # The app is still well after all that, and the same event without a flaw is taken.
    count = len(snapshot(engine))
    await store_one(client, endpoint, tenant, "after")
    assert len(snapshot(engine)) == count + 1


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_bodies_with_nul_bytes_get_a_4xx_and_leave_the_store_untouched(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine, endpoint: Endpoint
) -> None:
    await store_one(client, endpoint, tenant, "before")
    for case, build in NUL_BODIES.items():
        before = snapshot(engine)
        response = await send_malformed(
            client, endpoint, tenant, build(endpoint, tenant.brand_id), chunked=False
        )
        assert_refused(response, case=case)
        assert snapshot(engine) == before, case
    await store_one(client, endpoint, tenant, "after")


async def test_a_nul_character_in_an_event_fails_no_other_request(
    client: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    # Valid JSON ("\u0000" is a legal escape): the event may be stored or refused, but it
    # must not take down the requests that happen to share its commit.
    def body(number: int, player: str = "player_1") -> dict[str, Any]:
        event = dict(examples.DATAPULSE_DEPOSIT)
        event.update(transaction_id=f"nul-{number}", client_user_id=player)
        return event

    bodies = [body(n) for n in range(10)] + [body(99, "a\x00b")] + [body(n) for n in range(10, 20)]
    responses = await asyncio.gather(
        *(
            client.post(
                "/v2/s2s/event",
                json=event,
                headers={"X-API-Key": tenant.key, "Content-Type": "application/json"},
            )
            for event in bodies
        )
    )
    poisoned = responses.pop(10)
    assert poisoned.status_code == 200 or 400 <= poisoned.status_code < 500, poisoned.text
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses][:3]
    stored = {row[1] for row in snapshot(engine)}
    assert {f"nul-{n}" for n in range(20)} <= stored
