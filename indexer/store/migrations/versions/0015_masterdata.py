"""Master data loaded from anchored batches (issue 17 step 2): versions of locations and
products, for names and regions in stock, recall scope, trace and the pack check.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_masterdata",
        sa.Column("record_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("declared_by", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vocabulary_type", sa.String(length=512), nullable=False),
        sa.Column("element_id", sa.String(length=512), nullable=False),
        sa.Column("effective_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("region", sa.String(length=6), nullable=True),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("record_hash", name=op.f("pk_ix_masterdata")),
        sa.UniqueConstraint("seq", name=op.f("uq_ix_masterdata_seq")),
    )
    op.create_index("ix_ix_masterdata_block_number", "ix_masterdata", ["block_number"])
    op.create_index("ix_ix_masterdata_element", "ix_masterdata", ["element_id", "effective_time"])
    op.create_index("ix_ix_masterdata_region", "ix_masterdata", ["region"])


def downgrade() -> None:
    op.drop_index("ix_ix_masterdata_region", table_name="ix_masterdata")
    op.drop_index("ix_ix_masterdata_element", table_name="ix_masterdata")
    op.drop_index("ix_ix_masterdata_block_number", table_name="ix_masterdata")
    op.drop_table("ix_masterdata")
