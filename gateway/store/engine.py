"""The gateway's database: its default URL and its migrations (engines: servicekit.sql.engine)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine

from servicekit.sql import engine as sql_engine
from servicekit.sql.engine import make_engine, session_factory

DEFAULT_URL = "sqlite:///provenance.db"
MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = ["DEFAULT_URL", "alembic_config", "make_engine", "session_factory", "upgrade"]


def alembic_config(engine: Engine | None = None) -> Config:
    return sql_engine.alembic_config(MIGRATIONS, engine)


def upgrade(url_or_engine: str | Engine = DEFAULT_URL, revision: str = "head") -> None:
    """Bring the gateway's database to ``revision`` (the latest by default); run at start."""
    sql_engine.upgrade(MIGRATIONS, url_or_engine, revision)
