"""``croupier statements``: run, list, show and close monthly statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

statements_cli = typer.Typer(help="Monthly affiliate statements.", no_args_is_help=True)
T = TypeVar("T")


def _unit_of_work(work: Callable[[Any], T], *, read_only: bool = False) -> T:
    """``work(session)`` in one committed transaction (``read_only``: a read transaction,
    no write lock); an API error is a message, exit 1."""
    from sqlalchemy.orm import Session

    from croupier.kit.db import write_session
    from croupier.kit.errors import ApiError
    from croupier.settings import Settings

    settings = Settings()
    engine = settings.store_engine()
    try:
        if read_only:
            with Session(engine) as session:
                return work(session)
        with write_session(engine) as session, session.begin():
            return work(session)
    except ApiError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _operator_ids(session: Any, operator: str | None) -> list[str]:
    from sqlalchemy import or_, select

    from croupier.kit.errors import ApiError
    from croupier.tenancy.models import Operator

    query = select(Operator.id).order_by(Operator.name)
    if operator is not None:
        query = query.where(or_(Operator.name == operator, Operator.id == operator))
    found = list(session.scalars(query))
    if operator is not None and not found:
        raise ApiError(404, "not_found", f"no operator {operator!r}")
    return found


@statements_cli.command("run")
def run(
    period: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    operator: Annotated[
        str | None, typer.Option(help="operator name or id (default: every operator)")
    ] = None,
) -> None:
    """Compute the month's statements (drafts); closed ones stay as they are."""
    from croupier.commissions import statements
    from croupier.kit.timeparse import utcnow

    def check(session: Any) -> tuple[Any, list[str]]:
        month = statements.parse_period(period, today=utcnow().date())
        return month, _operator_ids(session, operator)

    month, operator_ids = _unit_of_work(check)
    for operator_id in operator_ids:

        def compute(session: Any, operator_id: str = operator_id) -> Any:
            return statements.compute(session, operator_id=operator_id, period=month, now=utcnow())

        # A read transaction computes; only the short write takes the write lock.
        computed = _unit_of_work(compute, read_only=True)

        def store(session: Any, computed: Any = computed) -> Any:
            return statements.store(session, computed)

        result = _unit_of_work(store)
        typer.echo(
            f"operator {operator_id} {period}: {len(result.statements)} statements "
            f"({result.created} new, {result.updated} recomputed), {result.closed} closed "
            f"unchanged, {len(result.skipped)} skipped, {result.removed} removed"
        )


@statements_cli.command("list")
def list_statements(
    period: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    operator: Annotated[str | None, typer.Option(help="operator name or id")] = None,
    affiliate: Annotated[str | None, typer.Option(help="affiliate id")] = None,
    status: Annotated[str | None, typer.Option(help="draft or closed")] = None,
) -> None:
    """Statements: id, month, affiliate, status, total, payable."""
    from croupier.commissions import statement_documents as documents
    from croupier.commissions import statements
    from croupier.kit.timeparse import utcnow

    def work(session: Any) -> list[dict[str, Any]]:
        month = statements.parse_period(period, today=utcnow().date()) if period else None
        found: list[dict[str, Any]] = []
        for operator_id in _operator_ids(session, operator):
            after: str | None = None
            while True:
                page = documents.find(
                    session,
                    operator_id=operator_id,
                    period=month,
                    affiliate_id=affiliate,
                    status=status,
                    after_id=after,
                    limit=1000,
                )
                found.extend(documents.summary_json(statement) for statement in page)
                if len(page) < 1000:
                    break
                after = page[-1].id
        return found

    for item in _unit_of_work(work):
        typer.echo(
            f"{item['id']}  {item['period']}  {item['affiliate_id']}  {item['status']:6}  "
            f"total {item['total']} {item['reporting_currency']}  "
            f"payable {item['payable'] or '-'} {item['payout_currency']}"
        )


@statements_cli.command("show")
def show(statement_id: str) -> None:
    """A statement as JSON: totals, sections, per-player lines, adjustments."""
    from sqlalchemy import select

    from croupier.commissions import statement_documents as documents
    from croupier.commissions.statement_models import Statement
    from croupier.kit import jsoncodec

    def work(session: Any) -> bytes:
        operator_id = session.scalar(
            select(Statement.operator_id).where(Statement.id == statement_id)
        )
        statement = documents.get(session, operator_id=operator_id, statement_id=statement_id)
        return jsoncodec.encode_answer(documents.document_json(session, statement))

    typer.echo(_unit_of_work(work).decode())


@statements_cli.command("close")
def close(statement_id: str) -> None:
    """Close a draft statement: it never changes afterwards."""
    from sqlalchemy import select

    from croupier.commissions import statement_documents as documents
    from croupier.commissions.statement_models import Statement
    from croupier.kit.timeparse import utcnow

    def work(session: Any) -> dict[str, Any]:
        operator_id = session.scalar(
            select(Statement.operator_id).where(Statement.id == statement_id)
        )
        statement = documents.close(
            session,
            operator_id=operator_id,
            statement_id=statement_id,
            key_id="cli",
            now=utcnow(),
        )
        return documents.summary_json(statement)

    item = _unit_of_work(work)
    typer.echo(
        f"statement {item['id']} closed: payable {item['payable']} {item['payout_currency']}"
    )
