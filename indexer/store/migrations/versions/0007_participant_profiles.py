"""Participant profiles: names, GLNs and regions from the gateway's participant list, shown
beside addresses (not chain-derived: outside the rollback).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_participant_profiles",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("gln", sa.String(length=13), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_ix_participant_profiles")),
    )
    op.create_index(
        op.f("ix_ix_participant_profiles_region"), "ix_participant_profiles", ["region"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ix_participant_profiles_region"), table_name="ix_participant_profiles")
    op.drop_table("ix_participant_profiles")
