"""Indexes for the EPCIS query interface (GET /events, issue 17): events by eventTime (time
windows, ``orderBy=eventTime`` and its keyset pages: ``(event_time, seq)``) and by bizLocation
and eventTime (one site over a day). Identifiers are found by the items' primary key
(``identifier`` first); recordTime is chain order (``seq``). Each index costs every event
loaded (docs/benchmarks.md has the catch-up rate with them).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 03:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ix_events", schema=None) as batch_op:
        batch_op.create_index("ix_events_event_time", ["event_time", "seq"], unique=False)
        batch_op.create_index(
            "ix_events_biz_location_time", ["biz_location", "event_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ix_events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_biz_location_time")
        batch_op.drop_index("ix_events_event_time")
