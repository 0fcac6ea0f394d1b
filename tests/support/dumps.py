"""A whole index as plain values, to compare two indexes row for row."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from indexer.store.models import Base

#: Bookkeeping of how the chain was read (which blocks, which keys), not what it says.
NOT_DERIVED = frozenset(
    {
        "ix_blocks",
        "ix_api_keys",
        "ix_key_audit",
        "ix_checkpoint",
        "ix_participant_profiles",
        "ix_web_sessions",
        "ix_alert_triage",
        "ix_alert_triage_log",
    }
)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every derived table, every row, ordered by primary key, values made comparable."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_DERIVED:
                continue
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = sorted(tuple(_plain(v) for v in row) for row in rows)
    return out
