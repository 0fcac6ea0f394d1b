"""The indexer's database: its migrations (engines: servicekit.sql.engine)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine

from servicekit.sql import engine as sql_engine
from servicekit.sql.engine import make_engine, session_factory

MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = ["alembic_config", "make_engine", "session_factory", "upgrade"]


def alembic_config(engine: Engine | None = None) -> Config:
    return sql_engine.alembic_config(MIGRATIONS, engine)


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the indexer's database to ``revision`` (the latest by default); run at start."""
    sql_engine.upgrade(MIGRATIONS, url_or_engine, revision)
