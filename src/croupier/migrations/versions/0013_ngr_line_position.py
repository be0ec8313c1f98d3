"""NGR ledger lines by position (tx_id, seq): a statement run finds the late lines of a
closed month among the lines booked since it closed, not among the month's whole history.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ngr_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ngr_lines_position", ["operator_id", "tx_id", "seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ngr_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_ngr_lines_position")
