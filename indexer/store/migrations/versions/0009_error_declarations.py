"""EPCIS error declarations loaded from anchored batches (issue 16 step 6): the declared event
is shown erroneous (its reason, declaration time and corrective events).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_error_declarations",
        sa.Column("declaration_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("declared_by", sa.String(length=42), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("declaration_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("corrective_ids", sa.JSON(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("declaration_hash", name=op.f("pk_ix_error_declarations")),
        sa.UniqueConstraint("seq", name=op.f("uq_ix_error_declarations_seq")),
    )
    op.create_index(
        "ix_ix_error_declarations_block_number", "ix_error_declarations", ["block_number"]
    )
    op.create_index("ix_ix_error_declarations_event_hash", "ix_error_declarations", ["event_hash"])


def downgrade() -> None:
    op.drop_index("ix_ix_error_declarations_event_hash", table_name="ix_error_declarations")
    op.drop_index("ix_ix_error_declarations_block_number", table_name="ix_error_declarations")
    op.drop_table("ix_error_declarations")
