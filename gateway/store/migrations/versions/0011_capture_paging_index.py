"""``GET /capture`` pages a participant's captures by the time received (then id): one index on
``captures (participant, received_at, id)``, which also replaces the index on ``participant``
alone (its leftmost column) (issue 16).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 03:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_captures_participant_received_at_id", "captures", ["participant", "received_at", "id"]
    )
    op.drop_index("ix_captures_participant", table_name="captures")


def downgrade() -> None:
    op.create_index("ix_captures_participant", "captures", ["participant"])
    op.drop_index("ix_captures_participant_received_at_id", table_name="captures")
