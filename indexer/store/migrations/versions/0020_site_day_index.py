"""Events of one site and one UTC day in chain order (issue 17: ``GET /events`` with
``EQ_bizLocation`` and an eventTime window within a day, default order): an index on
``(biz_location, the UTC day of event_time, seq)`` (indexer/store/models.py: ``utc_day``), read
in order until the page is full. Without it PostgreSQL walked every event by ``seq`` and
filtered (hundreds of thousands of rows for a late day), or read the whole day of the site by
time and sorted it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

DAY = {"postgresql": "((timezone('UTC', event_time))::date)"}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    day = DAY.get(dialect, "date(event_time)")
    op.create_index("ix_events_site_day", "ix_events", ["biz_location", sa.text(day), "seq"])
    if dialect == "postgresql":  # the expression's statistics: without them, rows are guessed
        op.execute("ANALYZE ix_events")


def downgrade() -> None:
    op.drop_index("ix_events_site_day", table_name="ix_events")
