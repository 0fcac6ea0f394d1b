"""Reader keys with a lifecycle: an id, a label, created/last-used/expiry/revocation times, a
region (inspectors), the role ``inspector``; and the audit of every key operation (issue 15;
servicekit/apikeys.py, servicekit/sql/keys.py).

The table is rebuilt with an integer id as its key (the prefix stays unique). Keys issued
before keep working: created now, label "", no expiry; a key that was ``revoked`` is revoked
now (the time it was revoked was never recorded).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NOW = "CURRENT_TIMESTAMP"


def _key_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "role IN ('regulator', 'auditor', 'inspector')", name=op.f("ck_ix_api_keys_role")
        ),
        sa.CheckConstraint(
            "role <> 'inspector' OR region IS NOT NULL",
            name=op.f("ck_ix_api_keys_inspector_region"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_ix_api_keys_prefix")),
    )


def upgrade() -> None:
    # The old table's constraint names are taken (PostgreSQL keeps them per schema): it is
    # renamed out of the way, its primary key renamed too, then copied and dropped.
    op.rename_table("ix_api_keys", "ix_api_keys_old")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE ix_api_keys_old RENAME CONSTRAINT pk_ix_api_keys TO pk_ix_api_keys_old"
        )
    _key_table("ix_api_keys")
    op.execute(
        "INSERT INTO ix_api_keys (prefix, label, created_at, revoked_at, name, role, secret_hash) "
        f"SELECT prefix, '', {NOW}, CASE WHEN revoked THEN {NOW} ELSE NULL END, name, role, "
        "secret_hash FROM ix_api_keys_old ORDER BY prefix"
    )
    op.drop_table("ix_api_keys_old")
    op.create_table(
        "ix_key_audit",
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ix_key_audit")),
    )
    op.create_index("ix_ix_key_audit_at", "ix_key_audit", ["at"])
    op.create_index("ix_ix_key_audit_owner", "ix_key_audit", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_ix_key_audit_owner", table_name="ix_key_audit")
    op.drop_index("ix_ix_key_audit_at", table_name="ix_key_audit")
    op.drop_table("ix_key_audit")
    op.rename_table("ix_api_keys", "ix_api_keys_new")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE ix_api_keys_new RENAME CONSTRAINT pk_ix_api_keys TO pk_ix_api_keys_new"
        )
        op.execute(
            "ALTER TABLE ix_api_keys_new RENAME CONSTRAINT uq_ix_api_keys_prefix "
            "TO uq_ix_api_keys_new_prefix"
        )
    op.create_table(
        "ix_api_keys",
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_ix_api_keys")),
    )
    op.execute(
        "INSERT INTO ix_api_keys (prefix, name, role, secret_hash, revoked) "
        "SELECT prefix, name, CASE WHEN role = 'inspector' THEN 'auditor' ELSE role END, "
        "secret_hash, revoked_at IS NOT NULL OR expires_at IS NOT NULL FROM ix_api_keys_new"
    )
    op.drop_table("ix_api_keys_new")
