"""Alembic environment, configured by :func:`indexer.store.engine.alembic_config` (no ini file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from indexer.store.models import Base

VERSION_TABLE = "ix_alembic_version"  # the gateway may share the database: keep apart

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through indexer.store.upgrade(url)")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
