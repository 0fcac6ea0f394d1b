"""Engines and sessions from a database URL, and migrating a database to the current schema.

SQLite (the default, ``sqlite:///provenance.db``) runs in WAL mode with foreign keys on and
``synchronous=FULL``: an acknowledged capture must survive a power cut, not only a crash of the
process. PostgreSQL URLs use psycopg 3: ``postgresql+psycopg://user@host/db``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ._sql import create_staging, mark_staging_ready

DEFAULT_URL = "sqlite:///provenance.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would open transactions on its own (late, and not for SELECTs); switch that off
    # and let SQLAlchemy's "begin" event emit BEGIN, so a transaction covers its reads too.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and real transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _staging(dbapi_connection: Any, connection_record: Any) -> None:
            create_staging(dbapi_connection)  # the bulk paths' TEMP tables, once per connection
            mark_staging_ready(connection_record)

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the repository commits often)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None) -> Config:
    """A programmatic Alembic configuration (no alembic.ini) for our migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(url_or_engine: str | Engine = DEFAULT_URL, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the latest by default); run at service start."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        command.upgrade(alembic_config(engine), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
