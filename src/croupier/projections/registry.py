"""Every domain's projection handler and read routes, in the order they apply."""

from __future__ import annotations

from fastapi import APIRouter

from croupier.affiliates import (
    attribution,
    attribution_routes,
    click_routes,
    portal_routes,
    postback_routes,
    postbacks,
)
from croupier.affiliates import routes as affiliate_routes
from croupier.bonuses import projection as bonuses
from croupier.bonuses import routes as bonus_routes
from croupier.casino import projection as casino
from croupier.casino import routes as casino_routes
from croupier.commissions import (
    ledger_projection,
    ledger_routes,
    plan_routes,
    qualification,
    statement_routes,
)
from croupier.players import projection as players
from croupier.players import routes as player_routes
from croupier.projections.engine import Handler
from croupier.reports import projection as reports
from croupier.reports import routes as report_routes


def handlers() -> list[Handler]:
    return [
        players.Handler(),
        attribution.Handler(),
        postbacks.Handler(),
        casino.Handler(),
        bonuses.Handler(),
        reports.Handler(),
        ledger_projection.Handler(),
        qualification.Handler(),
    ]


def routers() -> list[APIRouter]:
    return [
        player_routes.router,
        attribution_routes.router,
        casino_routes.router,
        bonus_routes.router,
        report_routes.router,
        ledger_routes.router,
        plan_routes.router,
        statement_routes.router,
        statement_routes.affiliate_router,
        affiliate_routes.router,
        click_routes.router,
        postback_routes.router,
        portal_routes.router,
    ]
