"""Fewer indexes on events and their items: every one costs every event loaded.

Events keep their primary key (hash) and ``seq``: a batch's events are one ``seq`` range (its
anchor's block and log index), and so is what a rollback removes; nothing filters on
``block_number``, ``root`` or ``biz_step`` alone. Items are found by ``seq`` (an event's items,
a rollback's) instead of by ``event_hash`` and ``block_number``: one small ordered index instead
of two, one of them on random 32-byte keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ix_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ix_events_block_number")
        batch_op.drop_index("ix_ix_events_root")
        batch_op.drop_index("ix_ix_events_biz_step")
    with op.batch_alter_table("ix_event_items", schema=None) as batch_op:
        batch_op.drop_index("ix_ix_event_items_event_hash")
        batch_op.drop_index("ix_ix_event_items_block_number")
        batch_op.create_index("ix_ix_event_items_seq", ["seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ix_event_items", schema=None) as batch_op:
        batch_op.drop_index("ix_ix_event_items_seq")
        batch_op.create_index("ix_ix_event_items_block_number", ["block_number"], unique=False)
        batch_op.create_index("ix_ix_event_items_event_hash", ["event_hash"], unique=False)
    with op.batch_alter_table("ix_events", schema=None) as batch_op:
        batch_op.create_index("ix_ix_events_biz_step", ["biz_step"], unique=False)
        batch_op.create_index("ix_ix_events_root", ["root"], unique=False)
        batch_op.create_index("ix_ix_events_block_number", ["block_number"], unique=False)
