"""Price complaints (issue 22): a citizen's complaint that a pharmacy charged more than the
regulated maximum retail price, with its re-encoded receipt photo and its status (not
chain-derived: outside the rollback).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_price_complaints",
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("product_name", sa.String(length=512), nullable=True),
        sa.Column("pharmacy", sa.String(length=300), nullable=False),
        sa.Column("price_paid", sa.String(length=24), nullable=False),
        sa.Column("max_price", sa.String(length=24), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=False),
        sa.Column("receipt_type", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'investigating', 'upheld', 'rejected', 'closed')",
            name=op.f("ck_ix_price_complaints_status"),
        ),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_ix_price_complaints")),
    )
    op.create_index(op.f("ix_ix_price_complaints_gtin"), "ix_price_complaints", ["gtin"])
    op.create_index(
        "ix_ix_price_complaints_status_received", "ix_price_complaints", ["status", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_ix_price_complaints_status_received", table_name="ix_price_complaints")
    op.drop_index(op.f("ix_ix_price_complaints_gtin"), table_name="ix_price_complaints")
    op.drop_table("ix_price_complaints")
