"""Statements as documents: find, list, show (admin and affiliate views), close.

Money is shown rounded to 2 places, half up (the stored figures stay exact); the FX rate
is shown exactly. An affiliate sees only its own closed statements, with players by its
own player hash.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from croupier.affiliates.affiliate_auth import AffiliateIdentity, player_hash
from croupier.affiliates.models import Affiliate
from croupier.commissions.statement_figures import MONEY_FIELDS
from croupier.commissions.statement_models import Statement, StatementAdjustment, StatementLine
from croupier.commissions.statements import rounded
from croupier.kit.errors import ApiError
from croupier.kit.money import decimal_text

STATUSES = ("draft", "closed")
TOTALS = (
    "ngr",
    "adjustments_ngr",
    "carry_in",
    "carry_out",
    "revshare",
    "cpa",
    "sub_affiliate",
    "total",
)


def _money(value: Decimal | None) -> str | None:
    return decimal_text(rounded(value))


def _conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def get(session: Session, *, operator_id: str, statement_id: str) -> Statement:
    statement = session.get(Statement, statement_id)
    if statement is None or statement.operator_id != operator_id:
        raise ApiError(404, "not_found", f"no statement {statement_id} for this operator")
    return statement


def get_own(session: Session, *, affiliate: AffiliateIdentity, statement_id: str) -> Statement:
    """The affiliate's own closed statement; anything else is not found."""
    statement = session.get(Statement, statement_id)
    if (
        statement is None
        or statement.affiliate_id != affiliate.affiliate_id
        or statement.operator_id != affiliate.operator_id
        or statement.status != "closed"
    ):
        raise ApiError(404, "not_found", f"no statement {statement_id}")
    return statement


def find(
    session: Session,
    *,
    operator_id: str,
    period: date | None = None,
    affiliate_id: str | None = None,
    status: str | None = None,
    after_id: str | None = None,
    limit: int = 100,
) -> list[Statement]:
    """Statements in id order (time-ordered ids: oldest run first), after a cursor."""
    query = select(Statement).where(Statement.operator_id == operator_id)
    if period is not None:
        query = query.where(Statement.period == period)
    if affiliate_id is not None:
        query = query.where(Statement.affiliate_id == affiliate_id)
    if status is not None:
        query = query.where(Statement.status == status)
    if after_id is not None:
        query = query.where(Statement.id > after_id)
    return list(session.scalars(query.order_by(Statement.id).limit(limit)))


def close(
    session: Session, *, operator_id: str, statement_id: str, key_id: str, now: datetime
) -> Statement:
    """Close a draft: from then on it never changes. Refused (409) while it could still be
    wrong: an earlier month of the affiliate still open, figures older than a change they
    depend on (an earlier month closed or recomputed since, a sub-affiliate's month
    recomputed since), an open sub-affiliate month, amounts without an exchange rate, or
    no payout rate."""
    query = select(Statement).where(Statement.id == statement_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    statement = session.scalars(query).one_or_none()
    if statement is None or statement.operator_id != operator_id:
        raise ApiError(404, "not_found", f"no statement {statement_id} for this operator")
    if statement.status == "closed":
        raise _conflict("already_closed", "the statement is closed; it never changes")
    earlier = session.scalars(
        select(Statement).where(
            Statement.affiliate_id == statement.affiliate_id,
            Statement.period < statement.period,
        )
    ).all()
    if any(other.status == "draft" for other in earlier):
        raise _conflict("earlier_open", "close the affiliate's earlier statements first")
    for other in earlier:
        if max(other.computed_at, other.closed_at or other.computed_at) > statement.computed_at:
            raise _conflict(
                "stale_statement",
                f"the {other.period:%Y-%m} statement changed after this one was computed: "
                "run this month again, then close it",
            )
    children = session.scalars(
        select(Statement)
        .join(Affiliate, Affiliate.id == Statement.affiliate_id)
        .where(
            Affiliate.parent_id == statement.affiliate_id,
            Statement.period == statement.period,
        )
    ).all()
    if statement.sub_affiliate and any(child.status == "draft" for child in children):
        raise _conflict("sub_affiliates_open", "close the sub-affiliates' statements first")
    if any(child.computed_at > statement.computed_at for child in children):
        raise _conflict(
            "stale_statement", "a sub-affiliate's statement changed since: run the month again"
        )
    if statement.details.get("unvalued"):
        raise _conflict(
            "unvalued_amounts",
            "some ledger amounts have no exchange rate into the reporting currency: load "
            "the rates and run the month again",
        )
    if statement.payable is None:
        raise _conflict(
            "missing_fx_rate",
            f"no {statement.reporting_currency}/{statement.payout_currency} rate for "
            f"{statement.fx_rate_day}: load it and run the month again",
        )
    statement.status = "closed"
    statement.closed_at = now
    statement.closed_by = key_id
    session.flush()
    return statement


# -- shapes -------------------------------------------------------------------------------


def summary_json(statement: Statement) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": statement.id,
        "affiliate_id": statement.affiliate_id,
        "period": f"{statement.period:%Y-%m}",
        "status": statement.status,
        "players": statement.players,
        "reporting_currency": statement.reporting_currency,
    }
    out.update({name: _money(getattr(statement, name)) for name in TOTALS})
    out.update(
        payout_currency=statement.payout_currency,
        fx_rate=decimal_text(statement.fx_rate),
        fx_rate_day=statement.fx_rate_day.isoformat(),
        payable=_money(statement.payable),
        computed_at=statement.computed_at,
        closed_at=statement.closed_at,
        covered={"tx_id": statement.covered_tx_id, "seq": statement.covered_seq},
    )
    return out


