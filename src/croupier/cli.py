"""``croupier``: serve, migrate, and manage operators, brands and API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from croupier import serving
from croupier.commissions.statement_cli import statements_cli
from croupier.kit import migrate

if TYPE_CHECKING:
    from croupier.projections.engine import Projector
from croupier.kit.db import is_sqlite, write_session
from croupier.kit.observability import configure_logging
from croupier.settings import Settings
from croupier.tenancy import service as tenancy
from croupier.tenancy.service import Scope, TenancyError

cli = typer.Typer(help="Croupier: player events in, durable and once.", no_args_is_help=True)
db_cli = typer.Typer(help="The database schema.", no_args_is_help=True)
operators_cli = typer.Typer(help="Operators (tenants).", no_args_is_help=True)
brands_cli = typer.Typer(help="Brands of an operator.", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
fx_cli = typer.Typer(help="Exchange rates for reports.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(operators_cli, name="operators")
cli.add_typer(brands_cli, name="brands")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(fx_cli, name="fx")
cli.add_typer(statements_cli, name="statements")
consume_cli = typer.Typer(
    help="Consume events from a broker (bindings: CROUPIER_KAFKA_BINDINGS / _RABBITMQ_BINDINGS).",
    no_args_is_help=True,
)
cli.add_typer(consume_cli, name="consume")


@contextmanager
def _session() -> Iterator[Session]:
    """One unit of work: commit on success, a clean message and exit 1 on a TenancyError."""
    settings = Settings()
    engine = settings.store_engine()
    try:
        with write_session(engine) as session, session.begin():
            yield session
    except TenancyError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = Settings()
    engine = settings.store_engine()
    migrate.upgrade(engine, revision)
    engine.dispose()
    typer.echo(f"database at {revision}")


@operators_cli.command("create")
def operators_create(
    name: str,
    currency: Annotated[str, typer.Option(help="reporting currency")] = "EUR",
    session_gap_minutes: Annotated[
        int, typer.Option(help="inactivity that ends a casino session")
    ] = 30,
) -> None:
    """Create an operator with its reporting currency."""
    with _session() as session:
        operator = tenancy.create_operator(
            session,
            name=name,
            currency=currency.upper(),
            session_gap_minutes=session_gap_minutes,
        )
        typer.echo(
            f"operator {operator.name} created: id {operator.id}, currency {operator.currency}"
        )


@operators_cli.command("list")
def operators_list() -> None:
    from sqlalchemy import select

    from croupier.tenancy.models import Operator

    with _session() as session:
        for operator in session.scalars(select(Operator).order_by(Operator.name)):
            typer.echo(f"{operator.id}  {operator.name}  {operator.currency}")


@brands_cli.command("create")
def brands_create(
    brand_name: str,
    operator: Annotated[str, typer.Option(help="operator name")],
    brand_id: Annotated[str | None, typer.Option("--id", help="brand UUID (default: new)")] = None,
    landing_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a brand of an operator."""
    with _session() as session:
        owner = tenancy.get_operator(session, name=operator)
        brand = tenancy.create_brand(
            session, operator=owner, name=brand_name, brand_id=brand_id, landing_url=landing_url
        )
        typer.echo(f"brand {brand.name} created: id {brand.id}")


@brands_cli.command("list")
def brands_list(operator: Annotated[str, typer.Option(help="operator name")]) -> None:
    with _session() as session:
        owner = tenancy.get_operator(session, name=operator)
        for brand in tenancy.list_brands(session, operator_id=owner.id):
            typer.echo(f"{brand.id}  {brand.name}  {brand.landing_url or ''}")


