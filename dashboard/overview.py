"""The overview's numbers, read from the index in one short transaction: what was anchored and
indexed and the gas it cost, events by business step (in all, and per day over the last
:data:`DAYS` days), identifiers by status, open alerts (not resolved) by kind and severity,
recalls in force.

Every window is measured on the index's own clock, the checkpoint block's timestamp, never the
wall clock: so the numbers are a function of what is indexed, and the cache below stays exact.
The per-day window ends on the day of the latest event time indexed, no later than the
checkpoint's day (an event dated ahead of the chain does not move it); batches "in the last 24
hours" are those anchored in blocks of the 24 hours before the checkpoint block. Gas is
each anchoring transaction's ``gasUsed`` (``ix_anchors.gas_used``, from its receipt), summed
once per transaction; batches indexed before the indexer read receipts have none, and the
page says how many.

Events and items are counted from the per-block tallies the indexer keeps as it writes
(indexer/store/tallies.py: a few rows per block), not from the events and versions themselves
(a scan of a million rows, about a second); anchors, alerts and recalls are read from their own
tables, a row per batch, alert and lot. :class:`OverviewCache` keeps the last reading: it is
exact while the index's checkpoint has not moved (every number here but the open alerts changes
only as blocks are indexed), and is read again when the checkpoint moved and the reading is
older than ``max_age`` seconds; the page says at which block its numbers are. The open alerts
are read on every view (a regulator's triage changes them, not the chain: one grouped query
over the alerts and their triage)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dashboard.triage import RESOLVED
from indexer.store.models import (
    AlertRow,
    AlertTriageRow,
    AnchorRow,
    BlockRow,
    CheckpointRow,
    EventTallyRow,
    ItemTallyRow,
    RecallRow,
)

#: the days the per-day chart shows, the last one included
DAYS = 14
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Daily:
    """Events per day and business step over ``days`` (oldest first); ``counts`` holds only the
    (day, step) pairs that have events."""

    days: list[date]
    counts: dict[tuple[date, str], int] = field(default_factory=dict)

    @property
    def steps(self) -> list[str]:
        """The steps seen, most events first (then by name)."""
        totals: dict[str, int] = {}
        for (_, step), n in self.counts.items():
            totals[step] = totals.get(step, 0) + n
        return sorted(totals, key=lambda step: (-totals[step], step))

    def on(self, day: date) -> list[int]:
        """The day's counts, one per :attr:`steps`."""
        return [self.counts.get((day, step), 0) for step in self.steps]

    def total(self, day: date) -> int:
        return sum(self.on(day))

    @property
    def top(self) -> int:
        """The busiest day's events (at least 1: the chart's scale)."""
        return max([self.total(day) for day in self.days] + [1])


@dataclass(frozen=True)
class Anchoring:
    """Batches anchored and the events in them, in all and in the 24 hours to the checkpoint."""

    batches: int = 0
    events: int = 0
    batches_last_day: int = 0
    events_last_day: int = 0
    #: gas used by the anchoring transactions (each counted once), in all and in the last day
    gas: int = 0
    gas_last_day: int = 0
    #: batches whose gas is not known (indexed before the indexer read receipts)
    without_gas: int = 0

    @property
    def gas_per_batch(self) -> int | None:
        """The mean gas of the batches whose gas is known (None: none is)."""
        known = self.batches - self.without_gas
        return round(self.gas / known) if known > 0 else None


@dataclass(frozen=True)
class Overview:
    checkpoint: int | None
    anchors_by_status: list[tuple[str, int]]
    events: int
    events_by_step: list[tuple[str, int]]
    items_by_status: list[tuple[str, int]]
    alerts_by_kind: list[tuple[str, str, int]]
    recalls_in_force: int
    anchoring: Anchoring = Anchoring()
    daily: Daily | None = None  # no event indexed yet: no chart

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


def _sums(
    session: Session, column: InstrumentedAttribute[Any], counted: InstrumentedAttribute[Any]
) -> list[tuple[str, int]]:
    """Tallies summed per ``column``, largest first (sums of 0 left out)."""
    total = func.sum(counted)
    rows = session.execute(
        select(column, total).group_by(column).having(total != 0).order_by(total.desc(), column)
    )
    return [(str(value), int(n)) for value, n in rows]


