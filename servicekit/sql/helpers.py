"""Small helpers shared by the repository modules.

Bulk work on PostgreSQL takes two shortcuts that keep each statement's text constant and short
(so psycopg and the server parse and plan it once, not once per document):

- a set of keys is one array parameter, ``column = ANY(:keys)``, instead of ``IN (...)`` lists
  of a thousand placeholders each;
- many rows go in with ``COPY`` into a per-connection staging table (``TEMP``, emptied at every
  commit) and then one ``INSERT ... SELECT ... ON CONFLICT``, so a conflict is still resolved by
  the database exactly as with ``INSERT ... VALUES``. psycopg writes ``COPY`` rows in C.

SQLite keeps ``IN`` lists of at most :data:`CHUNK` values and ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session

T = TypeVar("T")

#: Values per ``IN (...)`` list: well below SQLite's and PostgreSQL's bind-parameter limits.
CHUNK = 1000

#: Staging tables of the PostgreSQL bulk paths: name -> column definitions (``ord`` keeps the
#: callers' order, which ``events.seq`` must follow).
STAGING: dict[str, str] = {
    "staged_events": "ord integer, event_id text, event_hash bytea, salt bytea, "
    "participant text, capture_id uuid, raw text, event_time timestamptz, type text, "
    "biz_step text, received_at timestamptz",
    "staged_items": "identifier text, status text, holder text, location text, parent text, "
    "gtin text, lot text, in_transit_to text, commissioned_by text, event_time timestamptz",
}
_STAGING_READY = "provenance_staging"


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def key_chunks(session: Session, values: Sequence[T]) -> Iterator[Sequence[T]]:
    """The groups of keys to look up per query: all at once on PostgreSQL (an array parameter)."""
    if is_postgresql(session):
        if values:
            yield values
        return
    yield from chunks(values)


def member_of(
    session: Session, column: InstrumentedAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column`` is one of ``values``: ``= ANY(array)`` on PostgreSQL, ``IN (...)`` elsewhere."""
    if is_postgresql(session):
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)
    return column.in_(values)


def upsert_insert(session: Session, table: type[DeclarativeBase]) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the session's dialect (SQLite or PostgreSQL)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {name}")


def create_staging(dbapi_connection: Any) -> None:
    """Create the staging tables on a new PostgreSQL connection (engine ``connect`` event)."""
    with dbapi_connection.cursor() as cursor:
        for name, columns in STAGING.items():
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS"
            )
    dbapi_connection.commit()


@contextmanager
def driver_errors(statement: str) -> Iterator[None]:
    """Raise what SQLAlchemy would for a psycopg error on a raw cursor (``IntegrityError``...)."""
    import psycopg  # PostgreSQL only

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def execute_raw(cursor: Any, statement: str) -> int:
    """Run ``statement`` on a raw cursor of the session's connection; its row count."""
    with driver_errors(statement):
        cursor.execute(statement)
    return int(cursor.rowcount)


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Any:
    """``COPY`` ``rows`` into ``table`` in the session's transaction (PostgreSQL); the cursor.

    Uses the session's own connection, so the rows commit or roll back with everything else.
    A staging table is then emptied by the statement that reads it
    (``WITH moved AS (DELETE FROM staged_... RETURNING *) INSERT ... SELECT ... FROM moved``),
    so two bulk writes in one transaction never see each other's rows.
    """
    connection = session.connection()
    record_info = connection.connection.info
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if table in STAGING and not record_info.get(_STAGING_READY):
        # A connection not made by make_engine: create it here, inside this transaction.
        execute_raw(
            cursor,
            f"CREATE TEMP TABLE IF NOT EXISTS {table} ({STAGING[table]}) ON COMMIT DELETE ROWS",
        )
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver_errors(statement), cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
    return cursor


def driver_connection(session: Session) -> Any:
    """The session's own driver connection (psycopg), in its transaction."""
    return session.connection().connection.driver_connection


def copy_text(connection: Any, table: str, columns: Sequence[str], data: bytes) -> None:
    """``COPY`` ready-made text lines (see ``indexer.store.copy_text``) into ``table`` on a
    driver connection (:func:`driver_connection`; PostgreSQL): only the driver is used, so it
    may run in another thread while the session waits."""
    cursor = connection.cursor()
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver_errors(statement), cursor.copy(statement) as copy:
        copy.write(data)


def mark_staging_ready(connection_record: Any) -> None:
    connection_record.info[_STAGING_READY] = True


def require_aware(moment: datetime) -> datetime:
    """What :class:`~servicekit.sql.types.UtcDateTime` checks, for rows that bypass it (COPY)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store keeps UTC-aware timestamps")
    return moment.astimezone(UTC)
