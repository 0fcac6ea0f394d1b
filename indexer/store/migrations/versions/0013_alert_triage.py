"""The dashboard's alert triage (issue 18): each alert's state (open, acknowledged, assigned,
resolved), assignee and note, keyed by the alert's natural key, and the append-only log of
every triage action (not chain-derived: outside the rollback, so an alert a rollback deletes
and a re-index raises again keeps its triage).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_alert_triage",
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'assigned', 'resolved')",
            name=op.f("ck_ix_alert_triage_state"),
        ),
        sa.PrimaryKeyConstraint("alert_key", name=op.f("pk_ix_alert_triage")),
    )
    op.create_table(
        "ix_alert_triage_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_alert_triage_log")),
    )
    op.create_index(op.f("ix_ix_alert_triage_log_alert_key"), "ix_alert_triage_log", ["alert_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ix_alert_triage_log_alert_key"), table_name="ix_alert_triage_log")
    op.drop_table("ix_alert_triage_log")
    op.drop_table("ix_alert_triage")
