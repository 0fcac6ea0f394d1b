"""ILMD fields as rows (issue 17): ``ix_event_ilmd`` (indexer/store/models.py: EventIlmdRow),
so the EPCIS query interface finds ``EQ_ILMD_*``, its comparisons and ``EXISTS_ILMD_*`` by SQL
instead of judging every event's JSON; filled here from the events already indexed, with the
same rows loading writes (indexer/event_rows.py: ``ilmd_rows``).

The backfill reads only the events whose JSON names an ``ilmd`` object (``"ilmd":{``: the
index keeps events with sorted keys and no spaces, so a top-level one is written so; a match
elsewhere only costs a parse), in sequence order, a batch at a time.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:50:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from indexer.event_rows import ilmd_rows
from indexer.store.writes import ILMD_COLUMNS
from servicekit.sql.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: Events read per statement of the backfill.
BATCH = 1000
_TYPES: tuple[Any, ...] = (
    sa.BigInteger(), sa.String(), sa.BigInteger(), sa.String(), sa.String(), sa.Float(),
    UtcDateTime(),
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "ix_event_ilmd",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("field", sa.String(length=512), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text_value", sa.String(length=256), nullable=True),
        sa.Column("number_value", sa.Float(), nullable=True),
        sa.Column("time_value", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", "field", name=op.f("pk_ix_event_ilmd")),
    )
    _backfill(op.get_bind())
    # after the backfill: one sort per index instead of an insert into each per row
    op.create_index("ix_event_ilmd_text", "ix_event_ilmd", ["field", "text_value", "seq"])
    op.create_index("ix_event_ilmd_number", "ix_event_ilmd", ["field", "number_value"])
    op.create_index("ix_event_ilmd_time", "ix_event_ilmd", ["field", "time_value"])


def _backfill(connection: sa.Connection) -> None:
    events = sa.table(
        "ix_events", sa.column("seq", sa.BigInteger()), sa.column("block_number", sa.BigInteger()),
        sa.column("raw", sa.Text()),
    )  # fmt: skip
    ilmd = sa.table(
        "ix_event_ilmd", *(sa.column(c, t) for c, t in zip(ILMD_COLUMNS, _TYPES, strict=True))
    )
    named = connection.scalars(
        sa.select(events.c.seq).where(events.c.raw.like('%"ilmd":{%')).order_by(events.c.seq)
    ).all()
    for start in range(0, len(named), BATCH):
        part = named[start : start + BATCH]
        rows: list[dict[str, Any]] = []
        for seq, block, raw in connection.execute(
            sa.select(events.c.seq, events.c.block_number, events.c.raw).where(
                events.c.seq.in_(part)
            )
        ):
            event = json.loads(raw)
            if isinstance(event, dict):
                found = ilmd_rows(event, seq, block)
                rows += [dict(zip(ILMD_COLUMNS, r, strict=True)) for r in found]
        if rows:
            connection.execute(sa.insert(ilmd), rows)


def downgrade() -> None:
    op.drop_table("ix_event_ilmd")
