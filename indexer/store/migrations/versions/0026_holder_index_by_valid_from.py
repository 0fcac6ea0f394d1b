"""The holder index in the order written (issue 19, the catch-up's CPU per event):
``ix_item_versions_holder`` by ``(holder, valid_from)`` instead of ``(holder, identifier)``.
The custody chain's reads (indexer/queries/visibility.py: a holder's versions, counted or
joined to their events by identifier) need only the holder; in the order written, each
holder's new entries are appended to its range, where by identifier they went anywhere in it
(on the 1,000,000-event bench index, 84 MB read back from outside ``shared_buffers``).

The second site index, ``(biz_location, event_time)``, stays: without it a site's day in
eventTime order (issue 17) reads the day's events (up to 36,000) and sorts them, or walks the
time index: 51 to 180 ms against 0.2 ms (docs/benchmarks.md, History, Index).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 23:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_item_versions_holder", table_name="ix_item_versions")
    op.create_index("ix_item_versions_holder", "ix_item_versions", ["holder", "valid_from"])


def downgrade() -> None:
    op.drop_index("ix_item_versions_holder", table_name="ix_item_versions")
    op.create_index("ix_item_versions_holder", "ix_item_versions", ["holder", "identifier"])
