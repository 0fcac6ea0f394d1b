"""Items keep the latest eventTime of the events that made their state (rule time.backdated).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: items stored before this revision have no time, and the rule lets them pass
    op.add_column("items", sa.Column("event_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "event_time")
