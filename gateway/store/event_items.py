"""``event_items``: which identifiers each custody-changing event named, in capture order.

Written with the events, in the capture's transaction, for the events the ``pharma`` rules
applied (:func:`insert_event_items`; by ``COPY`` on PostgreSQL, the ``seq`` of each event
answered by the events' own insert); migration 0014 fills it from
the events stored before. Read to undo an event declared erroneous (gateway/store/undo.py):
every event that touched a set of items, and what was ever packed with what.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from medledger.epcis.normalise import NormalisedEvent
from servicekit.sql.helpers import chunks, copy_rows, is_postgresql, key_chunks, member_of

from .models import EventItemRow, EventRow

#: Rows per multi-row INSERT on SQLite.
INSERT_CHUNK = 1000

#: Per event id: each identifier it names and whether as a parent or a child (``packing``).
Touches = Mapping[str, Mapping[str, bool]]


def named_identifiers(event: NormalisedEvent) -> dict[str, bool]:
    """Every instance and class identifier ``event`` names, each with whether it is named as a
    parent or a child (an aggregation's, a transaction's)."""
    named: dict[str, bool] = {}
    for identifier in (*event.epcs, *event.input_epcs, *event.output_epcs):
        named.setdefault(identifier, False)
    for q in (*event.quantities, *event.input_quantities, *event.output_quantities):
        named.setdefault(q.class_id, False)
    for identifier in (*event.child_epcs, *((event.parent_id,) if event.parent_id else ())):
        named[identifier] = True
    return named


def touches(
    events: Sequence[NormalisedEvent], event_ids: Sequence[str]
) -> dict[str, dict[str, bool]]:
    """:func:`named_identifiers` of each event, by event id (the first of an id counts)."""
    found: dict[str, dict[str, bool]] = {}
    for event, event_id in zip(events, event_ids, strict=True):
        found.setdefault(event_id, named_identifiers(event))
    return found


def stored_seqs(
    session: Session, capture_id: uuid.UUID, event_ids: Sequence[str]
) -> dict[str, int]:
    """The ``seq`` of each of these events that the capture ``capture_id`` stored."""
    found: dict[str, int] = {}
    for chunk in key_chunks(session, sorted(set(event_ids))):
        rows = session.execute(
            select(EventRow.event_id, EventRow.seq).where(
                member_of(session, EventRow.event_id, chunk), EventRow.capture_id == capture_id
            )
        )
        found.update((event_id, seq) for event_id, seq in rows)
    return found


def insert_event_items(session: Session, seqs: Mapping[str, int], items: Touches) -> None:
    """Record what each event of ``items`` named, for those this capture stored (``seqs``: their
    sequence numbers; an event a concurrent capture stored first keeps that capture's rows), in
    the caller's transaction: by ``COPY`` on PostgreSQL (the rows are new: no conflict)."""
    rows = [
        (identifier, seqs[event_id], packing)
        for event_id, named in items.items()
        if event_id in seqs
        for identifier, packing in named.items()
    ]
    if not rows:
        return
    if is_postgresql(session):
        copy_rows(session, "event_items", ("identifier", "seq", "packing"), rows).close()
        return
    connection = session.connection()
    for part in chunks(rows, INSERT_CHUNK):
        connection.execute(
            insert(EventItemRow),
            [{"identifier": i, "seq": seq, "packing": packing} for i, seq, packing in part],
        )


def event_seqs(session: Session, identifiers: Iterable[str]) -> set[int]:
    """The events (``seq``) that named any of ``identifiers``."""
    wanted = sorted(set(identifiers))
    found: set[int] = set()
    for chunk in key_chunks(session, wanted):
        found.update(
            session.scalars(
                select(EventItemRow.seq).where(member_of(session, EventItemRow.identifier, chunk))
            )
        )
    return found


def packing_seqs(session: Session, identifiers: Iterable[str]) -> set[int]:
    """The events (``seq``) that named any of ``identifiers`` as a parent or a child."""
    wanted = sorted(set(identifiers))
    found: set[int] = set()
    for chunk in key_chunks(session, wanted):
        found.update(
            session.scalars(
                select(EventItemRow.seq).where(
                    member_of(session, EventItemRow.identifier, chunk),
                    EventItemRow.packing.is_(True),
                )
            )
        )
    return found


def holds_items(session: Session, seq: int, identifiers: Iterable[str]) -> bool:
    """Whether the event ``seq`` has rows here (the ``pharma`` rules applied it)."""
    wanted = sorted(set(identifiers))
    for chunk in key_chunks(session, wanted):
        hit = session.scalar(
            select(EventItemRow.seq)
            .where(EventItemRow.seq == seq, member_of(session, EventItemRow.identifier, chunk))
            .limit(1)
        )
        if hit is not None:
            return True
    return False
