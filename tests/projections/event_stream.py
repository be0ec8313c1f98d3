"""A seeded generator of a large, random but valid event stream in all three formats.

Valid means every event is accepted by ingest: unique idempotency keys, DataPulse bets
settled by pattern A or pattern B but never both, Fast Track rounds of Bet / Win / Loss
with the occasional Rollback, bonus lifecycles, payments, registrations and flags.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

START = datetime(2026, 10, 1, tzinfo=UTC)
FT_PATHS = {
    "casino": ("POST", "/v1/integration/casino"),
    "bonus": ("POST", "/v1/integration/bonus"),
    "payment": ("POST", "/v1/integration/payment"),
    "user_create": ("POST", "/v2/integration/user"),
    "user_block": ("PUT", "/v2/integration/user/blocks"),
    "login": ("POST", "/v2/integration/login"),
}


@dataclass
class Item:
    """One event: its format ('datapulse', 'revvvs' or a Fast Track endpoint) and body."""

    route: str
    body: dict[str, Any]


def _money(rng: random.Random, low: int = 1, high: int = 500) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class StreamBuilder:
    def __init__(self, seed: int, *, brands: tuple[str, str]) -> None:
        self.rng = random.Random(seed)
        self.brands = brands
        self.items: list[Item] = []
        self._ids = 0

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self._ids}"

    def moment(self, base: datetime, *, max_minutes: int = 90) -> datetime:
        return base + timedelta(seconds=self.rng.randint(0, max_minutes * 60))

    # -- DataPulse ----------------------------------------------------------------------

    def datapulse_player(self, player: str) -> None:
        rng, base = self.rng, START + timedelta(hours=self.rng.randint(0, 72))
        dp = {"client_user_id": player, "currency": "EUR"}
        self.items.append(
            Item(
                "datapulse",
                {
                    **dp,
                    "event_name": "register",
                    "timestamp": int(base.timestamp()),
                    "click_id": self.next_id("click"),
                    "ip_address": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                    "user_agent": rng.choice(["Mozilla/5.0 (iPhone)", "Mozilla/5.0 (X11)"]),
                },
            )
        )
        for _ in range(rng.randint(1, 3)):
            self.items.append(
                Item(
                    "datapulse",
                    {
                        **dp,
                        "event_name": rng.choice(["deposit", "withdraw"]),
                        "timestamp": int(self.moment(base, max_minutes=3000).timestamp()),
                        "transaction_id": self.next_id("dp-pay"),
                        "amount": _money(rng),
                    },
                )
            )
        for _ in range(rng.randint(2, 8)):
            at = self.moment(base, max_minutes=3000)
            bet_id = self.next_id("dp-bet")
            bet = {
                **dp,
                "event_name": "bet",
                "timestamp": int(at.timestamp()),
                "transaction_id": bet_id,
                "amount": _money(rng, 1, 50),
                "game_type": rng.choice(["slots", "roulette"]),
                "game_provider": rng.choice(["NetEnt", "Evolution"]),
            }
            if rng.random() < 0.5:  # pattern A: the result travels with the bet
                win = rng.random() < 0.4
                bet["bet_result"] = "win" if win else "loss"
                bet["bet_result_amount"] = _money(rng, 1, 80) * (1 if win else -1)
                self.items.append(Item("datapulse", bet))
                continue
            self.items.append(Item("datapulse", bet))
            if rng.random() < 0.8:  # pattern B: a separate win or loss names the bet
                win = rng.random() < 0.4
                self.items.append(
                    Item(
                        "datapulse",
                        {
                            **dp,
                            "event_name": "win" if win else "loss",
                            "timestamp": int((at + timedelta(seconds=5)).timestamp()),
                            "transaction_id": self.next_id("dp-settle"),
                            "parent_transaction_id": bet_id,
                            "amount": _money(rng, 1, 80) * (1 if win else -1),
                        },
                    )
                )

    # -- Revvvs -------------------------------------------------------------------------

    def revvvs_player(self, player: str) -> None:
        rng, base = self.rng, START + timedelta(hours=self.rng.randint(0, 72))
        brand = rng.choice(self.brands)

        def event(event_type: str, at: datetime, **fields: Any) -> None:
            body = {
                "event_type": event_type,
                "event_time": _iso(at),
                "brand_id": brand,
                "player_external_ref": player,
                "idempotency_key": self.next_id("rv"),
                **fields,
            }
            self.items.append(Item("revvvs", body))

        if rng.random() < 0.85:  # some players never send their registration
            event("registration", base, country=rng.choice(["DE", "MT", "SE"]))
        deposits = sorted(self.moment(base, max_minutes=4000) for _ in range(rng.randint(1, 4)))
        for index, at in enumerate(deposits):
            # The sender's "first_deposit" claim is sometimes on a later deposit.
            claim = index == 0 if rng.random() < 0.8 else index == len(deposits) - 1
            event("first_deposit" if claim else "deposit", at, currency="EUR", amount=_money(rng))
        for _ in range(rng.randint(1, 5)):
            at = self.moment(base, max_minutes=4000)
            event("wager_placed", at, currency="EUR", amount=_money(rng, 1, 40))
            event(
                "wager_settled",
                at + timedelta(seconds=30),
                currency="EUR",
                amount=_money(rng, 1, 60) * rng.choice([1, -1]),
            )
        if rng.random() < 0.3:
            event(
                "withdrawal",
                self.moment(base, max_minutes=4000),
                currency="EUR",
                amount=_money(rng),
            )
        if rng.random() < 0.3:
            event(
                "account_flag_changed",
                self.moment(base, max_minutes=4000),
                metadata={"flag": rng.choice(["self_excluded", "blocked", "active"])},
            )

    # -- Fast Track ---------------------------------------------------------------------

    def fasttrack_player(self, player: str) -> None:
        rng, base = self.rng, START + timedelta(hours=self.rng.randint(0, 72))
        common = {"user_id": player, "origin": "stream"}
        if rng.random() < 0.9:
            self.items.append(
                Item(
                    "user_create",
                    {
                        **common,
                        "timestamp": _iso(base),
                        "ip_address": "192.0.2.7",
                        "user_agent": "Mozilla/5.0 (iPad)",
                    },
                )
            )
        for _ in range(rng.randint(1, 3)):
            status = rng.choice(["Approved", "Approved", "Requested", "Rejected"])
            self.items.append(
                Item(
                    "payment",
                    {
                        **common,
                        "amount": _money(rng),
                        "currency": "EUR",
                        "exchange_rate": Decimal("1"),
                        "payment_id": self.next_id("ft-pay"),
                        "status": status,
                        "timestamp": _iso(self.moment(base, max_minutes=3000)),
                        "type": rng.choice(["Credit", "Debit"]),
                        "vendor_id": "psp-1",
                    },
                )
            )
        bonus_ref = self.next_id("ub") if rng.random() < 0.5 else None
        bonus_at = self.moment(base, max_minutes=60)
        if bonus_ref is not None:
            for status, offset in (("Created", 0), ("Completed", 600)):
                self.items.append(
                    Item(
                        "bonus",
                        {
                            **common,
                            "amount": Decimal("20"),
                            "bonus_id": "welcome",
                            "currency": "EUR",
                            "exchange_rate": Decimal("1"),
                            "product": "Casino",
                            "status": status,
                            "timestamp": _iso(bonus_at + timedelta(minutes=offset)),
                            "type": "FreeMoney",
                            "user_bonus_id": bonus_ref,
                        },
                    )
                )
        for _ in range(rng.randint(1, 6)):
            self._ft_round(common, base, bonus_ref)
        if rng.random() < 0.2:
            self.items.append(
                Item(
                    "user_block", {**common, "timestamp": _iso(self.moment(base, max_minutes=5000))}
                )
            )

    def _ft_round(self, common: dict[str, Any], base: datetime, bonus_ref: str | None) -> None:
        rng = self.rng
        round_id = self.next_id("round")
        at = self.moment(base, max_minutes=3000)
        game = rng.choice([("g-1", "Starburst", "NetEnt"), ("g-2", "Lightning", "Evolution")])

        def casino(
            kind: str, amount: Decimal, when: datetime, activity: str, status: str = "Approved"
        ) -> None:
            body = {
                **common,
                "activity_id": activity,
                "amount": amount,
                "wager_amount": amount,
                "bonus_wager_amount": Decimal("0"),
                "locked_wager_amount": Decimal("0"),
                "currency": "EUR",
                "exchange_rate": Decimal("1"),
                "game_id": game[0],
                "game_name": game[1],
                "game_type": "Slots",
                "vendor_id": game[2],
                "vendor_name": game[2],
                "is_round_end": kind != "Bet",
                "round_id": round_id,
                "status": status,
                "timestamp": _iso(when),
                "type": kind,
            }
            if bonus_ref is not None and rng.random() < 0.5:
                body["user_bonus_id"] = bonus_ref
            self.items.append(Item("casino", body))

        stake = _money(rng, 1, 20)
        bet_activity = self.next_id("act")
        casino("Bet", stake, at, bet_activity)
        if rng.random() < 0.1:
            casino("Bet", stake, at + timedelta(seconds=2), bet_activity, status="Rollback")
            return
        if rng.random() < 0.5:
            casino("Win", _money(rng, 0, 60), at + timedelta(seconds=3), self.next_id("act"))
        else:
            casino("Loss", Decimal("0"), at + timedelta(seconds=3), self.next_id("act"))

    def build(self, players: int) -> list[Item]:
        for index in range(players):
            route = index % 3
            player = f"p{index}"
            if route == 0:
                self.datapulse_player(player)
            elif route == 1:
                self.revvvs_player(player)
            else:
                self.fasttrack_player(player)
        return self.items
