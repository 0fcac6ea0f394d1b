"""Recalls, per-participant notifications, webhooks and their delivery outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:35:28.568073
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recalls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.Integer(), nullable=False),
        sa.Column("recalled_by", sa.String(length=42), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recall_tx", sa.String(length=66), nullable=True),
        sa.Column("released_by", sa.String(length=42), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("release_reason_code", sa.Integer(), nullable=True),
        sa.Column("release_tx", sa.String(length=66), nullable=True),
        sa.CheckConstraint("state IN ('recalled', 'released')", name=op.f("ck_recalls_state")),
        sa.ForeignKeyConstraint(
            ["recalled_by"],
            ["participants.address"],
            name=op.f("fk_recalls_recalled_by_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["released_by"],
            ["participants.address"],
            name=op.f("fk_recalls_released_by_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recalls")),
    )
    op.create_index("ix_recalls_gtin_lot", "recalls", ["gtin", "lot"])

    op.create_table(
        "webhooks",
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_webhooks_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("participant", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "recall_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.Integer(), nullable=False),
        sa.Column("holding", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('recall', 'release')", name=op.f("ck_notifications_kind")),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_notifications_participant_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["recall_id"], ["recalls.id"], name=op.f("fk_notifications_recall_id_recalls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_participant_id", "notifications", ["participant", "id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "notification_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name=op.f("ck_webhook_deliveries_state")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_webhook_deliveries_notification_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_webhook_deliveries_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_state_next_attempt_at", table_name="webhook_deliveries")

    op.drop_table("webhook_deliveries")
    op.drop_index("ix_notifications_participant_id", table_name="notifications")

    op.drop_table("notifications")
    op.drop_table("webhooks")
    op.drop_index("ix_recalls_gtin_lot", table_name="recalls")

    op.drop_table("recalls")
