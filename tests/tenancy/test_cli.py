"""The tenancy CLI, as an operator's engineer would use it, against a real store."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from croupier.cli import cli
from croupier.tenancy import service as tenancy
from croupier.tenancy.models import ApiKey

BRAND_ID = "5b1f8a4e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("CROUPIER_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, list(args))
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    return invoke


def test_operator_brand_and_keys(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    assert "currency USD" in run("operators", "create", "acme", "--currency", "USD")
    assert BRAND_ID in run(
        "brands",
        "create",
        "--operator",
        "acme",
        "Acme Casino",
        "--id",
        BRAND_ID,
        "--landing-url",
        "https://acme.example/",
    )
    output = run(
        "keys",
        "create",
        "--operator",
        "acme",
        "--brand",
        "Acme Casino",
        "--scope",
        "read",
        "--rate-limit",
        "600/minute",
    )
    secret = re.search(r"api key: (\S+)", output).group(1)  # type: ignore[union-attr]
    key_id = re.search(r"key id:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    with Session(engine) as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        assert (key.scope, key.rate_limit, key.brand_id, key.is_test) == (
            "read",
            "600/minute",
            BRAND_ID,
            False,
        )
        assert secret not in key.key_hash  # only the hash is stored
        assert tenancy.find_active_key(session, secret=secret) is not None
    test_output = run("keys", "create", "--operator", "acme", "--test")
    assert "crp_test_" in test_output
    listing = run("keys", "list", "--operator", "acme")
    assert key_id in listing
    assert "600/minute" in listing
    assert " test" in listing
    assert secret not in listing
    assert "revoked" in run("keys", "revoke", key_id)
    with Session(engine) as session:
        assert tenancy.find_active_key(session, secret=secret) is None
    assert "revoked" in run("keys", "list")


@pytest.mark.parametrize(
    "args",
    [
        ("operators", "create", "acme"),  # exists
        ("operators", "create", "x", "--currency", "EURO"),
        ("brands", "create", "--operator", "nobody", "b"),
        ("brands", "create", "--operator", "acme", "b", "--id", "not-a-uuid"),
        ("keys", "create", "--operator", "acme", "--rate-limit", "lots"),
        ("keys", "create", "--operator", "acme", "--brand", "missing"),
        ("keys", "revoke", "no-such-key"),
    ],
)
def test_clear_errors(run, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    run("operators", "create", "acme")
    run("brands", "create", "--operator", "acme", "main")
    output = run(*args, ok=False)
    assert "error:" in output
    assert "Traceback" not in output


def test_key_needs_a_brand(run) -> None:  # type: ignore[no-untyped-def]
    run("operators", "create", "lonely")
    assert "no brand yet" in run("keys", "create", "--operator", "lonely", ok=False)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_waits_for_a_busy_sqlite_writer(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """A key created while the ingest writer holds the lock waits its turn, never fails."""
    import threading
    import time

    run("operators", "create", "acme")
    run("brands", "create", "--operator", "acme", "main")
    holding = threading.Event()

    def busy_writer() -> None:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            conn.exec_driver_sql("UPDATE operators SET currency = 'EUR'")
            holding.set()
            time.sleep(0.5)

    writer = threading.Thread(target=busy_writer)
    writer.start()
    holding.wait()
    output = run("keys", "create", "--operator", "acme")
    writer.join()
    assert "api key: crp_" in output
