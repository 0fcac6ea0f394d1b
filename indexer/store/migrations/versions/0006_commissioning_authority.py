"""Commissioning authority: participants' GS1 company prefixes and the packs a registered batch
declared, mirrored from the registries' ``CompanyPrefixesSet`` and ``BatchRegistered`` events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ix_participant_changes") as batch:
        batch.add_column(sa.Column("prefixes", sa.String(length=512), nullable=True))
    with op.batch_alter_table("ix_participants") as batch:
        batch.add_column(
            sa.Column("company_prefixes", sa.String(length=512), nullable=False, server_default="")
        )
    with op.batch_alter_table("ix_recall_changes") as batch:
        batch.add_column(sa.Column("packs", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("ix_recalls") as batch:
        batch.add_column(sa.Column("packs", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("ix_recalls", "packs"),
        ("ix_recall_changes", "packs"),
        ("ix_participants", "company_prefixes"),
        ("ix_participant_changes", "prefixes"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
