"""Who pressed Recall, Release, Suspend, Lift or Escalate on the dashboard (issue 18): the
append-only log of the dashboard's actions on lots, with the reader key's holder (not
chain-derived: outside the rollback).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_dashboard_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_dashboard_actions")),
    )
    op.create_index("ix_dashboard_actions_lot", "ix_dashboard_actions", ["gtin", "lot", "id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_actions_lot", table_name="ix_dashboard_actions")
    op.drop_table("ix_dashboard_actions")
