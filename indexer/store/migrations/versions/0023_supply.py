"""Supply by region (issue 22): the places packs count at, the per-block supply changes, packs
on hand and dispensed per region and GTIN, and shortages (indexer/store/supply.py).

An index upgraded from an earlier revision counts supply from the blocks it indexes next;
``provenance indexer`` on an empty database (a re-index) counts it from the first block.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ix_supply_places",
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("location", sa.String(512), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("holder", "location", name=op.f("pk_ix_supply_places")),
    )
    op.create_index("ix_ix_supply_places_block_number", "ix_supply_places", ["block_number"])
    op.create_table(
        "ix_supply_changes",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stock_delta", sa.BigInteger(), nullable=False),
        sa.Column("dispensed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "block_number", "region", "gtin", "day", name=op.f("pk_ix_supply_changes")
        ),
    )
    # the supply clock (the latest day changed) is read after every write
    op.create_index("ix_supply_changes_day", "ix_supply_changes", ["day"])
    op.create_table(
        "ix_supply_stock",
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("region", "gtin", name=op.f("pk_ix_supply_stock")),
    )
    op.create_table(
        "ix_supply_days",
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dispensed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("region", "gtin", "day", name=op.f("pk_ix_supply_days")),
    )
    op.create_table(
        "ix_shortages",
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("opened_block", sa.BigInteger(), nullable=False),
        sa.Column("opened_day", sa.Date(), nullable=False),
        sa.Column("cleared_block", sa.BigInteger(), nullable=True),
        sa.Column("cleared_day", sa.Date(), nullable=True),
        sa.Column("alert_key", sa.String(64), nullable=False),
        sa.Column("alert", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("region", "gtin", "opened_block", name=op.f("pk_ix_shortages")),
    )
    op.create_index("ix_ix_shortages_cleared_block", "ix_shortages", ["cleared_block"])


def downgrade() -> None:
    op.drop_index("ix_ix_shortages_cleared_block", "ix_shortages")
    op.drop_table("ix_shortages")
    op.drop_table("ix_supply_days")
    op.drop_table("ix_supply_stock")
    op.drop_index("ix_supply_changes_day", "ix_supply_changes")
    op.drop_table("ix_supply_changes")
    op.drop_index("ix_ix_supply_places_block_number", "ix_supply_places")
    op.drop_table("ix_supply_places")
