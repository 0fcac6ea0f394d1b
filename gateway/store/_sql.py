"""Small helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Base

T = TypeVar("T")

#: Values per ``IN (...)`` list: well below SQLite's and PostgreSQL's bind-parameter limits.
CHUNK = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def upsert_insert(session: Session, table: type[Base]) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the session's dialect (SQLite or PostgreSQL)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {name}")
