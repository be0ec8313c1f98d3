"""For postback tests: a real HTTP receiver on 127.0.0.1 and factories for what a postback
needs (an affiliate made through the API, a tracking link, a click with sub-ids)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier.affiliates.postback_models import PostbackAttempt, PostbackDelivery
from factories import add_click


@dataclass
class Receiver:
    """Answers 500 to the first ``failures`` requests, then 200; records every request."""

    failures: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""


@contextmanager
def receiver(failures: int = 0) -> Iterator[Receiver]:
    state = Receiver(failures=failures)

    class Handle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers.items())))
            code = 500 if len(state.requests) <= state.failures else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def create_affiliate(client: httpx.AsyncClient, admin_key: str, name: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/affiliates",
        json={"name": name, "email": f"{name}@example.com", "status": "active"},
        headers={"X-API-Key": admin_key},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_link(
    client: httpx.AsyncClient, admin_key: str, *, affiliate_id: str, brand_id: str
) -> str:
    response = await client.post(
        "/api/v1/links",
        json={
            "affiliate_id": affiliate_id,
            "brand_id": brand_id,
            "landing_url": "https://casino.example/",
        },
        headers={"X-API-Key": admin_key},
    )
    assert response.status_code == 201, response.text
    link_id: str = response.json()["id"]
    return link_id


async def create_postback(
    client: httpx.AsyncClient, admin_key: str, affiliate_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/affiliates/{affiliate_id}/postbacks",
        json=body,
        headers={"X-API-Key": admin_key},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def issue_token(client: httpx.AsyncClient, admin_key: str, affiliate_id: str) -> str:
    response = await client.post(
        f"/api/v1/affiliates/{affiliate_id}/tokens", headers={"X-API-Key": admin_key}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def make_click(
    engine: Engine,
    *,
    operator_id: str,
    brand_id: str,
    affiliate_id: str,
    link_id: str,
    clicked_at: datetime,
    **subs: str,
) -> str:
    return add_click(
        engine,
        operator_id=operator_id,
        brand_id=brand_id,
        affiliate_id=affiliate_id,
        link_id=link_id,
        clicked_at=clicked_at,
        **subs,
    )


def deliveries(engine: Engine) -> list[PostbackDelivery]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(PostbackDelivery).order_by(
            PostbackDelivery.player_ref, PostbackDelivery.event
        )
        return list(session.scalars(query))


def attempts(engine: Engine, delivery_id: str) -> list[PostbackAttempt]:
    with Session(engine, expire_on_commit=False) as session:
        query = (
            select(PostbackAttempt)
            .where(PostbackAttempt.delivery_id == delivery_id)
            .order_by(PostbackAttempt.number)
        )
        return list(session.scalars(query))
