"""ILMD values indexed by kind (issue 19, the catch-up's CPU per event): ``ix_event_ilmd``'s
number and time indexes hold only the rows of their kind (``kind = 'number'``, ``kind =
'time'``), the only rows the query's number and time conditions read
(indexer/queries/events.py: ``_ilmd_value`` says the kind). Before, every ILMD row of an
event, text ones (lot numbers, expiry dates as captured) included, put a NULL entry in each:
two B-tree inserts per row that no query read.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

PARTIAL = (
    ("ix_event_ilmd_number", "number_value", "kind = 'number'"),
    ("ix_event_ilmd_time", "time_value", "kind = 'time'"),
)


def upgrade() -> None:
    for name, column, where in PARTIAL:
        op.drop_index(name, table_name="ix_event_ilmd")
        op.create_index(
            name,
            "ix_event_ilmd",
            ["field", column],
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name, column, _ in PARTIAL:
        op.drop_index(name, table_name="ix_event_ilmd")
        op.create_index(name, "ix_event_ilmd", ["field", column])
