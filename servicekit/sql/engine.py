"""Engines and sessions from a database URL, and migrating a database with a service's Alembic
migrations folder (the gateway's and the indexer's ``store/engine.py`` name theirs).

SQLite (the default, ``sqlite:///provenance.db``) runs in WAL mode with foreign keys on and
``synchronous=FULL``: an acknowledged capture must survive a power cut, not only a crash of the
process. PostgreSQL URLs use psycopg 3: ``postgresql+psycopg://user@host/db``.

SQLite has one writer at a time. A transaction begun with a plain (deferred) ``BEGIN`` that reads
and then writes must upgrade its read lock to the write lock, and SQLite refuses that upgrade at
once ("database is locked") when another connection writes, whatever the busy timeout: the
busy handler is not called for it. Sessions that write therefore come from
``session_factory(engine, write=True)``, whose transactions begin with ``BEGIN IMMEDIATE``: they
take the write lock first, waiting up to :data:`BUSY_TIMEOUT_SECONDS` for it, and never upgrade.
Read-only sessions keep a deferred ``BEGIN`` so that, under WAL, they read alongside a writer.
On PostgreSQL both kinds are the same.

A SQLite database holds secrets (webhook HMAC secrets, API key hashes), so its file is created
readable and writable by its owner only (0600) before SQLite opens it; SQLite creates the
``-wal`` and ``-shm`` files with the database file's permissions. A file left group- or
world-readable by an earlier version is narrowed to 0600 at start (docs/security.md).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from servicekit.sql.helpers import create_staging, mark_staging_ready

log = logging.getLogger("provenance.store")

#: How long a SQLite connection waits for another's write lock before "database is locked".
BUSY_TIMEOUT_SECONDS = 10.0
#: The execution option that marks a write session's connections (``BEGIN IMMEDIATE``).
WRITE_OPTION = "provenance_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would open transactions on its own (late, and not for SELECTs); switch that off
    # and let SQLAlchemy's "begin" event emit BEGIN, so a transaction covers its reads too.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def owner_only_sqlite_file(database: str) -> None:
    """Create the SQLite file ``database`` 0600 if it is missing, and narrow it (and its -wal and
    -shm files) to 0600 if it is group- or world-accessible. In-memory databases are left alone;
    a missing folder is left for SQLite to report."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    # 0600 from the first byte: a umask only ever removes bits from the mode asked for.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
                log.warning(
                    "%s was readable by others (%o); it is now %o", file, mode, mode & 0o700
                )
        except FileNotFoundError:
            continue


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, real transactions and a file
    readable by its owner only."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        owner_only_sqlite_file(parsed.database or "")
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A write session takes the write lock up front (see the module doc).
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _staging(dbapi_connection: Any, connection_record: Any) -> None:
            create_staging(dbapi_connection)  # the bulk paths' TEMP tables, once per connection
            mark_staging_ready(connection_record)

    return engine


def session_factory(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the repository commits often).

    ``write=True``: sessions for code that writes. On SQLite their transactions begin with
    ``BEGIN IMMEDIATE`` (see the module doc); keep them short, and end a transaction that has
    only read before waiting on anything slow (a node, a webhook), since it holds the write lock.
    Without it, transactions begin deferred: for sessions that only read.
    """
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    return sessionmaker(bind, expire_on_commit=False)


def alembic_config(migrations: Path, engine: Engine | None = None) -> Config:
    """A programmatic Alembic configuration (no alembic.ini) for the ``migrations`` folder."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(migrations: Path, url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the latest by default) with the ``migrations``
    folder's scripts; run at service start."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        command.upgrade(alembic_config(migrations, engine), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
