"""Anchors are facts read from the chain: the block hash of each anchor, and the anchors that a
reorganisation took away or moved (issue 21).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: batches anchored before this revision get theirs when the reconciler re-checks
    # them (within its window)
    op.add_column("batches", sa.Column("block_hash", sa.String(length=66), nullable=True))
    op.create_table(
        "anchor_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reanchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('vanished', 'moved')", name=op.f("ck_anchor_history_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_anchor_history_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchor_history")),
    )
    op.create_index("ix_anchor_history_batch_id", "anchor_history", ["batch_id"])
    op.create_index("ix_anchor_history_tx_hash", "anchor_history", ["tx_hash"])


def downgrade() -> None:
    op.drop_index("ix_anchor_history_tx_hash", table_name="anchor_history")
    op.drop_index("ix_anchor_history_batch_id", table_name="anchor_history")
    op.drop_table("anchor_history")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("block_hash")
