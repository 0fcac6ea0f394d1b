"""The dashboard's signed-in sessions (issue 18): a token's SHA-256, its reader key, the CSRF
token, and the session's times (not chain-derived: outside the rollback).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_web_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["ix_api_keys.id"],
            name=op.f("fk_ix_web_sessions_key_id_ix_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ix_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_ix_web_sessions_key_id"), "ix_web_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ix_web_sessions_key_id"), table_name="ix_web_sessions")
    op.drop_table("ix_web_sessions")
