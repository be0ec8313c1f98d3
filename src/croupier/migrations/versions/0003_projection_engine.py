"""The projection engine: checkpoints, the log's transaction stamp, session gap setting.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import croupier.kit.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # PostgreSQL: each row records its writing transaction; rows already there get this
    # migration's, which is older than any later writer's.
    default = "pg_current_xact_id()::text::bigint" if postgres else "0"
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tx_id", sa.BigInteger(), server_default=sa.text(default), nullable=False)
        )
        batch_op.create_index(
            "ix_events_tx_seq",
            ["tx_id", "seq"],
            unique=False,
            postgresql_where=sa.text("tx_id > 0"),
            sqlite_where=sa.text("tx_id > 0"),
        )
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "session_gap_minutes", sa.Integer(), server_default=sa.text("30"), nullable=False
            )
        )
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tx_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", croupier.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projection_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("projection_checkpoints")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("session_gap_minutes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_events_tx_seq",
            postgresql_where=sa.text("tx_id > 0"),
            sqlite_where=sa.text("tx_id > 0"),
        )
        batch_op.drop_column("tx_id")