def read_overview(session: Session) -> Overview:
    checkpoint = _checkpoint(session)
    now = _index_time(session, checkpoint)
    by_step = _sums(session, EventTallyRow.biz_step, EventTallyRow.events)
    return Overview(
        checkpoint=checkpoint,
        anchors_by_status=_pairs(session, AnchorRow.status),
        events=sum(n for _, n in by_step),  # every event has one step or none ("")
        events_by_step=by_step,
        items_by_status=_sums(session, ItemTallyRow.status, ItemTallyRow.delta),
        alerts_by_kind=open_alerts(session),
        recalls_in_force=int(
            session.scalar(select(func.count()).select_from(RecallRow).where(RecallRow.recalled))
            or 0
        ),
        anchoring=_anchoring(session, now),
        daily=_daily(session, now),
    )


def open_alerts(session: Session) -> list[tuple[str, str, int]]:
    """Alerts nobody resolved (no triage, or open, acknowledged or assigned), counted by kind
    and severity, most first. A triage changes them without moving the checkpoint: the cache
    reads them again on every view."""
    triage = AlertTriageRow
    rows = session.execute(
        select(AlertRow.kind, AlertRow.severity, func.count())
        .outerjoin(triage, triage.alert_key == AlertRow.key)
        .where(or_(triage.state.is_(None), triage.state != RESOLVED))
        .group_by(AlertRow.kind, AlertRow.severity)
        .order_by(func.count().desc(), AlertRow.kind, AlertRow.severity)
    )
    return [(kind, severity, int(n)) for kind, severity, n in rows]


def _index_time(session: Session, checkpoint: int | None) -> int | None:
    """The checkpoint block's timestamp (the index's clock), else the latest anchor's."""
    found = None
    if checkpoint is not None:
        found = session.scalar(select(BlockRow.timestamp).where(BlockRow.number == checkpoint))
    if found is None:
        found = session.scalar(select(func.max(AnchorRow.block_timestamp)))
    return int(found) if found is not None else None


def _anchoring(session: Session, now: int | None) -> Anchoring:
    since = (now if now is not None else 0) - DAY_SECONDS
    recent = AnchorRow.block_timestamp > since
    batches, events, batches_last_day, events_last_day, without_gas = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(AnchorRow.event_count), 0),
            func.count().filter(recent),
            func.coalesce(func.sum(AnchorRow.event_count).filter(recent), 0),
            func.count().filter(AnchorRow.gas_used.is_(None)),
        )
    ).one()
    # a transaction's gas once, however many batches it anchored
    per_tx = (
        select(
            func.max(AnchorRow.gas_used).label("gas"),
            func.max(AnchorRow.block_timestamp).label("at"),
        )
        .where(AnchorRow.gas_used.is_not(None))
        .group_by(AnchorRow.tx_hash)
        .subquery()
    )
    gas, gas_last_day = session.execute(
        select(
            func.coalesce(func.sum(per_tx.c.gas), 0),
            func.coalesce(func.sum(per_tx.c.gas).filter(per_tx.c.at > since), 0),
        )
    ).one()
    return Anchoring(
        int(batches),
        int(events),
        int(batches_last_day),
        int(events_last_day),
        gas=int(gas),
        gas_last_day=int(gas_last_day),
        without_gas=int(without_gas),
    )


def _daily(session: Session, now: int | None) -> Daily | None:
    """The window's tallies, summed per day and step (bounded on ``day``, its index)."""
    t = EventTallyRow
    latest = session.scalar(select(func.max(t.day)).where(t.events != 0))
    if latest is None:
        return None
    last = latest if isinstance(latest, date) else date.fromisoformat(str(latest)[:10])
    if now is not None:
        last = min(last, datetime.fromtimestamp(now, UTC).date())
    days = [last - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    total = func.sum(t.events)
    rows = session.execute(
        select(t.day, t.biz_step, total)
        .where(t.day >= days[0], t.day <= last)
        .group_by(t.day, t.biz_step)
        .having(total != 0)
    )
    counts = {(date.fromisoformat(str(on)[:10]), step): int(n) for on, step, n in rows}
    return Daily(days, counts)


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
    was read at, or for ``max_age`` seconds after, with its open alerts read again (one reading
    at a time: a request that finds another reading under way waits for it)."""

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
            fresh = last is not None and self._clock() - self._read_at < self.max_age
            key = None if fresh else _checkpoint_key(session)
            if last is not None and (fresh or key == self._key):
                return replace(last, alerts_by_kind=open_alerts(session))
            self._last, self._key = read_overview(session), key
            self._read_at = self._clock()
            self.readings += 1
            return self._last
