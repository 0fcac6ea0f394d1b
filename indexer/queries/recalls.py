"""Recalls: the registry's recall state of each lot, and the scope of a recall (every pack of the
lot, its status and who holds it now)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from chain.errors import NotFoundError
from indexer.queries.common import iso, participants, recall_json
from indexer.queries.pages import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    page_of,
)
from indexer.store.models import ItemVersionRow, LotRow, RecallRow

#: A recall scope may be walked in pages of up to this many packs.
SCOPE_MAX_LIMIT = 10_000


def holder_status_summary(session: Session, gtin: str, lot: str) -> list[dict[str, Any]]:
    """Counts of the lot's items now, by holder and status (one grouped query)."""
    rows = session.execute(
        select(ItemVersionRow.holder, ItemVersionRow.status, func.count())
        .where(
            ItemVersionRow.valid_to.is_(None),
            ItemVersionRow.gtin == gtin,
            ItemVersionRow.lot == lot,
        )
        .group_by(ItemVersionRow.holder, ItemVersionRow.status)
        .order_by(ItemVersionRow.holder, ItemVersionRow.status)
    )
    return [{"holder": h, "status": s, "count": int(n)} for h, s, n in rows]


def scope(
    session: Session,
    gtin: str,
    lot: str,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Every item of the lot now (by identifier), with a summary and the lot's recall state."""
    check_limit(limit, SCOPE_MAX_LIMIT)
    after = decode_cursor("scope", cursor, (str,))
    lot_row = session.get(LotRow, (gtin, lot))
    if lot_row is None:
        raise NotFoundError(f"lot {lot} of GTIN {gtin} is not in the index")
    # Plain rows, not ORM objects: a scope is up to 10,000 of them (objects cost ~20 µs each).
    query = select(
        ItemVersionRow.identifier,
        ItemVersionRow.status,
        ItemVersionRow.holder,
        ItemVersionRow.location,
        ItemVersionRow.parent,
        ItemVersionRow.in_transit_to,
        ItemVersionRow.event_time,
    ).where(
        ItemVersionRow.valid_to.is_(None),
        ItemVersionRow.gtin == gtin,
        ItemVersionRow.lot == lot,
    )
    if after is not None:
        query = query.where(ItemVersionRow.identifier > after[0])
    rows = list(session.execute(query.order_by(ItemVersionRow.identifier).limit(limit + 1)))
    page = page_of(
        rows,
        limit,
        "scope",
        lambda r: [r.identifier],
        lambda r: {
            "identifier": r.identifier,
            "status": r.status,
            "holder": r.holder,
            "location": r.location,
            "parent": r.parent,
            "inTransitTo": r.in_transit_to,
            "eventTime": iso(r.event_time),
        },
    )
    summary = holder_status_summary(session, gtin, lot)
    page.extra = {
        "gtin": gtin,
        "lot": lot,
        "expiry": iso(lot_row.expiry),
        "commissionedBy": lot_row.commissioned_by,
        "recall": recall_json(session.get(RecallRow, (gtin, lot))),
        "total": sum(s["count"] for s in summary),
        "summary": summary,
        "participants": participants(session, (s["holder"] for s in summary)),
    }
    return page


def list_recalls(
    session: Session,
    *,
    recalled: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """The registry's batches and their recall state, by GTIN and lot."""
    check_limit(limit, MAX_LIMIT)
    after = decode_cursor("recalls", cursor, (str, str))
    query = select(RecallRow)
    if recalled is not None:
        query = query.where(RecallRow.recalled == recalled)
    if after is not None:
        query = query.where(tuple_(RecallRow.gtin, RecallRow.lot) > tuple_(after[0], after[1]))
    rows = list(session.scalars(query.order_by(RecallRow.gtin, RecallRow.lot).limit(limit + 1)))
    return page_of(rows, limit, "recalls", lambda r: [r.gtin, r.lot], recall_json)
