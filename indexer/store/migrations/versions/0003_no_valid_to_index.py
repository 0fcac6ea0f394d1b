"""Drop the index on item versions' ``valid_to``: only a rollback read it (now found through
``block_number``), while every version written and closed paid for it, and it misled the
planner into scanning every version for a lot's scope.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ix_item_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_item_versions_valid_to")


def downgrade() -> None:
    with op.batch_alter_table("ix_item_versions", schema=None) as batch_op:
        batch_op.create_index("ix_item_versions_valid_to", ["valid_to"], unique=False)
