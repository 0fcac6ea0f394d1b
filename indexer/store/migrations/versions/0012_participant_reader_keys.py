"""Participant reader keys (issue 17, visibility of the EPCIS query interface): the role
``participant``, bound to a participant's address (``ix_api_keys.participant``), which reads the
events it captured and the events on the items it has held; and the indexes its custody chain
is found by (every item version and lot holding of one holder: indexer/queries/visibility.py).

On SQLite the batch rebuild of ``ix_api_keys`` cascades to ``ix_web_sessions``: dashboard users
signed in when this runs are signed out and sign in again. PostgreSQL alters in place.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('regulator', 'auditor', 'inspector')"
ROLES_AFTER = "role IN ('regulator', 'auditor', 'inspector', 'participant')"


def upgrade() -> None:
    with op.batch_alter_table("ix_api_keys") as batch:
        batch.add_column(sa.Column("participant", sa.String(length=42), nullable=True))
        batch.drop_constraint(op.f("ck_ix_api_keys_role"), type_="check")
        batch.create_check_constraint(op.f("ck_ix_api_keys_role"), ROLES_AFTER)
        batch.create_check_constraint(
            op.f("ck_ix_api_keys_participant_address"),
            "role <> 'participant' OR participant IS NOT NULL",
        )
    op.create_index("ix_item_versions_holder", "ix_item_versions", ["holder", "identifier"])
    op.create_index("ix_holding_versions_holder", "ix_holding_versions", ["holder", "class_id"])


def downgrade() -> None:
    op.drop_index("ix_holding_versions_holder", table_name="ix_holding_versions")
    op.drop_index("ix_item_versions_holder", table_name="ix_item_versions")
    op.execute("DELETE FROM ix_api_keys WHERE role = 'participant'")
    with op.batch_alter_table("ix_api_keys") as batch:
        batch.drop_constraint(op.f("ck_ix_api_keys_participant_address"), type_="check")
        batch.drop_constraint(op.f("ck_ix_api_keys_role"), type_="check")
        batch.create_check_constraint(op.f("ck_ix_api_keys_role"), ROLES_BEFORE)
        batch.drop_column("participant")
