"""The indexer's Alembic migrations build exactly the schema its models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from indexer.store import make_engine, upgrade
from indexer.store.models import Base


def indexer_tables_only(name: str | None, kind: str, _parent: object) -> bool:
    """A database the indexer shares with the gateway has the gateway's tables too."""
    if kind != "table":
        return True
    return (name or "").startswith("ix_") and name != "ix_alembic_version"


@pytest.mark.filterwarnings(  # SQLite: an expression index is not compared (PostgreSQL: it is)
    "ignore:Skipped unsupported reflection of expression-based index",
    "ignore:autogenerate skipping metadata-specified expression-based index",
)
def test_migrated_schema_equals_the_models(index_url: str) -> None:
    engine = make_engine(index_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_name": indexer_tables_only},
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
