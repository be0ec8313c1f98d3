"""A statement's figures from its inputs: per-player lines, plan sections, adjustments of
closed months. Pure: the inputs are read by ``statements`` (through ``statement_sql``).

Money is in the operator's reporting currency and exact here; statements round only what
they show and the payable (2 places, half up).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any

from croupier.commissions import plan_terms
from croupier.commissions.ledger import NGR_COMPONENTS, NGR_REPORTED
from croupier.commissions.plans import Version
from croupier.commissions.statement_sql import PlayerKey, PlayerSums
from croupier.kit.money import decimal_text
from croupier.reports.daily import EXACT

ZERO = Decimal(0)
# Line field per ledger component (deposit lines are information, not NGR).
FIELDS = {
    "deposit": "deposits",
    "ggr": "ggr",
    "bonus_cost": "bonus_cost",
    "chargeback": "chargeback",
    "fee": "fee",
    "gaming_tax": "gaming_tax",
    "admin_fee": "admin_fee",
    "payment_fee": "payment_fee",
    NGR_REPORTED: "ngr_reported",
}
MONEY_FIELDS = (*FIELDS.values(), "ngr_computed", "ngr", "revshare", "cpa")


def empty_line(key: PlayerKey, plan_id: str) -> dict[str, Any]:
    line: dict[str, Any] = dict.fromkeys(MONEY_FIELDS, ZERO)
    line.update(
        brand_id=key[0],
        player_ref=key[1],
        plan_id=plan_id,
        ngr_reported=None,
        revshare=None,
        cpa_rule=None,
        cpa_qualified_at=None,
        unvalued=None,
    )
    return line


def player_line(key: PlayerKey, sums: PlayerSums, plan_id: str) -> dict[str, Any]:
    """A player's month: each component, NGR computed and reported, the NGR used."""
    line = empty_line(key, plan_id)
    values = sums.values
    with localcontext(EXACT):
        for component, name in FIELDS.items():
            if component in values:
                line[name] = values[component]
        line["ngr_computed"] = sum((values.get(c, ZERO) for c in NGR_COMPONENTS), ZERO)
        if NGR_REPORTED not in values:
            line["ngr_reported"] = None
        line["ngr"] = line["ngr_computed"] if line["ngr_reported"] is None else line["ngr_reported"]
    if sums.unvalued:
        line["unvalued"] = {currency: decimal_text(a) for currency, a in sums.unvalued.items()}
    return line


# -- adjustments of closed months ----------------------------------------------------------


@dataclass
class Paid:
    """What closed statements paid for one player and month: its line, then adjustments."""

    values: dict[str, Decimal] = field(default_factory=dict)
    booked: set[tuple[str, str]] = field(default_factory=set)  # (event_id, component)

    def add(self, name: str, amount: Decimal | None) -> None:
        if amount is not None:
            with localcontext(EXACT):
                self.values[name] = self.values.get(name, ZERO) + amount