def lines_of(session: Session, statement_id: str) -> list[StatementLine]:
    query = select(StatementLine).where(StatementLine.statement_id == statement_id)
    return list(session.scalars(query.order_by(StatementLine.brand_id, StatementLine.player_ref)))


def adjustments_of(session: Session, statement_id: str) -> list[StatementAdjustment]:
    query = select(StatementAdjustment).where(StatementAdjustment.statement_id == statement_id)
    return list(session.scalars(query.order_by(StatementAdjustment.id)))


def document_json(
    session: Session, statement: Statement, *, salt: str | None = None
) -> dict[str, Any]:
    """The whole statement. With ``salt`` (the affiliate's view) players are hashes."""
    out = summary_json(statement)
    out["sections"] = [_section(section) for section in statement.details.get("sections", [])]
    out["sub_affiliates"] = [
        {**item, "commission": _text(item["commission"]), "amount": _text(item["amount"])}
        for item in statement.details.get("sub_affiliates", [])
    ]
    out["unvalued"] = statement.details.get("unvalued", {})
    out["lines"] = [line_json(line, salt=salt) for line in lines_of(session, statement.id)]
    out["adjustments"] = [
        adjustment_json(row, salt=salt) for row in adjustments_of(session, statement.id)
    ]
    return out


def csv_rows(session: Session, statement: Statement, *, salt: str | None = None) -> list[Any]:
    """The per-player lines, then the adjustments, as one table."""
    found: list[dict[str, Any]] = [
        {"line": "player", **line_json(line, salt=salt)} for line in lines_of(session, statement.id)
    ]
    found.extend(
        {"line": "adjustment", **adjustment_json(row, salt=salt)}
        for row in adjustments_of(session, statement.id)
    )
    return found


def _player(brand_id: str, player_ref: str, salt: str | None) -> dict[str, str]:
    if salt is None:
        return {"brand_id": brand_id, "player_ref": player_ref}
    return {
        "brand_id": brand_id,
        "player": player_hash(salt, brand_id=brand_id, player_ref=player_ref),
    }


def line_json(line: StatementLine, *, salt: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = _player(line.brand_id, line.player_ref, salt)
    out.update({name: _money(getattr(line, name)) for name in MONEY_FIELDS})
    out.update(
        cpa_rule=line.cpa_rule,
        cpa_qualified_at=line.cpa_qualified_at,
        unvalued=line.unvalued,
    )
    return out


def adjustment_json(row: StatementAdjustment, *, salt: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"for_period": f"{row.for_period:%Y-%m}"}
    out.update(_player(row.brand_id, row.player_ref, salt))
    out.update(
        component=row.component,
        amount=_money(row.amount),
        event_id=row.event_id,
        day=row.day.isoformat() if row.day else None,
        received_at=row.received_at,
        currency=row.currency,
        native_amount=decimal_text(row.native_amount),
        note=row.note,
    )
    return out


def _text(value: Any) -> str | None:
    return None if value is None else _money(Decimal(value))


def _section(section: dict[str, Any]) -> dict[str, Any]:
    out = dict(section)
    for name in ("ngr", "adjustments_ngr", "carry_in", "base", "revshare", "carry_out"):
        out[name] = _text(section.get(name))
    out["bands"] = [
        {**band, "ngr": _text(band["ngr"]), "amount": _text(band["amount"])}
        for band in section.get("bands", [])
    ]
    return out
