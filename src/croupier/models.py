"""Every table, in one metadata: what migrations are checked against."""

from croupier.events import models as _events
from croupier.kit.db import Base
from croupier.tenancy import models as _tenancy

metadata = Base.metadata
__all__ = ["_events", "_tenancy", "metadata"]