def adjustment_rows(
    *,
    period: date,
    key: PlayerKey,
    now: dict[str, Any],
    paid: Paid,
    late: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """What changed for a player in a closed month, itemised: each ledger line booked
    since (by its event), a ``rebooked`` remainder where lines already paid changed (a
    reported total re-telescoped, a bonus cost moved), and the change of the NGR used
    (component ``ngr``): the figure that enters the open statement's RevShare."""
    found: list[dict[str, Any]] = []
    items: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for booked in late:
        if (booked["event_id"], booked["component"]) not in paid.booked:
            items[booked["component"]].append(booked)
    with localcontext(EXACT):
        for component, name in FIELDS.items():
            delta = (now[name] or ZERO) - paid.values.get(name, ZERO)
            listed = sorted(items.get(component, ()), key=lambda b: (b["day"], b["seq"]))
            for booked in listed:
                found.append(_item(period, key, component, booked))
            remainder = delta - sum((b["value"] for b in listed), ZERO)
            if remainder != 0:
                found.append(_row(period, key, component, remainder, note="rebooked"))
        ngr_delta = now["ngr"] - paid.values.get("ngr", ZERO)
        if ngr_delta != 0 or found:
            found.append(_row(period, key, "ngr", ngr_delta, note=_basis(now)))
    return found


def _basis(now: Mapping[str, Any]) -> str:
    return "reported NGR" if now["ngr_reported"] is not None else "computed NGR"


def _item(
    period: date, key: PlayerKey, component: str, booked: Mapping[str, Any]
) -> dict[str, Any]:
    row = _row(period, key, component, booked["value"], note=None)
    row.update(
        event_id=booked["event_id"],
        day=booked["day"],
        received_at=booked["received_at"],
        currency=booked["currency"],
        native_amount=booked["amount"],
    )
    return row


def _row(
    period: date, key: PlayerKey, component: str, amount: Decimal, *, note: str | None
) -> dict[str, Any]:
    return {
        "for_period": period,
        "brand_id": key[0],
        "player_ref": key[1],
        "component": component,
        "event_id": None,
        "day": None,
        "received_at": None,
        "currency": None,
        "native_amount": None,
        "amount": amount,
        "note": note,
    }


def cpa_row(
    period: date, key: PlayerKey, amount: Decimal, qualified_at: datetime
) -> dict[str, Any]:
    row = _row(period, key, "cpa", amount, note=f"qualified {qualified_at.isoformat()}")
    row["day"] = qualified_at.date()
    return row


# -- sections -----------------------------------------------------------------------------


@dataclass
class Section:
    """The players of one plan on a statement, settled together."""

    version: Version
    players: list[PlayerKey] = field(default_factory=list)
    adjustments: dict[PlayerKey, Decimal] = field(default_factory=dict)
    first_depositors: int = 0


def settle_section(
    section: Section, lines: Mapping[PlayerKey, dict[str, Any]], *, carry_in: Decimal
) -> dict[str, Any]:
    """Settle one section; sets each line's RevShare (NGR times the rate applied, when one
    rate applies) and returns the section's figures."""
    terms = section.version.terms
    with localcontext(EXACT):
        keys = sorted(set(section.players) | set(section.adjustments))
        per_player = [
            (lines[k]["ngr"] if k in lines else ZERO) + section.adjustments.get(k, ZERO)
            for k in keys
        ]
        ngr = sum((lines[k]["ngr"] for k in section.players), ZERO)
        adjustments = sum(section.adjustments.values(), ZERO)
        out: dict[str, Any] = {
            "plan_id": section.version.plan_id,
            "version_id": section.version.id,
            "version": section.version.number,
            "kind": terms.kind,
            "negative_ngr": terms.negative_ngr,
            "carry_over_cap": terms.carry_over_cap,
            "players": len(section.players),
            "first_depositors": section.first_depositors,
            "ngr": ngr,
            "adjustments_ngr": adjustments,
            "carry_in": ZERO,
            "base": ZERO,
            "rate": None,
            "bands": [],
            "revshare": ZERO,
            "carry_out": ZERO,
        }
        if terms.revshare is None:
            return out
        carry = carry_in if terms.negative_ngr == "carry_over" else ZERO
        settled = plan_terms.settle(
            terms, player_ngr=per_player, carry_in=carry, first_depositors=section.first_depositors
        )
        rate = applied_rate(terms.revshare, base=settled.base, ftd=section.first_depositors)
        if rate is not None:
            for k in section.players:
                lines[k]["revshare"] = lines[k]["ngr"] * rate / plan_terms.HUNDRED
        out.update(
            carry_in=carry,
            base=settled.base,
            rate=rate,
            bands=settled.share.bands,
            revshare=settled.share.amount,
            carry_out=settled.carry_out,
        )
    return out


def applied_rate(terms: plan_terms.RevShareTerms, *, base: Decimal, ftd: int) -> Decimal | None:
    """The one rate of a flat or tiered plan at this base (None for a ladder)."""
    if terms.mode == "ladder":
        return None
    metric = base if terms.basis == "ngr" else Decimal(ftd)
    return [tier for tier in terms.tiers if tier.threshold <= metric or tier.threshold == 0][
        -1
    ].rate


def section_json(section: Mapping[str, Any]) -> dict[str, Any]:
    """A section as stored in ``details``: decimals as exact strings."""
    return {key: _plain(value) for key, value in section.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def decimals(values: Iterable[Any]) -> Decimal:
    with localcontext(EXACT):
        return sum((Decimal(v) for v in values if v is not None), ZERO)
