"""Every table, in one metadata: what migrations are checked against."""

from croupier.affiliates import attribution_models as _attribution
from croupier.affiliates import models as _affiliates
from croupier.affiliates import postback_models as _postbacks
from croupier.bonuses import models as _bonuses
from croupier.casino import models as _casino
from croupier.commissions import ledger_models as _ledger
from croupier.commissions import statement_models as _statements
from croupier.events import models as _events
from croupier.kit.db import Base
from croupier.players import models as _players
from croupier.projections import models as _projections
from croupier.reports import models as _reports
from croupier.tenancy import models as _tenancy

metadata = Base.metadata
__all__ = [
    "_affiliates",
    "_attribution",
    "_bonuses",
    "_casino",
    "_events",
    "_ledger",
    "_players",
    "_postbacks",
    "_projections",
    "_reports",
    "_statements",
    "_tenancy",
    "metadata",
]
