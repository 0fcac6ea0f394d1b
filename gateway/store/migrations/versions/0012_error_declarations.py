"""EPCIS error declarations: a stored event declared erroneous by its submitter or the regulator,
kept and anchored as a leaf of its own (issue 16 step 6).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "error_declarations",
        sa.Column("declaration_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("declared_by", sa.String(length=42), nullable=False),
        sa.Column("declaration_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("corrective_ids", sa.JSON(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("capture_id", sa.Uuid(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_error_declarations_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_error_declarations_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(
            ["declared_by"],
            ["participants.address"],
            name=op.f("fk_error_declarations_declared_by_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event_id"], name=op.f("fk_error_declarations_event_id_events")
        ),
        sa.PrimaryKeyConstraint("declaration_hash", name=op.f("pk_error_declarations")),
    )
    op.create_index(
        "ix_error_declarations_batch_declared_by",
        "error_declarations",
        ["batch_id", "declared_by"],
    )
    op.create_index("ix_error_declarations_event_id", "error_declarations", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_error_declarations_event_id", table_name="error_declarations")
    op.drop_index("ix_error_declarations_batch_declared_by", table_name="error_declarations")
    op.drop_table("error_declarations")
