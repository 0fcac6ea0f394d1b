"""The gateway's database: its default URL and its migrations (engines: servicekit.sql.engine)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine

from gateway.store.partitions import ensure_partitions
from servicekit.sql import engine as sql_engine
from servicekit.sql.engine import make_engine, session_factory

DEFAULT_URL = "sqlite:///provenance.db"
MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = ["DEFAULT_URL", "alembic_config", "make_engine", "session_factory", "upgrade"]


def alembic_config(engine: Engine | None = None) -> Config:
    return sql_engine.alembic_config(MIGRATIONS, engine)


def upgrade(url_or_engine: str | Engine = DEFAULT_URL, revision: str = "head") -> None:
    """Bring the gateway's database to ``revision`` (the latest by default); run at start. On
    PostgreSQL, also the month partitions of ``events`` ahead (gateway/store/partitions.py)."""
    sql_engine.upgrade(MIGRATIONS, url_or_engine, revision)
    if revision != "head":
        return
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.begin() as connection:
            ensure_partitions(connection)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
