"""The overview's numbers, read from the index in one short transaction: what was anchored and
indexed, events by business step, identifiers by status, alerts by kind and severity, recalls
in force.

Over a large index they cost a scan of every event and every current item version (about
0.8 s over the 1,000,000-event bench index, docs/benchmarks.md), so :class:`OverviewCache`
keeps the last reading: it is exact while the index's checkpoint has not moved (every number
here changes only as blocks are indexed), and is read again when the checkpoint moved and the
reading is older than ``max_age`` seconds; the page says at which block its numbers are."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from indexer.store.models import (
    AlertRow,
    AnchorRow,
    CheckpointRow,
    EventRow,
    ItemVersionRow,
    RecallRow,
)


@dataclass(frozen=True)
class Overview:
    checkpoint: int | None
    anchors_by_status: list[tuple[str, int]]
    events: int
    events_by_step: list[tuple[str, int]]
    items_by_status: list[tuple[str, int]]
    alerts_by_kind: list[tuple[str, str, int]]
    recalls_in_force: int

    @property
    def anchors(self) -> int:
        return sum(n for _, n in self.anchors_by_status)

    @property
    def alerts(self) -> int:
        return sum(n for _, _, n in self.alerts_by_kind)


def _pairs(
    session: Session, column: InstrumentedAttribute[Any], *where: ColumnElement[bool]
) -> list[tuple[str, int]]:
    rows = session.execute(
        select(column, func.count()).where(*where).group_by(column).order_by(func.count().desc())
    )
    return [(str(value) if value is not None else "", int(n)) for value, n in rows]


def read_overview(session: Session) -> Overview:
    checkpoint = _checkpoint(session)
    by_step = _pairs(session, EventRow.biz_step)
    alerts = session.execute(
        select(AlertRow.kind, AlertRow.severity, func.count())
        .group_by(AlertRow.kind, AlertRow.severity)
        .order_by(func.count().desc(), AlertRow.kind)
    )
    return Overview(
        checkpoint=checkpoint,
        anchors_by_status=_pairs(session, AnchorRow.status),
        events=sum(n for _, n in by_step),  # every event has one step or none ("")
        events_by_step=by_step,
        items_by_status=_pairs(session, ItemVersionRow.status, ItemVersionRow.valid_to.is_(None)),
        alerts_by_kind=[(kind, severity, int(n)) for kind, severity, n in alerts],
        recalls_in_force=int(
            session.scalar(select(func.count()).select_from(RecallRow).where(RecallRow.recalled))
            or 0
        ),
    )


def _checkpoint(session: Session) -> int | None:
    found = session.scalar(select(func.max(CheckpointRow.block_number)))
    return int(found) if found is not None else None


def _checkpoint_key(session: Session) -> tuple[int, bytes] | None:
    """The checkpoint's block, number and hash (a reorganisation can index another block of the
    same number)."""
    found = session.execute(select(CheckpointRow.block_number, CheckpointRow.block_hash)).first()
    return (int(found[0]), bytes(found[1])) if found is not None else None


class OverviewCache:
    """The last :func:`read_overview`, served again while the index's checkpoint is the one it
    was read at, or for ``max_age`` seconds after (one reading at a time: a request that finds
    another reading under way waits for it)."""

    def __init__(self, max_age: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Overview | None = None
        self._key: tuple[int, bytes] | None = None
        self._read_at = 0.0
        self.readings = 0  # how many times the numbers were read (tests, metrics)

    def read(self, session: Session) -> Overview:
        with self._lock:
            last = self._last
            if last is not None and self._clock() - self._read_at < self.max_age:
                return last
            key = _checkpoint_key(session)
            if last is not None and key == self._key:
                return last
            self._last, self._key = read_overview(session), key
            self._read_at = self._clock()
            self.readings += 1
            return self._last
