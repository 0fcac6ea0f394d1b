"""The overview's numbers, read from the index in one short transaction: what was anchored and
indexed, events by business step, identifiers by status, alerts by kind and severity, recalls
in force."""

from __future__ import annotations

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
    checkpoint = session.scalar(select(func.max(CheckpointRow.block_number)))
    alerts = session.execute(
        select(AlertRow.kind, AlertRow.severity, func.count())
        .group_by(AlertRow.kind, AlertRow.severity)
        .order_by(func.count().desc(), AlertRow.kind)
    )
    return Overview(
        checkpoint=int(checkpoint) if checkpoint is not None else None,
        anchors_by_status=_pairs(session, AnchorRow.status),
        events=int(session.scalar(select(func.count()).select_from(EventRow)) or 0),
        events_by_step=_pairs(session, EventRow.biz_step),
        items_by_status=_pairs(session, ItemVersionRow.status, ItemVersionRow.valid_to.is_(None)),
        alerts_by_kind=[(kind, severity, int(n)) for kind, severity, n in alerts],
        recalls_in_force=int(
            session.scalar(select(func.count()).select_from(RecallRow).where(RecallRow.recalled))
            or 0
        ),
    )
