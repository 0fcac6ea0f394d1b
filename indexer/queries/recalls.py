"""Recalls: the registry's recall state of each lot, and the scope of a recall (every pack of the
lot, its status and who holds it now)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, TextClause, func, or_, select, text, tuple_
from sqlalchemy.orm import Session

from indexer.queries.common import iso, participants, recall_json
from indexer.queries.masterdata import location_facts, product_facts
from indexer.queries.pages import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    page_of,
)
from indexer.queries.regions import sites_in
from indexer.queries.scope import EVERYTHING, Scope
from indexer.store.models import ItemVersionRow, LotRow, MasterDataRow, RecallRow
from medledger.errors import NotFoundError

#: A recall scope may be walked in pages of up to this many packs.
SCOPE_MAX_LIMIT = 10_000


def holder_status_summary(
    session: Session,
    gtin: str,
    lot: str,
    held_by: list[str] | None = None,
    located: ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """Counts of the lot's items now, by holder and status (one grouped query); ``held_by``:
    only these holders' (a region's scope); ``located``: only the items meeting it (at a
    region's locations, ``?region=``)."""
    query = select(ItemVersionRow.holder, ItemVersionRow.status, func.count()).where(
        ItemVersionRow.valid_to.is_(None),
        ItemVersionRow.gtin == gtin,
        ItemVersionRow.lot == lot,
    )
    if held_by is not None:
        query = query.where(ItemVersionRow.holder.in_(held_by))
    if located is not None:
        query = query.where(located)
    rows = session.execute(
        query.group_by(ItemVersionRow.holder, ItemVersionRow.status).order_by(
            ItemVersionRow.holder, ItemVersionRow.status
        )
    )
    return [{"holder": h, "status": s, "count": int(n)} for h, s, n in rows]


def scope(
    session: Session,
    gtin: str,
    lot: str,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    within: Scope = EVERYTHING,
    region: str | None = None,
) -> Page:
    """Every item of the lot now (by identifier), with a summary and the lot's recall state; a
    region's ``scope``: only the items its participants hold; ``region``: only the items at
    locations master data places there (as ``/stock?region=``)."""
    check_limit(limit, SCOPE_MAX_LIMIT)
    after = decode_cursor("scope", cursor, (str,))
    lot_row = _lot(session, gtin, lot)
    held_by = within.participants(session)
    # Plain rows, not ORM objects: a scope is up to 10,000 of them (objects cost ~20 µs each).
    v = ItemVersionRow
    query = select(
        v.identifier, v.status, v.holder, v.location, v.parent, v.in_transit_to, v.event_time
    ).where(v.valid_to.is_(None), v.gtin == gtin, v.lot == lot)
    if after is not None:
        query = query.where(v.identifier > after[0])
    if held_by is not None:
        query = query.where(v.holder.in_(held_by))
    located = sites_in(session, region).condition(v.location) if region is not None else None
    if located is not None:
        query = query.where(located)
    rows = list(session.execute(query.order_by(v.identifier).limit(limit + 1)))
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
    summary = holder_status_summary(session, gtin, lot, held_by, located)
    page.extra = _scope_head(session, gtin, lot, lot_row, summary, held_by, located)
    return page


def scope_body(
    session: Session,
    gtin: str,
    lot: str,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    within: Scope = EVERYTHING,
    region: str | None = None,
) -> tuple[bytes, str | None]:
    """The scope as the API answers it: the JSON body (``RecallScope``, compact, its fields in
    the model's order) and the next page's cursor.

    On PostgreSQL one statement reads the lot's current versions once and answers the page's
    items already as JSON text (up to 10,000, spliced into the body as they are, never parsed
    in Python), the cursor and the counts by holder and status; Python writes only the head
    (lot, recall state, counts, participants). Elsewhere (SQLite) the body is :func:`scope`
    serialised. Both give the same bytes as validating :func:`scope` against ``RecallScope`` and
    dumping it as JSON (what FastAPI did with the dictionaries). A region's scope (``within``,
    an inspector's, or ``region``: a part of the lot) takes the second way on both."""
    if (
        session.get_bind().dialect.name != "postgresql"
        or not within.everything
        or region is not None
    ):
        page = scope(session, gtin, lot, limit=limit, cursor=cursor, within=within, region=region)
        return _dumps(page.to_json()).encode(), page.next
    check_limit(limit, SCOPE_MAX_LIMIT)
    after = decode_cursor("scope", cursor, (str,))
    lot_row = _lot(session, gtin, lot)
    params: dict[str, Any] = {"gtin": gtin, "lot": lot, "limit": limit, "fetch": limit + 1}
    if after is not None:
        params["after"] = after[0]
    items, fetched, last, counts = session.execute(
        _SCOPE_AFTER if after is not None else _SCOPE, params
    ).one()
    following = encode_cursor("scope", [last]) if fetched > limit else None
    summary = [{"holder": h, "status": s, "count": n} for h, s, n in json.loads(counts or "[]")]
    head = _dumps(_scope_head(session, gtin, lot, lot_row, summary))
    body = f'{head[:-1]},"items":[{items or ""}],"next":{_dumps(following)}}}'
    return body.encode(), following


def _lot(session: Session, gtin: str, lot: str) -> LotRow:
    lot_row = session.get(LotRow, (gtin, lot))
    if lot_row is None:
        raise NotFoundError(f"lot {lot} of GTIN {gtin} is not in the index")
    return lot_row


def _scope_head(
    session: Session,
    gtin: str,
    lot: str,
    lot_row: LotRow,
    summary: list[dict[str, Any]],
    held_by: list[str] | None = None,
    located: ColumnElement[bool] | None = None,
) -> dict[str, Any]:
    """The fields of a scope before its items: the lot, its recall state, counts, holders, the
    product's master data and the names of the locations of the lot's items (of ``held_by``'s
    only, a region's scope; looked up only when any location has master data)."""
    return {
        "gtin": gtin,
        "lot": lot,
        "expiry": iso(lot_row.expiry),
        "commissionedBy": lot_row.commissioned_by,
        "recall": recall_json(session.get(RecallRow, (gtin, lot))),
        "total": sum(s["count"] for s in summary),
        "summary": summary,
        "participants": participants(session, (s["holder"] for s in summary)),
        "product": product_facts(session, [gtin]).get(gtin),
        "locations": _lot_locations(session, gtin, lot, held_by, located),
    }


def _lot_locations(
    session: Session,
    gtin: str,
    lot: str,
    held_by: list[str] | None,
    located: ColumnElement[bool] | None = None,
) -> dict[str, dict[str, Any]]:
    if session.scalar(select(MasterDataRow.record_hash).limit(1)) is None:
        return {}  # no master data at all: no second pass over the lot
    v = ItemVersionRow
    query = select(v.location).where(v.valid_to.is_(None), v.gtin == gtin, v.lot == lot)
    if held_by is not None:
        query = query.where(v.holder.in_(held_by))
    if located is not None:
        query = query.where(located)
    return location_facts(session, session.scalars(query.distinct()))


def _dumps(value: Any) -> str:
    """Compact JSON, as pydantic writes it (no spaces, non-ASCII as is)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _scope_sql(after: bool) -> TextClause:
    """The lot's current versions read once (``lot``); of them, one page as compact JSON
    objects joined by commas (identifier order, ``limit`` of the ``limit + 1`` fetched), how many
    were fetched (more than ``limit``: there is a next page), the identifier of the page's last
    item (its cursor), and ``[holder, status, count]`` of the whole lot as JSON text, ordered as
    :func:`holder_status_summary` orders them.

    ``eventTime`` is written as :func:`~indexer.queries.common.iso` writes it: UTC, seconds,
    microseconds only when there are any, ``Z``."""
    table = ItemVersionRow.__tablename__
    return text(
        f"""
        WITH lot AS MATERIALIZED (
            SELECT identifier, status, holder, location, parent, in_transit_to, event_time
            FROM {table}
            WHERE valid_to IS NULL AND gtin = :gtin AND lot = :lot
        ), page AS (
            SELECT first.*, row_number() OVER (ORDER BY first.identifier) AS n
            FROM (
                SELECT * FROM lot {"WHERE identifier > :after" if after else ""}
                ORDER BY identifier
                LIMIT :fetch
            ) AS first
        ), items AS (
            SELECT string_agg(row_to_json(item)::text, ',' ORDER BY page.n)
                       FILTER (WHERE page.n <= :limit) AS items,
                   count(*) AS fetched,
                   min(page.identifier) FILTER (WHERE page.n = :limit) AS last
            FROM page
            CROSS JOIN LATERAL (SELECT page.event_time AT TIME ZONE 'UTC' AS utc) AS t
            CROSS JOIN LATERAL (
                SELECT page.identifier, page.status, page.holder, page.location, page.parent,
                       page.in_transit_to AS "inTransitTo",
                       to_char(t.utc, 'YYYY-MM-DD"T"HH24\\:MI\\:SS')
                       || CASE WHEN date_trunc('second', t.utc) = t.utc THEN ''
                               ELSE to_char(t.utc, '.US') END
                       || 'Z' AS "eventTime"
            ) AS item
        ), counts AS (
            SELECT json_agg(json_build_array(holder, status, n) ORDER BY holder, status)::text
                       AS summary
            FROM (SELECT holder, status, count(*) AS n FROM lot GROUP BY holder, status) AS c
        )
        SELECT items.items, items.fetched, items.last, counts.summary FROM items, counts
        """
    )


_SCOPE = _scope_sql(after=False)
_SCOPE_AFTER = _scope_sql(after=True)


def list_recalls(
    session: Session,
    *,
    recalled: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    within: Scope = EVERYTHING,
) -> Page:
    """The registry's batches and their recall state, by GTIN and lot; a region's scope (``within``)
    keeps the lots its participants made (registered) or hold packs of now."""
    check_limit(limit, MAX_LIMIT)
    after = decode_cursor("recalls", cursor, (str, str))
    query = select(RecallRow)
    parties = within.participants(session)
    if parties is not None:
        v = ItemVersionRow
        held = (
            select(v.identifier)
            .where(
                v.valid_to.is_(None),
                v.gtin == RecallRow.gtin,
                v.lot == RecallRow.lot,
                v.holder.in_(parties),
            )
            .exists()
        )
        query = query.where(or_(RecallRow.manufacturer.in_(parties), held))
    if recalled is not None:
        query = query.where(RecallRow.recalled == recalled)
    if after is not None:
        query = query.where(tuple_(RecallRow.gtin, RecallRow.lot) > tuple_(after[0], after[1]))
    rows = list(session.scalars(query.order_by(RecallRow.gtin, RecallRow.lot).limit(limit + 1)))
    return page_of(rows, limit, "recalls", lambda r: [r.gtin, r.lot], recall_json)
