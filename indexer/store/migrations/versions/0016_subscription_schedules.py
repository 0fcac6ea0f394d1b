"""Scheduled EPCIS subscriptions (issue 17): a subscription's schedule as given, when it runs
next, and the end of the run under way.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ix_subscriptions") as batch:
        batch.add_column(sa.Column("schedule", sa.Text(), nullable=True))
        batch.add_column(sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("run_end", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ix_subscriptions") as batch:
        batch.drop_column("run_end")
        batch.drop_column("next_run_at")
        batch.drop_column("schedule")
