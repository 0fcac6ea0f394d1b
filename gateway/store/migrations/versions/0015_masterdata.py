"""Master data records (issue 17 step 2): versions of locations and products, declared in a
capture's header or imported, anchored as leaves of their own (kind ``masterdata``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 15:00:00.000000
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
        "masterdata_records",
        sa.Column("record_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vocabulary_type", sa.String(length=512), nullable=False),
        sa.Column("element_id", sa.String(length=512), nullable=False),
        sa.Column("effective_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(length=42), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("capture_id", sa.Uuid(), nullable=True),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('location', 'product')", name=op.f("ck_masterdata_records_kind")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_masterdata_records_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["captures.id"],
            name=op.f("fk_masterdata_records_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["declared_by"],
            ["participants.address"],
            name=op.f("fk_masterdata_records_declared_by_participants"),
        ),
        sa.PrimaryKeyConstraint("record_hash", name=op.f("pk_masterdata_records")),
    )
    op.create_index(
        "ix_masterdata_records_batch_declared_by",
        "masterdata_records",
        ["batch_id", "declared_by"],
    )
    op.create_index(
        "ix_masterdata_records_element", "masterdata_records", ["element_id", "effective_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_masterdata_records_element", table_name="masterdata_records")
    op.drop_index("ix_masterdata_records_batch_declared_by", table_name="masterdata_records")
    op.drop_table("masterdata_records")
