from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from gateway.store.engine import upgrade
from gateway.store.models import Base
from gateway.store.partitions import POSTGRESQL_ONLY


def _not_postgresql_only(
    item: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return name not in POSTGRESQL_ONLY and not (name or "").startswith("events_")


def test_migrated_schema_equals_the_models(engine: Engine) -> None:
    """Exactly, but for the month partitions of ``events`` on PostgreSQL and what they need."""
    with engine.connect() as conn:
        options: dict[str, object] = {"compare_type": True}
        if engine.dialect.name == "postgresql":
            options["include_object"] = _not_postgresql_only
        context = MigrationContext.configure(conn, opts=options)
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    assert revision == "0014"
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_upgrade_from_a_url(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
