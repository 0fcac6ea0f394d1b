"""Versions by block through a BRIN index on PostgreSQL (a B-tree elsewhere).

Only a rollback and the settling of held-back events look versions up by block, while the
B-tree on ``block_number`` cost every version written, and every version closed (an update
that writes a new row), an index entry. Versions are written in block order, so a BRIN index
(the least and greatest block of each run of pages) finds a block's rows in a few pages and
costs next to nothing per row. Closed versions written elsewhere in the table only widen a
range's summary: a lookup reads more pages, never misses a row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 00:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = (
    ("ix_item_versions", "ix_ix_item_versions_block_number", "ix_item_versions_block"),
    ("ix_holding_versions", "ix_ix_holding_versions_block_number", "ix_holding_versions_block"),
)


def upgrade() -> None:
    for table, old, new in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(old)
            batch_op.create_index(new, ["block_number"], unique=False, postgresql_using="brin")


def downgrade() -> None:
    for table, old, new in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(new)
            batch_op.create_index(old, ["block_number"], unique=False)
