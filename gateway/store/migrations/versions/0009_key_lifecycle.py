"""API keys with a lifecycle: a label, last use, an expiry and a scope per key, and the audit of
every key operation (issue 15; servicekit/apikeys.py, servicekit/sql/keys.py).

Keys issued before keep working: no expiry, label "", scope ``participant``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("label", sa.String(length=100), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("scope", sa.String(length=16), nullable=False, server_default="participant")
        )
        batch.create_check_constraint(
            op.f("ck_api_keys_scope"), "scope IN ('participant', 'batch-reader')"
        )
    op.create_table(
        "key_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_audit")),
    )
    op.create_index("ix_key_audit_at", "key_audit", ["at"])
    op.create_index("ix_key_audit_owner", "key_audit", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_key_audit_owner", table_name="key_audit")
    op.drop_index("ix_key_audit_at", table_name="key_audit")
    op.drop_table("key_audit")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("ck_api_keys_scope"), type_="check")
        for column in ("scope", "expires_at", "last_used_at", "label"):
            batch.drop_column(column)
