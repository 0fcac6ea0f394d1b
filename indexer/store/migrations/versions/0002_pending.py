"""Pending events: custody effects held back until the item's earlier events are indexed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_pending",
        sa.Column("event_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("identifier", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("resolved_block", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("event_hash", "identifier", name=op.f("pk_ix_pending")),
    )
    with op.batch_alter_table("ix_pending", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pending_open",
            ["identifier"],
            unique=False,
            postgresql_where=sa.text("resolved_block IS NULL"),
            sqlite_where=sa.text("resolved_block IS NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_ix_pending_block_number"), ["block_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ix_pending_resolved_block"), ["resolved_block"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ix_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ix_pending_resolved_block"))
        batch_op.drop_index(batch_op.f("ix_ix_pending_block_number"))
        batch_op.drop_index("ix_pending_open")
    op.drop_table("ix_pending")
