"""One EPC now (its current version, lot, expiry, recall) and every event about it.

An EPC's events are those that name it, and those that name an ancestor (its case, the case's
pallet) while it was inside: what happened to a case happened to its packs. They come back as
the events were anchored (EPCIS JSON), in chain order, in an ``EPCISQueryDocument`` valid under
GS1's schema (``eventID`` added where the event has none; anchors and receipts are not in it:
``GET /events/{eventID}/receipt``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from indexer.queries.common import (
    identifier,
    iso,
    participants,
    recall_json,
    steps,
)
from indexer.queries.events import EPCIS_CONTEXT, declared_later, query_document
from indexer.queries.pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, encode_cursor
from indexer.store.models import EventItemRow, EventRow, ItemVersionRow, LotRow, RecallRow
from indexer.store.state import chunks
from medledger.epcis.event_id import event_id_of
from medledger.errors import NotFoundError

#: How many levels of containers are followed (pack in case in pallet is 2).
ANCESTOR_DEPTH = 4

Window = tuple[int, int | None]  # seq from .. to (inclusive; None: still inside)


def _state_statement() -> Select[Any]:
    wanted: BindParameter[str] = bindparam("identifier")
    inside = aliased(ItemVersionRow)
    children = (
        select(func.count())
        .where(inside.parent == wanted, inside.valid_to.is_(None))
        .scalar_subquery()
    )
    same_lot = (LotRow.gtin == ItemVersionRow.gtin) & (LotRow.lot == ItemVersionRow.lot)
    recall_of_lot = (RecallRow.gtin == ItemVersionRow.gtin) & (RecallRow.lot == ItemVersionRow.lot)
    return (
        select(ItemVersionRow, LotRow.expiry, RecallRow, children)
        .outerjoin(LotRow, same_lot)
        .outerjoin(RecallRow, recall_of_lot)
        .where(ItemVersionRow.identifier == wanted, ItemVersionRow.valid_to.is_(None))
    )


#: The current version with its lot's expiry, its lot's recall and the count of what it
#: contains (built once: building it was much of a call's time).
_STATE = _state_statement()


def epc_state(session: Session, value: str) -> dict[str, Any]:
    """Where an EPC is now, what it is, whether its lot is recalled, and its last event.

    Three statements: the current version with its lot, recall and child count; its last event
    with that event's anchor; the participants."""
    canonical = identifier(value, pointer="epc")
    found = session.execute(_STATE, {"identifier": canonical}).one_or_none()
    if found is None:
        raise NotFoundError(f"{canonical} is not in the index")
    row, expiry, recall, child_count = found
    last = steps(session, [row.event_hash]).get(row.event_hash)
    return {
        "identifier": canonical,
        "status": row.status,
        "holder": row.holder,
        "location": row.location,
        "parent": row.parent,
        "inTransitTo": row.in_transit_to,
        "gtin": row.gtin,
        "lot": row.lot,
        "expiry": iso(expiry) if expiry is not None else None,
        "recalled": bool(recall and recall.recalled),
        "recall": recall_json(recall),
        "childCount": int(child_count or 0),
        "since": iso(row.event_time),
        "lastEvent": last,
        "participants": participants(session, (row.holder, row.in_transit_to)),
    }


def _windows(session: Session, canonical: str) -> dict[str, list[Window]]:
    """For the EPC and each ancestor, the seq windows in which the EPC's events include its own.

    The EPC itself: always. A container: while the EPC (or the container below it) was inside.
    """
    return windows_of(session, [canonical])


def windows_of(session: Session, starts: Iterable[str]) -> dict[str, list[Window]]:
    """:func:`_windows` of several EPCs at once (a lot's packs): each of them always, each
    container while one of them (or a container below it) was inside."""
    windows: dict[str, list[Window]] = {}
    frontier: dict[str, list[Window]] = {start: [(0, None)] for start in starts}
    for _ in range(ANCESTOR_DEPTH):
        if not frontier:
            break
        found: dict[str, list[Window]] = {}
        for part in chunks(sorted(frontier)):
            rows = session.execute(
                select(
                    ItemVersionRow.identifier,
                    ItemVersionRow.valid_from,
                    ItemVersionRow.valid_to,
                    ItemVersionRow.parent,
                )
                .where(ItemVersionRow.identifier.in_(part), ItemVersionRow.parent.is_not(None))
                .order_by(ItemVersionRow.valid_from)
            )
            for child, start, end, parent in rows:
                for lo, hi in frontier[child]:
                    a = max(start, lo)
                    b = end if hi is None else (hi if end is None else min(end, hi))
                    if parent is not None and (b is None or a <= b):
                        found.setdefault(parent, []).append((a, b))
        for key, value in frontier.items():
            windows.setdefault(key, []).extend(value)
        frontier = {k: v for k, v in found.items() if k not in windows}
    for key, value in frontier.items():
        windows.setdefault(key, []).extend(value)
    return windows


