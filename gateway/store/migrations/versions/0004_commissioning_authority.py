"""Commissioning authority: participants' GS1 company prefixes, claims on undeclared lots, and
items by lot.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(
            sa.Column("company_prefixes", sa.String(length=512), nullable=False, server_default="")
        )
    op.create_table(
        "lot_claims",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_lot_claims_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("gtin", "lot", name=op.f("pk_lot_claims")),
    )
    op.create_index("ix_items_gtin_lot", "items", ["gtin", "lot"])


def downgrade() -> None:
    op.drop_index("ix_items_gtin_lot", table_name="items")
    op.drop_table("lot_claims")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("company_prefixes")