@keys_cli.command("create")
def keys_create(
    operator: Annotated[str, typer.Option(help="operator name")],
    brand: Annotated[str | None, typer.Option(help="default brand (name or id)")] = None,
    scope: Annotated[Scope, typer.Option()] = Scope.INGEST,
    rate_limit: Annotated[
        str | None, typer.Option(help="e.g. 600/minute, or 'unlimited' for trusted producers")
    ] = None,
    test: Annotated[
        bool, typer.Option("--test", help="events stored but kept out of reports")
    ] = False,
    label: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create an API key. The key is printed once and stored only as a hash."""
    with _session() as session:
        owner = tenancy.get_operator(session, name=operator)
        default_brand = tenancy.resolve_brand(session, operator=owner, brand=brand)
        issued = tenancy.create_key(
            session,
            operator=owner,
            brand=default_brand,
            scope=scope,
            rate_limit=rate_limit,
            is_test=test,
            label=label,
        )
        typer.echo(f"key id:  {issued.key.id}")
        typer.echo(f"api key: {issued.secret}   (shown once: store it now)")


@keys_cli.command("list")
def keys_list(operator: Annotated[str | None, typer.Option(help="operator name")] = None) -> None:
    with _session() as session:
        operator_id = tenancy.get_operator(session, name=operator).id if operator else None
        for key in tenancy.list_keys(session, operator_id=operator_id):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            flags = " test" if key.is_test else ""
            typer.echo(
                f"{key.id}  {key.prefix}…  {key.scope}{flags}  "
                f"{key.rate_limit or 'default limit'}  {state}  {key.label or ''}"
            )


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key; running servers refuse it within CROUPIER_KEY_CACHE_SECONDS."""
    with _session() as session:
        key = tenancy.revoke_key(session, key_id=key_id)
        typer.echo(f"key {key.id} revoked")


@fx_cli.command("load")
def fx_load(
    path: Annotated[Path, typer.Argument(help="CSV with the header date,currency,quote,rate")],
    operator: Annotated[str, typer.Option(help="operator name")],
) -> None:
    """Load daily exchange rates (1 currency = rate quote), replacing the same day and pair.
    Nothing is loaded if any line is invalid."""
    from croupier.reports import fx

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        typer.secho(f"error: cannot read {path}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    try:
        rates = fx.parse_csv(text)
    except fx.FxError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        for detail in exc.details:
            where = f"line {detail['line']}: " if "line" in detail else ""
            typer.secho(f"  {where}{detail['field']}: {detail['message']}", err=True)
        raise typer.Exit(1) from None
    with _session() as session:
        owner = tenancy.get_operator(session, name=operator)
        loaded = fx.store(session, operator_id=owner.id, rates=rates)
    typer.echo(f"loaded {loaded} exchange rates for {operator}")


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the HTTP API (the embedded SQLite store is migrated first)."""
    import uvicorn

    settings = Settings()
    configure_logging(settings.log_level)
    worker_count = workers or settings.workers
    if worker_count > 1 and "rabbitmq" in settings.consume_in_serve:
        # Each worker would consume every queue: messages of one queue stored out of order.
        typer.secho(
            f"error: {worker_count} workers cannot share the RabbitMQ consumer of "
            "CROUPIER_CONSUME_IN_SERVE (queue order): serve with one worker or run "
            "`croupier consume rabbitmq` apart",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    engine = settings.store_engine()
    if is_sqlite(settings.database_url):
        migrate.upgrade(engine)
    if settings.bootstrap_demo:
        _bootstrap(engine, settings)
    engine.dispose()
    if worker_count > 1 and settings.rate_limit_storage.startswith("memory"):
        typer.secho(
            f"warning: {worker_count} workers with in-memory rate limits: each worker counts "
            "alone. Set CROUPIER_RATE_LIMIT_STORAGE=redis://… to share them.",
            fg=typer.colors.YELLOW,
            err=True,
        )
    bind_host, bind_port = host or settings.host, port or settings.port
    if worker_count > 1:  # this process becomes their supervisor
        serving.supervise(host=bind_host, port=bind_port, workers=worker_count)
    else:
        options = serving.uvicorn_options(host=bind_host, port=bind_port, workers=1)
        uvicorn.run(serving.APP, **options)


@cli.command("worker")
def worker() -> None:
    """Run the projector and the postback sender as their own process (production: set
    CROUPIER_PROJECTOR_IN_PROCESS=false and CROUPIER_POSTBACK_IN_PROCESS=false on the API
    processes). Stops on SIGINT/SIGTERM."""
    import signal
    import threading

    from croupier.affiliates.postback_delivery import (
        PostbackSender,
        policy_from,
        run_sender_thread,
    )
    from croupier.projections.engine import run_worker

    settings = Settings()
    configure_logging(settings.log_level)
    engine = settings.store_engine(long_running=True)
    serving.tune_runtime()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo("projector and postback sender running; Ctrl-C stops them after the current batch")
    sender = PostbackSender(
        engine, policy=policy_from(settings), poll_seconds=settings.postback_poll_seconds
    )
    sending = run_sender_thread(sender, stop)
    try:
        run_worker(
            _projector(engine, settings), poll_seconds=settings.projector_poll_seconds, stop=stop
        )
    finally:
        sending.join(timeout=30)
        engine.dispose()


@consume_cli.command("kafka")
def consume_kafka() -> None:
    """Consume the bound Kafka topics; offsets are committed once the events are stored.
    Stops on SIGINT/SIGTERM after the batch in hand."""
    _consume("kafka")


@consume_cli.command("rabbitmq")
def consume_rabbitmq() -> None:
    """Consume the bound RabbitMQ queues; messages are acked once the events are stored.
    Stops on SIGINT/SIGTERM after the batch in hand."""
    _consume("rabbitmq")


def _consume(broker: Literal["kafka", "rabbitmq"]) -> None:
    import asyncio
    import signal

    import uvloop
    from prometheus_client import start_http_server

    from croupier.connectors.common import ConnectorConfigError
    from croupier.connectors.runner import consume
    from croupier.kit.observability import Metrics

    settings = Settings()
    configure_logging(settings.log_level)
    if is_sqlite(settings.database_url):
        engine = settings.store_engine()
        migrate.upgrade(engine)
        engine.dispose()
    metrics = Metrics()
    if settings.connector_metrics_port is not None:
        start_http_server(settings.connector_metrics_port, settings.host, metrics.registry)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await consume(broker, settings, stop, metrics=metrics)

    serving.tune_runtime()
    try:
        uvloop.run(run())
    except ConnectorConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@cli.command("replay")
def replay(
    operator: Annotated[
        str | None, typer.Option(help="rebuild only this operator's projections (name)")
    ] = None,
) -> None:
    """Rebuild every projection from the event log."""
    from sqlalchemy import select

    from croupier.tenancy.models import Operator

    settings = Settings()
    engine = settings.store_engine(long_running=True)
    serving.tune_runtime()
    try:
        operator_id = None
        if operator is not None:
            with Session(engine) as session:
                operator_id = session.scalar(select(Operator.id).where(Operator.name == operator))
            if operator_id is None:
                typer.secho(f"error: no operator {operator!r}", fg=typer.colors.RED, err=True)
                raise typer.Exit(1)
        applied = _projector(engine, settings).replay(operator_id)
    finally:
        engine.dispose()
    typer.echo(f"replayed {applied} events")


def _projector(engine: Engine, settings: Settings) -> Projector:
    from croupier.projections import registry
    from croupier.projections.engine import Projector

    return Projector(engine, registry.handlers(), batch_size=settings.projector_batch_events)


def _bootstrap(engine: Engine, settings: Settings) -> None:
    demo_secret = settings.demo_api_key.get_secret_value() if settings.demo_api_key else None
    with write_session(engine) as session, session.begin():
        issued = tenancy.bootstrap_demo(session, secret=demo_secret)
    if issued is not None:
        typer.secho(
            "First start: created operator 'demo', brand 'demo-casino' and an ingest key.",
            fg=typer.colors.GREEN,
        )
        typer.secho(f"  demo API key: {issued.secret}   (shown once: copy it now)", bold=True)


def main() -> None:
    cli()
