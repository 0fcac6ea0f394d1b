"""The overview's counts kept per block (issue 18): events per block, UTC day and business step
(``ix_event_tallies``), changes of current item versions per block and status
(``ix_item_tallies``), both filled from the index as it is; and each anchor's ``gas_used``,
from its transaction's receipt (read for batches indexed from now on; None before).

The backfill reads every event and every item version once (about a minute over a million
events): on a large index, run it in a window. A version counts +1 in the block that wrote it
and -1 in the block that closed it, the block of its ``valid_to`` (every closing is at a
sequence number of the block that writes it: indexer/store/writes.py and undo.py).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SEQ_BLOCK = 10**9  # indexer.store.models.SEQ_BLOCK, as it was when this was written


def upgrade() -> None:
    op.create_table(
        "ix_event_tallies",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("biz_step", sa.String(length=128), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "block_number", "day", "biz_step", name=op.f("pk_ix_event_tallies")
        ),
    )
    op.create_index("ix_ix_event_tallies_day", "ix_event_tallies", ["day"])
    op.create_table(
        "ix_item_tallies",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "status", name=op.f("pk_ix_item_tallies")),
    )
    with op.batch_alter_table("ix_anchors") as batch:
        batch.add_column(sa.Column("gas_used", sa.BigInteger(), nullable=True))
    postgresql = op.get_bind().dialect.name == "postgresql"
    day = "date(timezone('UTC', event_time))" if postgresql else "date(event_time)"
    op.execute(
        "INSERT INTO ix_event_tallies (block_number, day, biz_step, events) "
        f"SELECT block_number, {day}, coalesce(biz_step, ''), count(*) FROM ix_events "
        f"GROUP BY block_number, {day}, coalesce(biz_step, '')"
    )
    closed_in = f"valid_to / {SEQ_BLOCK}"  # integer division on both
    op.execute(
        "INSERT INTO ix_item_tallies (block_number, status, delta) "
        "SELECT block_number, status, sum(delta) FROM ("
        " SELECT block_number, status, 1 AS delta FROM ix_item_versions"
        f" UNION ALL SELECT {closed_in} AS block_number, status, -1 AS delta"
        " FROM ix_item_versions WHERE valid_to IS NOT NULL"
        ") AS changes GROUP BY block_number, status HAVING sum(delta) <> 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("ix_anchors") as batch:
        batch.drop_column("gas_used")
    op.drop_table("ix_item_tallies")
    op.drop_index("ix_ix_event_tallies_day", table_name="ix_event_tallies")
    op.drop_table("ix_event_tallies")
