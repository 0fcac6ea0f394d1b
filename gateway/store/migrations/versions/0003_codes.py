"""Code issuance: declared lots (pack count, issued so far) and the issued serials.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_lots",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=False),
        sa.Column("packs", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("released_by", sa.String(length=42), nullable=False),
        sa.Column("register_tx", sa.String(length=66), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("packs > 0", name=op.f("ck_code_lots_packs_positive")),
        sa.CheckConstraint(
            "issued >= 0 AND issued <= packs", name=op.f("ck_code_lots_issued_within_packs")
        ),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_code_lots_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("gtin", "lot", name=op.f("pk_code_lots")),
    )
    op.create_table(
        "codes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_codes_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codes")),
        sa.UniqueConstraint("gtin", "serial", name="uq_codes_gtin_serial"),
    )
    op.create_index("ix_codes_gtin_lot_id", "codes", ["gtin", "lot", "id"])


def downgrade() -> None:
    op.drop_index("ix_codes_gtin_lot_id", table_name="codes")
    op.drop_table("codes")
    op.drop_table("code_lots")
