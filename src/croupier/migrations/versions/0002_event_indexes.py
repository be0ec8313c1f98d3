"""Cheaper event-log indexes: the transaction index only for DataPulse bets.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PREDICATE = "kind = 'bet' AND format = 'datapulse'"


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_transaction")
        batch_op.create_index(
            "ix_events_bet_transaction",
            ["operator_id", "transaction_id"],
            unique=False,
            postgresql_where=sa.text(PREDICATE),
            sqlite_where=sa.text(PREDICATE),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_events_bet_transaction",
            postgresql_where=sa.text(PREDICATE),
            sqlite_where=sa.text(PREDICATE),
        )
        batch_op.create_index("ix_events_transaction", ["operator_id", "transaction_id"])
