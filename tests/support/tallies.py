"""The overview's counts against a recount of what the index holds (indexer/store/tallies.py).

:func:`assert_tallies_recount` checks, on any index, that

- every block's event tallies equal its events counted by UTC day and business step;
- every block's item tallies equal the current versions it left minus those it closed (a
  version closed at a sequence number of block ``valid_to // SEQ_BLOCK``), and their sums the
  current versions by status;
- ``dashboard.overview.read_overview`` gives the numbers a recount of the events and versions
  gives (by step, by status, and per day over its window).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dashboard.overview import read_overview
from indexer.store.models import (
    SEQ_BLOCK,
    EventRow,
    EventTallyRow,
    ItemTallyRow,
    ItemVersionRow,
)
from servicekit.sql.helpers import is_postgresql


def _day(session: Session) -> Any:
    if is_postgresql(session):
        return func.date(func.timezone("UTC", EventRow.event_time))
    return func.date(EventRow.event_time)  # SQLite keeps the UTC time as text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def recounted_events(session: Session) -> dict[tuple[int, date, str], int]:
    """Events per block, UTC day and step, counted from ``ix_events``."""
    day = _day(session)
    rows = session.execute(
        select(EventRow.block_number, day, EventRow.biz_step, func.count()).group_by(
            EventRow.block_number, day, EventRow.biz_step
        )
    )
    return {(int(b), _as_date(d), s or ""): int(n) for b, d, s, n in rows}


def recounted_item_changes(session: Session) -> dict[tuple[int, str], int]:
    """Per block and status: versions it wrote minus versions it closed (0s left out)."""
    out: Counter[tuple[int, str]] = Counter()
    rows = session.execute(
        select(ItemVersionRow.block_number, ItemVersionRow.valid_to, ItemVersionRow.status)
    )
    for block, valid_to, status in rows:
        out[(int(block), status)] += 1
        if valid_to is not None:
            out[(int(valid_to) // SEQ_BLOCK, status)] -= 1
    return {key: n for key, n in out.items() if n}


def recounted_statuses(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ItemVersionRow.status, func.count())
        .where(ItemVersionRow.valid_to.is_(None))
        .group_by(ItemVersionRow.status)
    )
    return {status: int(n) for status, n in rows}


def assert_tallies_recount(engine: Engine) -> None:
    with Session(engine) as session:
        events = {
            (int(t.block_number), _as_date(t.day), t.biz_step): int(t.events)
            for t in session.scalars(select(EventTallyRow))
            if t.events
        }
        assert events == recounted_events(session)
        items = {
            (int(t.block_number), t.status): int(t.delta)
            for t in session.scalars(select(ItemTallyRow))
            if t.delta
        }
        assert items == recounted_item_changes(session)
        statuses = recounted_statuses(session)
        seen = read_overview(session)
        assert dict(seen.items_by_status) == statuses
        assert [n for _, n in seen.items_by_status] == sorted(statuses.values(), reverse=True)
        by_step: Counter[str] = Counter()
        by_day: Counter[tuple[date, str]] = Counter()
        for (_, day, step), n in recounted_events(session).items():
            by_step[step] += n
            by_day[(day, step)] += n
        assert dict(seen.events_by_step) == dict(by_step)
        assert seen.events == sum(by_step.values())
        if seen.daily is None:
            assert not by_day
        else:
            window = set(seen.daily.days)
            assert seen.daily.counts == {k: n for k, n in by_day.items() if k[0] in window}
