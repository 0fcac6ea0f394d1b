"""A keyed registration remembers when the attempt it last answered arrived, so an attempt that
arrived earlier (a client's first try, run late) never takes the key of a later answer away
(issue 15).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registration_requests") as batch:
        batch.add_column(sa.Column("answered_arrival", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registration_requests") as batch:
        batch.drop_column("answered_arrival")
