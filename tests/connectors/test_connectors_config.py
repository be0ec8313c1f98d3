"""Binding topics and queues by configuration: settings parsing and tenant resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from croupier import serving
from croupier.cli import cli
from croupier.connectors.common import ConnectorConfigError, resolve_sources
from croupier.connectors.config import Binding
from croupier.settings import Settings
from factories import Tenant


def test_bindings_come_from_one_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CROUPIER_KAFKA_BINDINGS",
        '[{"topic": "ft-events", "format": "fasttrack", "operator": "acme", "is_test": true},'
        ' {"topic": "dp", "format": "datapulse", "key_header": "x-api-key",'
        ' "dead_letter": "dp-refused"}]',
    )
    monkeypatch.setenv("CROUPIER_RABBITMQ_URL", "amqp://u:secret@mq:5672/vhost")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    fasttrack, datapulse = settings.kafka_bindings
    assert (fasttrack.name, fasttrack.format, fasttrack.operator, fasttrack.is_test) == (
        "ft-events",
        "fasttrack",
        "acme",
        True,
    )
    assert fasttrack.dead_letter_name == "ft-events.dead-letter"
    assert (datapulse.key_header, datapulse.dead_letter_name) == ("x-api-key", "dp-refused")
    assert "secret" not in repr(settings.rabbitmq_url)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"queue": "q", "format": "revvvs"}, "give an operator or a key_header"),
        (
            {"queue": "q", "format": "revvvs", "operator": "a", "key_header": "x-api-key"},
            "not both",
        ),
        (
            {"queue": "q", "format": "revvvs", "key_header": "x-api-key", "brand": "b"},
            "come from the key",
        ),
        ({"queue": "q", "format": "csv", "operator": "a"}, "format"),
        ({"queue": "q", "format": "revvvs", "operator": "a", "tenant": "x"}, "tenant"),
    ],
)
def test_a_binding_names_one_way_to_find_its_tenant(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Binding.model_validate(fields)


def test_bindings_resolve_to_the_operator_and_brand(engine: Engine, tenant: Tenant) -> None:
    sources = resolve_sources(
        engine,
        [
            Binding.model_validate({"topic": "a", "format": "revvvs", "operator": "acme"}),
            Binding.model_validate(
                {
                    "topic": "b",
                    "format": "revvvs",
                    "operator": tenant.operator_id,
                    "brand": "acme-sports",
                    "is_test": True,
                }
            ),
            Binding.model_validate({"topic": "c", "format": "revvvs", "key_header": "x-key"}),
        ],
    )
    first, second = sources["a"].key, sources["b"].key
    assert first is not None
    assert second is not None
    assert (first.operator_id, first.default_brand_id, first.is_test) == (
        tenant.operator_id,
        tenant.brand_id,
        False,
    )
    assert (second.default_brand_id, second.is_test) == (tenant.other_brand_id, True)
    assert first.brand_ids == {tenant.brand_id, tenant.other_brand_id}
    assert sources["c"].key is None


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        ([], "no topics or queues are bound"),
        ([{"topic": "a", "format": "revvvs", "operator": "nobody"}], "no operator 'nobody'"),
        (
            [{"topic": "a", "format": "revvvs", "operator": "acme", "brand": "nope"}],
            "has no brand 'nope'",
        ),
        (
            [
                {"topic": "a", "format": "revvvs", "operator": "acme"},
                {"topic": "a", "format": "datapulse", "operator": "acme"},
            ],
            "bound twice",
        ),
    ],
)
def test_a_bad_binding_stops_the_start(
    engine: Engine, tenant: Tenant, bindings: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        resolve_sources(engine, [Binding.model_validate(b) for b in bindings])


def test_consume_without_bindings_exits_with_the_reason(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROUPIER_DATABASE_URL", database_url)
    monkeypatch.setenv("CROUPIER_RABBITMQ_BINDINGS", "[]")
    result = CliRunner().invoke(cli, ["consume", "rabbitmq"])
    assert result.exit_code == 2, result.output
    assert "no topics or queues are bound" in result.output


@pytest.mark.parametrize(
    ("consumers", "workers"),
    [('["rabbitmq"]', ["--workers", "2"]), ('["kafka", "rabbitmq"]', [])],
)
def test_serve_refuses_several_workers_consuming_rabbitmq(
    consumers: str,
    workers: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    monkeypatch.chdir(tmp_path)  # away from any .env
    monkeypatch.setenv("CROUPIER_DATABASE_URL", f"sqlite:///{tmp_path / 'croupier.db'}")
    monkeypatch.setenv("CROUPIER_CONSUME_IN_SERVE", consumers)
    monkeypatch.setenv("CROUPIER_WORKERS", "3")
    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    monkeypatch.setattr(serving, "supervise", lambda **kwargs: served.append(kwargs))
    result = CliRunner().invoke(cli, ["serve", *workers])
    assert result.exit_code == 2, result.output
    count = 2 if workers else 3
    assert result.output.splitlines() == [
        f"error: {count} workers cannot share the RabbitMQ consumer of CROUPIER_CONSUME_IN_SERVE "
        "(queue order): serve with one worker or run `croupier consume rabbitmq` apart"
    ]
    assert served == []
    assert not (tmp_path / "croupier.db").exists()  # refused before anything is done


@pytest.mark.parametrize(
    ("consumers", "workers"), [('["kafka"]', 2), ('["rabbitmq"]', 1), ("[]", 4)]
)
def test_serve_allows_kafka_with_several_workers_and_rabbitmq_with_one(
    consumers: str, workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker's Kafka consumer is a member of the group: partitions are shared out."""
    import uvicorn

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CROUPIER_DATABASE_URL", f"sqlite:///{tmp_path / 'croupier.db'}")
    monkeypatch.setenv("CROUPIER_CONSUME_IN_SERVE", consumers)
    monkeypatch.setenv("CROUPIER_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CROUPIER_BOOTSTRAP_DEMO", "false")
    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    # Several workers: the process would become their supervisor (an exec) instead.
    monkeypatch.setattr(serving, "supervise", lambda **kwargs: served.append(kwargs))
    result = CliRunner().invoke(cli, ["serve", "--workers", str(workers)])
    assert result.exit_code == 0, result.output
    assert [kwargs["workers"] for kwargs in served] == [workers]
