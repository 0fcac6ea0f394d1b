"""Named EPCIS queries and their webhook subscriptions (issue 17): the query as given and the
parameters it stands for, kept per reader (owner, and what the owner sees); each subscription's
destination, signature token, and its delivery cursor (not chain-derived: outside the rollback,
but a rollback moves a cursor back to the common ancestor).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_named_queries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_named_queries")),
    )
    op.create_index(
        "ix_ix_named_queries_owner_name", "ix_named_queries", ["owner", "name"], unique=True
    )
    op.create_table(
        "ix_subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("dest", sa.Text(), nullable=False),
        sa.Column("signature_token", sa.Text(), nullable=True),
        sa.Column("report_if_empty", sa.Boolean(), nullable=False),
        sa.Column("initial_record_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("batch_end", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["ix_named_queries.id"],
            name=op.f("fk_ix_subscriptions_query_id_ix_named_queries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_subscriptions")),
    )
    op.create_index(op.f("ix_ix_subscriptions_query_id"), "ix_subscriptions", ["query_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ix_subscriptions_query_id"), table_name="ix_subscriptions")
    op.drop_table("ix_subscriptions")
    op.drop_index("ix_ix_named_queries_owner_name", table_name="ix_named_queries")
    op.drop_table("ix_named_queries")
