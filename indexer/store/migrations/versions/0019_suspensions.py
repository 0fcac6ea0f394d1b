"""Suspensions pending investigation (issue 22): the recall registry's ``Suspended``,
``SuspensionLifted`` and ``SuspensionEscalated`` logs are recall changes of their own kinds
(``ix_recall_changes.case_number``), and each batch's current suspension sits beside its recall
state in ``ix_recalls`` (rebuilt from the changes after a rollback, like the recall state).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ix_recall_changes", sa.Column("case_number", sa.String(32), nullable=True))
    with op.batch_alter_table("ix_recalls") as batch:
        batch.add_column(
            sa.Column("suspended", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch.add_column(sa.Column("suspension_reason_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("case_number", sa.String(32), nullable=True))
        batch.add_column(sa.Column("suspended_by", sa.String(42), nullable=True))
        batch.add_column(sa.Column("suspended_block", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("suspend_tx", sa.String(66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ix_recalls") as batch:
        for column in (
            "suspend_tx",
            "suspended_block",
            "suspended_by",
            "case_number",
            "suspension_reason_code",
            "suspended",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("ix_recall_changes") as batch:
        batch.drop_column("case_number")
