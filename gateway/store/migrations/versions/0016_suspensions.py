"""Suspensions (issue 22, pharmacovigilance stops): a lot suspended pending investigation, the
lots the rules refuse to dispense (``suspended_lots``), and notifications of a suspension, its
lifting and its escalation (``notifications.suspension_id``; ``recall_id`` now optional).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "suspended_lots",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("stops_shipping", sa.Boolean(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gtin", "lot", name=op.f("pk_suspended_lots")),
    )
    op.create_table(
        "suspensions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.Integer(), nullable=False),
        sa.Column("stops_shipping", sa.Boolean(), nullable=False),
        sa.Column("suspended_by", sa.String(length=42), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspend_tx", sa.String(length=66), nullable=True),
        sa.Column("closed_by", sa.String(length=42), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("close_reason_code", sa.Integer(), nullable=True),
        sa.Column("close_tx", sa.String(length=66), nullable=True),
        sa.Column("recall_id", _ID, nullable=True),
        sa.CheckConstraint(
            "state IN ('suspended', 'lifted', 'escalated')", name=op.f("ck_suspensions_state")
        ),
        sa.ForeignKeyConstraint(
            ["suspended_by"],
            ["participants.address"],
            name=op.f("fk_suspensions_suspended_by_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["participants.address"],
            name=op.f("fk_suspensions_closed_by_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["recall_id"], ["recalls.id"], name=op.f("fk_suspensions_recall_id_recalls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspensions")),
    )
    op.create_index("ix_suspensions_gtin_lot", "suspensions", ["gtin", "lot"])
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("recall_id", existing_type=_ID, nullable=True)
        batch.add_column(sa.Column("suspension_id", _ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_notifications_suspension_id_suspensions"),
            "suspensions",
            ["suspension_id"],
            ["id"],
        )
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_notifications_kind"),
            "kind IN ('recall', 'release', 'suspension', 'lift')",
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_notifications_kind"), "kind IN ('recall', 'release')"
        )
        batch.drop_constraint(
            op.f("fk_notifications_suspension_id_suspensions"), type_="foreignkey"
        )
        batch.drop_column("suspension_id")
        batch.alter_column("recall_id", existing_type=_ID, nullable=False)
    op.drop_index("ix_suspensions_gtin_lot", table_name="suspensions")
    op.drop_table("suspensions")
    op.drop_table("suspended_lots")
