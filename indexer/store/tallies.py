"""The overview's counts, kept per block as the index is written (dashboard/overview.py).

Counting every event by business step and every current item version by status costs a scan
of the largest tables (about a second over a million events), so the writers keep the counts
in two small derived tables, in the same transaction as the rows they count:

- ``ix_event_tallies``: events indexed per block, UTC day of their ``eventTime`` and business
  step (:func:`add_events`, called with the batch's inserted events);
- ``ix_item_tallies``: per block and status, how many current item versions the block added
  (+1 for a version left current) and closed (-1 for a stored current version it closed):
  :func:`item_deltas` of a projection's writes, and the error-declaration undo's
  (indexer/store/undo.py).

Like every derived row they carry their block: a rollback deletes the tallies of the orphaned
blocks exactly as it deletes their events and versions and re-opens what they closed, so the
sums stay equal to a recount (tests/indexer/store/test_tallies.py). A block's rows are
upserted (several batches of one block add to the same rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from indexer.store.models import EventTallyRow, ItemTallyRow
from servicekit.sql.helpers import is_postgresql

#: an event's tally key: the UTC day of its eventTime and its business step ("" none)
EventKey = tuple[date, str]


def event_key(event_time: datetime, biz_step: str | None) -> EventKey:
    """Where an event is counted (the day as PostgreSQL's ``date(timezone('UTC', t))``)."""
    return event_time.astimezone(UTC).date(), biz_step or ""


def item_deltas(changes: Iterable[tuple[str | None, str | None]]) -> Counter[str]:
    """Per status, current versions added minus closed, from ``(closed, left)`` pairs: the
    status of the stored current version an identifier's write closed (None: none), and of the
    version it left current (None: none)."""
    out: Counter[str] = Counter()
    for closed, left in changes:
        if closed is not None:
            out[closed] -= 1
        if left is not None:
            out[left] += 1
    return out


def add_events(session: Session, block_number: int, counts: Mapping[EventKey, int]) -> None:
    rows = [
        {"block_number": block_number, "day": day, "biz_step": step, "events": n}
        for (day, step), n in sorted(counts.items())
        if n
    ]
    _upsert(session, EventTallyRow, ("block_number", "day", "biz_step"), "events", rows)


def add_items(session: Session, block_number: int, deltas: Mapping[str, int]) -> None:
    rows = [
        {"block_number": block_number, "status": status, "delta": n}
        for status, n in sorted(deltas.items())
        if n
    ]
    _upsert(session, ItemTallyRow, ("block_number", "status"), "delta", rows)


def _upsert(
    session: Session, model: Any, keys: tuple[str, ...], counted: str, rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    table: Any = model.__table__
    insert: Any = postgresql_insert(table) if is_postgresql(session) else sqlite_insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={counted: table.c[counted] + insert.excluded[counted]},
    )
    session.execute(statement, rows)
