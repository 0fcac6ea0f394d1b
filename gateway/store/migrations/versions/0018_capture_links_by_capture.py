"""PostgreSQL: ``capture_events`` without its index on ``event_id`` (issue 19).

Every query of ``capture_events`` finds a capture's links by ``capture_id`` (its primary key,
in document order); the index on ``event_id`` was what deleting a referenced event would have
searched, and since 0017 no foreign key of ``capture_events`` is checked on PostgreSQL (nothing
deletes events or their keys either). It cost one B-tree insert of an 80-character key per
event captured, the links' biggest index. SQLite keeps it, as the models declare.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_capture_events_event_id")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_capture_events_event_id ON capture_events (event_id)")
