"""A plan version's terms, and the RevShare arithmetic: pure, no database.

Percentages are written as percent (``25`` = 25 %). Amounts are in the operator's
reporting currency. Every figure is an exact Decimal; nothing here rounds.

RevShare tiers: ``[{from, rate}, ...]`` with the first ``from`` at 0. The basis is the
month's NGR (after adjustments and any carried loss) or the month's number of first
depositors. "tiered": the rate of the highest tier reached applies to the whole NGR;
"ladder": each rate applies to the part of the NGR inside its band (NGR basis only).
A single ``rate`` is a flat plan (one tier from 0).

Negative NGR (per plan section of a statement):
- ``carry_over``: a negative month pays no RevShare and its loss is carried into the
  next month's NGR (down to ``carry_over_cap`` at most, when set);
- ``reset_monthly``: the players' NGR is netted for the month; a negative month pays
  nothing and nothing is carried;
- ``ring_fenced``: a loss is fenced in per player: each player's negative month counts
  as 0, so one player's loss never eats into another's revenue, and nothing is carried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from croupier.kit.errors import invalid
from croupier.kit.money import amount_in_range, decimal_text
from croupier.reports.daily import EXACT

KINDS = ("cpa", "revshare", "hybrid")
POLICIES = ("carry_over", "reset_monthly", "ring_fenced")
BASES = ("ngr", "first_depositors")
MODES = ("tiered", "ladder")
FLAGS = ("self_excluded", "duplicate", "blocked", "closed")
DEFAULT_EXCLUDED = ("self_excluded", "duplicate", "blocked")
ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class CpaTerms:
    amount: Decimal
    # None: no window. Every rule must be met within this many days of registration.
    window_days: int | None
    min_first_deposit: Decimal | None
    min_total_deposits: Decimal | None
    min_turnover: Decimal | None
    min_bets: int | None
    excluded_flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tier:
    threshold: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class RevShareTerms:
    tiers: tuple[Tier, ...]
    basis: str
    mode: str


@dataclass(frozen=True, slots=True)
class Terms:
    kind: str
    cpa: CpaTerms | None
    revshare: RevShareTerms | None
    negative_ngr: str
    carry_over_cap: Decimal | None
    sub_affiliate_pct: Decimal | None


# -- parsing ------------------------------------------------------------------------------


def parse(body: Mapping[str, Any]) -> Terms:
    """Terms from a request body (already shaped by the route's model); a 400 naming the
    field when they do not make sense together."""
    kind = body.get("kind")
    if kind not in KINDS:
        raise invalid("kind", f"one of {', '.join(KINDS)}")
    cpa_body, revshare_body = body.get("cpa"), body.get("revshare")
    if kind in ("cpa", "hybrid") and cpa_body is None:
        raise invalid("cpa", f"a {kind} plan needs its cpa terms", "missing")
    if kind in ("revshare", "hybrid") and revshare_body is None:
        raise invalid("revshare", f"a {kind} plan needs its revshare terms", "missing")
    if kind == "cpa" and revshare_body is not None:
        raise invalid("revshare", "a cpa plan has no revshare terms (use hybrid)")
    if kind == "revshare" and cpa_body is not None:
        raise invalid("cpa", "a revshare plan has no cpa terms (use hybrid)")
    policy = body.get("negative_ngr") or "carry_over"
    if policy not in POLICIES:
        raise invalid("negative_ngr", f"one of {', '.join(POLICIES)}")
    cap = _amount(body.get("carry_over_cap"), "carry_over_cap")
    if cap is not None and policy != "carry_over":
        raise invalid("carry_over_cap", "only with negative_ngr carry_over")
    sub_pct = _percent(body.get("sub_affiliate_pct"), "sub_affiliate_pct")
    return Terms(
        kind=kind,
        cpa=_cpa(cpa_body) if cpa_body is not None else None,
        revshare=_revshare(revshare_body) if revshare_body is not None else None,
        negative_ngr=policy,
        carry_over_cap=cap,
        sub_affiliate_pct=sub_pct,
    )


def _cpa(body: Mapping[str, Any]) -> CpaTerms:
    amount = _amount(body.get("amount"), "cpa.amount")
    if amount is None or amount <= 0:
        raise invalid("cpa.amount", "a positive amount per qualified player")
    window = body.get("window_days")
    if window is not None and (not isinstance(window, int) or not 1 <= window <= 3660):
        raise invalid("cpa.window_days", "a whole number of days, 1 to 3660")
    min_bets = body.get("min_bets")
    if min_bets is not None and (not isinstance(min_bets, int) or min_bets < 1):
        raise invalid("cpa.min_bets", "a whole number, at least 1")
    flags = body.get("excluded_flags")
    excluded = DEFAULT_EXCLUDED if flags is None else tuple(flags)
    unknown = sorted(set(excluded) - set(FLAGS))
    if unknown:
        raise invalid("cpa.excluded_flags", f"unknown flag(s) {unknown}; known: {list(FLAGS)}")
    return CpaTerms(
        amount=amount,
        window_days=window,
        min_first_deposit=_amount(body.get("min_first_deposit"), "cpa.min_first_deposit"),
        min_total_deposits=_amount(body.get("min_total_deposits"), "cpa.min_total_deposits"),
        min_turnover=_amount(body.get("min_turnover"), "cpa.min_turnover"),
        min_bets=min_bets,
        excluded_flags=tuple(flag for flag in FLAGS if flag in excluded),
    )


def _revshare(body: Mapping[str, Any]) -> RevShareTerms:
    rate, tiers_body = body.get("rate"), body.get("tiers")
    basis = body.get("basis") or "ngr"
    mode = body.get("mode") or "tiered"
    if (rate is None) == (tiers_body is None):
        raise invalid("revshare", "give either a flat rate or tiers", "rate_or_tiers")
    if basis not in BASES:
        raise invalid("revshare.basis", f"one of {', '.join(BASES)}")
    if mode not in MODES:
        raise invalid("revshare.mode", f"one of {', '.join(MODES)}")
    if rate is not None:
        flat = _percent(rate, "revshare.rate")
        assert flat is not None
        return RevShareTerms((Tier(ZERO, flat),), "ngr", "tiered")
    if not isinstance(tiers_body, Sequence) or not tiers_body:
        raise invalid("revshare.tiers", "a non-empty list of {from, rate}")
    tiers: list[Tier] = []
    for index, item in enumerate(tiers_body):
        where = f"revshare.tiers.{index}"
        threshold = _amount(item.get("from"), f"{where}.from")
        tier_rate = _percent(item.get("rate"), f"{where}.rate")
        if threshold is None or tier_rate is None:
            raise invalid(where, "each tier needs 'from' and 'rate'", "missing")
        if basis == "first_depositors" and threshold != threshold.to_integral_value():
            raise invalid(f"{where}.from", "a whole number of first depositors")
        if tiers and threshold <= tiers[-1].threshold:
            raise invalid(f"{where}.from", "tiers must start higher than the one before")
        tiers.append(Tier(threshold, tier_rate))
    if tiers[0].threshold != 0:
        raise invalid("revshare.tiers.0.from", "the first tier starts at 0")
    if mode == "ladder" and basis != "ngr":
        raise invalid("revshare.mode", "a ladder splits NGR into bands: basis must be ngr")
    return RevShareTerms(tuple(tiers), basis, mode)


def _amount(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise invalid(field, "a decimal number")
    try:
        parsed = Decimal(value)
    except ArithmeticError:
        raise invalid(field, "a decimal number") from None
    if not amount_in_range(parsed) or parsed < 0:
        raise invalid(field, "a non-negative decimal number, at most 18 decimal places")
    return parsed


def _percent(value: Any, field: str) -> Decimal | None:
    parsed = _amount(value, field)
    if parsed is not None and parsed > HUNDRED:
        raise invalid(field, "a percentage from 0 to 100")
    return parsed


# -- stored form --------------------------------------------------------------------------


def to_json(terms: Terms) -> dict[str, Any]:
    """The terms as stored and shown: decimals as exact strings."""
    out: dict[str, Any] = {
        "kind": terms.kind,
        "cpa": None,
        "revshare": None,
        "negative_ngr": terms.negative_ngr,
        "carry_over_cap": decimal_text(terms.carry_over_cap),
        "sub_affiliate_pct": decimal_text(terms.sub_affiliate_pct),
    }
    if terms.cpa is not None:
        cpa = terms.cpa
        out["cpa"] = {
            "amount": decimal_text(cpa.amount),
            "window_days": cpa.window_days,
            "min_first_deposit": decimal_text(cpa.min_first_deposit),
            "min_total_deposits": decimal_text(cpa.min_total_deposits),
            "min_turnover": decimal_text(cpa.min_turnover),
            "min_bets": cpa.min_bets,
            "excluded_flags": list(cpa.excluded_flags),
        }
    if terms.revshare is not None:
        share = terms.revshare
        out["revshare"] = {
            "tiers": [
                {"from": decimal_text(t.threshold), "rate": decimal_text(t.rate)}
                for t in share.tiers
            ],
            "basis": share.basis,
            "mode": share.mode,
        }
    return out


def from_json(stored: Mapping[str, Any]) -> Terms:
    def amount(value: Any) -> Decimal | None:
        return None if value is None else Decimal(value)

    cpa = revshare = None
    if stored.get("cpa") is not None:
        body = stored["cpa"]
        cpa = CpaTerms(
            amount=Decimal(body["amount"]),
            window_days=body["window_days"],
            min_first_deposit=amount(body["min_first_deposit"]),
            min_total_deposits=amount(body["min_total_deposits"]),
            min_turnover=amount(body["min_turnover"]),
            min_bets=body["min_bets"],
            excluded_flags=tuple(body["excluded_flags"]),
        )
    if stored.get("revshare") is not None:
        body = stored["revshare"]
        tiers = tuple(Tier(Decimal(t["from"]), Decimal(t["rate"])) for t in body["tiers"])
        revshare = RevShareTerms(tiers, body["basis"], body["mode"])
    return Terms(
        kind=stored["kind"],
        cpa=cpa,
        revshare=revshare,
        negative_ngr=stored["negative_ngr"],
        carry_over_cap=amount(stored.get("carry_over_cap")),
        sub_affiliate_pct=amount(stored.get("sub_affiliate_pct")),
    )


# -- the arithmetic -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    """RevShare of one base: the amount, the single rate applied (None for a ladder) and
    the bands it was computed from (what the statement shows)."""

    amount: Decimal
    rate: Decimal | None
    bands: list[dict[str, Any]]


def revshare(terms: RevShareTerms, *, base: Decimal, first_depositors: int) -> Share:
    """The RevShare of a positive ``base`` (0 for a base of 0 or less)."""
    if base <= 0:
        return Share(ZERO, None, [])
    with localcontext(EXACT):
        if terms.mode == "tiered":
            metric = base if terms.basis == "ngr" else Decimal(first_depositors)
            reached = [tier for tier in terms.tiers if tier.threshold <= metric][-1]
            amount = base * reached.rate / HUNDRED
            band = {"from": reached.threshold, "rate": reached.rate, "ngr": base, "amount": amount}
            return Share(amount, reached.rate, [band])
        total, bands = ZERO, []
        for index, tier in enumerate(terms.tiers):
            upper = terms.tiers[index + 1].threshold if index + 1 < len(terms.tiers) else None
            part = (base if upper is None else min(base, upper)) - tier.threshold
            if part <= 0:
                break
            amount = part * tier.rate / HUNDRED
            total += amount
            bands.append({"from": tier.threshold, "rate": tier.rate, "ngr": part, "amount": amount})
        return Share(total, None, bands)


@dataclass(frozen=True, slots=True)
class Settlement:
    base: Decimal
    carry_out: Decimal
    share: Share


def settle(
    terms: Terms,
    *,
    player_ngr: Sequence[Decimal],
    carry_in: Decimal,
    first_depositors: int,
) -> Settlement:
    """A plan section's month: ``player_ngr`` holds each player's NGR including the
    adjustments booked on it; ``carry_in`` is the loss carried from the month before."""
    with localcontext(EXACT):
        if terms.negative_ngr == "ring_fenced":
            base = sum((ngr for ngr in player_ngr if ngr > 0), ZERO)
        elif terms.negative_ngr == "reset_monthly":
            base = sum(player_ngr, ZERO)
        else:
            base = sum(player_ngr, ZERO) + carry_in
        carry_out = ZERO
        if base < 0 and terms.negative_ngr == "carry_over":
            cap = terms.carry_over_cap
            carry_out = base if cap is None else max(base, -cap)
    assert terms.revshare is not None
    share = revshare(terms.revshare, base=base, first_depositors=first_depositors)
    return Settlement(base, carry_out, share)