def window_seqs(session: Session, windows: dict[str, list[Window]]) -> set[int]:
    """The seqs of the events the windows take in (an EPC's events, as :func:`epc_window`'s
    condition does, read in chunks of identifiers instead of one statement)."""
    whole = sorted(i for i, spans in windows.items() if (0, None) in spans)
    partial = {i: spans for i, spans in windows.items() if (0, None) not in spans}
    out: set[int] = set()
    for part in chunks(whole):
        out.update(
            session.scalars(select(EventItemRow.seq).where(EventItemRow.identifier.in_(part)))
        )
    for part in chunks(sorted(partial)):
        for ident, seq in session.execute(
            select(EventItemRow.identifier, EventItemRow.seq).where(
                EventItemRow.identifier.in_(part)
            )
        ):
            if any(lo <= seq and (hi is None or seq <= hi) for lo, hi in partial[ident]):
                out.add(seq)
    return out


def epc_window(
    session: Session, value: str, visible: ColumnElement[bool] | None = None
) -> tuple[str, ColumnElement[bool]]:
    """The canonical EPC and the condition its events meet (see the module docstring): events
    naming it, or one of its containers while it was inside, and meeting ``visible`` (a
    restricted reader's events: indexer/queries/visibility.py). 404 when no event names it, or
    none of them is visible: the same answer, so a reader cannot tell an EPC exists."""
    canonical = identifier(value, pointer="epc")
    if (
        session.scalar(
            select(EventItemRow.seq).where(EventItemRow.identifier == canonical).limit(1)
        )
        is None
    ):
        raise NotFoundError(f"no event names {canonical}")
    conditions = []
    for ident, spans in _windows(session, canonical).items():
        for lo, hi in spans:
            condition = and_(EventItemRow.identifier == ident, EventItemRow.seq >= lo)
            if hi is not None:
                condition = and_(condition, EventItemRow.seq <= hi)
            conditions.append(condition)
    seqs = select(EventItemRow.seq).where(or_(*conditions))
    window: ColumnElement[bool] = EventRow.seq.in_(seqs.distinct())
    if visible is None:
        return canonical, window
    window = and_(window, visible)
    if session.scalar(select(EventRow.seq).where(window).limit(1)) is None:
        raise NotFoundError(f"no event names {canonical}")
    return canonical, window


def epc_events(
    session: Session,
    value: str,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    visible: ColumnElement[bool] | None = None,
) -> Page:
    """The EPC's events (see the module docstring), in chain order, a page at a time; only
    those meeting ``visible`` if given."""
    check_limit(limit)
    after = decode_cursor("events", cursor, (int,))
    _canonical, window = epc_window(session, value, visible)
    wanted = (
        select(EventRow.seq, EventRow.event_hash, EventRow.raw)
        .where(window, *([EventRow.seq > after[0]] if after is not None else []))
        .order_by(EventRow.seq)
        .limit(limit + 1)
    )
    rows = list(session.execute(wanted))
    more = len(rows) > limit
    rows = rows[:limit]
    events: list[dict[str, Any]] = []
    declared: list[tuple[bytes, dict[str, Any]]] = []
    for r in rows:
        event: dict[str, Any] = json.loads(r.raw)
        declared.append((r.event_hash, event))
        if event.get("@context") == EPCIS_CONTEXT:
            # the query document's context; any other (a prefix of the event's document or its
            # own) stays on the event, as JSON-LD scoping allows, so the event still hashes to
            # its eventID from this page
            del event["@context"]
        event.setdefault("eventID", event_id_of(r.event_hash))
        events.append(event)
    later = declared_later(session, [h for h, _ in declared])
    for event_hash, event in declared:  # as GET /events serves a declared event
        if "errorDeclaration" not in event and event_hash in later:
            event["errorDeclaration"] = later[event_hash][-1]
    page = Page(events, encode_cursor("events", [rows[-1].seq]) if more and rows else None)
    page.extra = query_document(events)
    return page
