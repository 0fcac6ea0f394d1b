"""Held-back events (``ix_pending``): read for the projection, written after it.

See :class:`indexer.store.models.PendingRow` and the module docstring of
:mod:`indexer.projection` for why events are held back and when they are judged.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from indexer.projection import PendingEvent, Projection
from indexer.store.models import PendingRow
from indexer.store.state import pending_event, pending_query


def any_open(session: Session) -> bool:
    """Whether any held-back event waits (most batches: none, and no lookups are needed)."""
    found = session.scalar(
        select(PendingRow.identifier).where(PendingRow.resolved_block.is_(None)).limit(1)
    )
    return found is not None


def due(session: Session, now: int) -> list[PendingEvent]:
    """The held-back events whose settle window has passed by chain time ``now``."""
    query = pending_query().where(PendingRow.resolved_block.is_(None), PendingRow.due <= now)
    return [pending_event(row) for row in session.execute(query)]


def write(session: Session, projection: Projection, block_number: int, due_at: int) -> None:
    """Store what the projection held back (settled at ``due_at``) and resolved."""
    if projection.held:
        session.execute(
            insert(PendingRow),
            [
                {
                    "event_hash": h.event_hash,
                    "identifier": h.identifier,
                    "reason": h.reason,
                    "seq": h.seq,
                    "event_time": h.event_time,
                    "due": due_at,
                    "block_number": block_number,
                    "resolved_block": None,
                    "outcome": None,
                }
                for h in projection.held
            ],
        )
    if projection.resolved:
        table = PendingRow.__table__.c
        session.connection().execute(
            update(PendingRow.__table__)  # type: ignore[arg-type]
            .where(
                table.event_hash == bindparam("b_hash"),
                table.identifier == bindparam("b_identifier"),
            )
            .values(resolved_block=block_number, outcome=bindparam("b_outcome")),
            [
                {"b_hash": key[0], "b_identifier": key[1], "b_outcome": outcome}
                for key, outcome in projection.resolved
            ],
        )


def waiting(session: Session) -> Sequence[PendingRow]:
    """Every held-back event still waiting, oldest first (operators, tests)."""
    return session.scalars(
        select(PendingRow)
        .where(PendingRow.resolved_block.is_(None))
        .order_by(PendingRow.event_time, PendingRow.seq)
    ).all()
