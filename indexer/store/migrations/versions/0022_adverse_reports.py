"""Adverse-reaction reports (issue 22), kept off chain and linked to their lot, and the reader
role ``pharmacovigilance`` (the regulator's officers who read them; 17 characters: the role
columns of the keys and of the named queries widen to 32).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('regulator', 'auditor', 'inspector', 'participant')"
ROLES_AFTER = "role IN ('regulator', 'auditor', 'inspector', 'participant', 'pharmacovigilance')"


def upgrade() -> None:
    op.create_table(
        "ix_adverse_reports",
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("identifier", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reporter", sa.String(length=42), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_ix_adverse_reports")),
    )
    op.create_index("ix_ix_adverse_reports_lot", "ix_adverse_reports", ["gtin", "lot"])
    with op.batch_alter_table("ix_api_keys") as batch:
        batch.drop_constraint(op.f("ck_ix_api_keys_role"), type_="check")
        batch.alter_column("role", type_=sa.String(length=32), existing_nullable=False)
        batch.create_check_constraint(op.f("ck_ix_api_keys_role"), ROLES_AFTER)
    with op.batch_alter_table("ix_named_queries") as batch:  # a reader's role is kept there too
        batch.alter_column("role", type_=sa.String(length=32), existing_nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM ix_named_queries WHERE role = 'pharmacovigilance'")
    op.execute("DELETE FROM ix_api_keys WHERE role = 'pharmacovigilance'")
    with op.batch_alter_table("ix_named_queries") as batch:
        batch.alter_column("role", type_=sa.String(length=16), existing_nullable=False)
    with op.batch_alter_table("ix_api_keys") as batch:
        batch.drop_constraint(op.f("ck_ix_api_keys_role"), type_="check")
        batch.alter_column("role", type_=sa.String(length=16), existing_nullable=False)
        batch.create_check_constraint(op.f("ck_ix_api_keys_role"), ROLES_BEFORE)
    op.drop_index("ix_ix_adverse_reports_lot", table_name="ix_adverse_reports")
    op.drop_table("ix_adverse_reports")
