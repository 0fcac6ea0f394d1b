"""Initial schema: participants, API keys, captures, events, batches, custody state, nonces.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 03:45:21.585673
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_nonces",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_account_nonces")),
    )
    op.create_table(
        "items",
        sa.Column("identifier", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("location", sa.String(length=512), nullable=True),
        sa.Column("parent", sa.String(length=512), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("in_transit_to", sa.String(length=42), nullable=True),
        sa.Column("commissioned_by", sa.String(length=42), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'in_transit', 'dispensed', 'decommissioned', 'destroyed')",
            name=op.f("ck_items_status"),
        ),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_items")),
    )
    op.create_index("ix_items_parent", "items", ["parent"])
    op.create_table(
        "participants",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("gln", sa.String(length=13), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("keystore_path", sa.String(length=1024), nullable=True),
        sa.Column("rule_set", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rule_set IN ('pharma', 'epcis')", name=op.f("ck_participants_rule_set")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_participants_status")
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_participants")),
        sa.UniqueConstraint("gln", name=op.f("uq_participants_gln")),
    )
    op.create_table(
        "quantities",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("class_id", sa.String(length=512), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("in_transit_to", sa.String(length=42), nullable=True),
        sa.Column("uom", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_quantities_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quantities")),
    )
    op.create_index("ix_quantities_class_id_holder", "quantities", ["class_id", "holder"])
    op.create_table(
        "recalled_lots",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gtin", "lot", name=op.f("pk_recalled_lots")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_api_keys_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index("ix_api_keys_participant", "api_keys", ["participant"])
    op.create_table(
        "batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'sealed', 'sent', 'anchored', 'failed')",
            name=op.f("ck_batches_state"),
        ),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_batches_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("root", name=op.f("uq_batches_root")),
    )
    op.create_index("ix_batches_state", "batches", ["state"])
    op.create_table(
        "captures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "status IN ('accepted', 'anchored', 'rejected')", name=op.f("ck_captures_status")
        ),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_captures_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
    )
    op.create_index("ix_captures_participant", "captures", ["participant"])
    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("participant", sa.String(length=42), nullable=False),
        sa.Column("capture_id", sa.Uuid(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("biz_step", sa.String(length=255), nullable=True),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_events_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_events_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(
            ["participant"],
            ["participants.address"],
            name=op.f("fk_events_participant_participants"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index("ix_events_batch_participant_seq", "events", ["batch_id", "participant", "seq"])
    op.create_table(
        "capture_events",
        sa.Column("capture_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_capture_events_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event_id"], name=op.f("fk_capture_events_event_id_events")
        ),
        sa.PrimaryKeyConstraint("capture_id", "position", name=op.f("pk_capture_events")),
    )
    op.create_index("ix_capture_events_event_id", "capture_events", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_capture_events_event_id", table_name="capture_events")
    op.drop_table("capture_events")
    op.drop_index("ix_events_batch_participant_seq", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_captures_participant", table_name="captures")
    op.drop_table("captures")
    op.drop_index("ix_batches_state", table_name="batches")
    op.drop_table("batches")
    op.drop_index("ix_api_keys_participant", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("recalled_lots")
    op.drop_index("ix_quantities_class_id_holder", table_name="quantities")
    op.drop_table("quantities")
    op.drop_table("participants")
    op.drop_index("ix_items_parent", table_name="items")
    op.drop_table("items")
    op.drop_table("account_nonces")
