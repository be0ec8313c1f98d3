"""Where the projector has read the event log up to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from croupier.kit.db import Base, UtcDateTime


class Checkpoint(Base):
    """The last event applied, as (tx_id, seq): the log's read order (see events.models).

    Written in the same transaction as the projection updates it covers."""

    __tablename__ = "projection_checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tx_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
