"""Participants get a region (ISO 3166-2) and an updated_at (what the participant list filters
on for pollers); registrations sent with an Idempotency-Key are remembered (issue 15).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("region", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    # participants registered before this revision last changed, as far as anyone knows, then
    op.execute("UPDATE participants SET updated_at = created_at")
    with op.batch_alter_table("participants") as batch:
        batch.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_participants_updated_at", "participants", ["updated_at"])
    op.create_table(
        "registration_requests",
        sa.Column("requester", sa.String(length=42), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("gln", sa.String(length=13), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=True),
        sa.Column("key_prefix", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "requester", "idempotency_key", name=op.f("pk_registration_requests")
        ),
    )
    op.create_index("ix_registration_requests_created_at", "registration_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_registration_requests_created_at", table_name="registration_requests")
    op.drop_table("registration_requests")
    op.drop_index("ix_participants_updated_at", table_name="participants")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("region")
