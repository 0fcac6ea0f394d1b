"""Suspensions pending investigation as the chain recorded them (docs/suspensions.md): each
``Suspended`` log of the recall registry with its case number, and how it ended (lifted, or
escalated to a recall), from ``ix_recall_changes``; rebuilt with them after a rollback."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from indexer.queries.pages import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    page_of,
)
from indexer.queries.scope import EVERYTHING, Scope
from indexer.store.models import ItemVersionRow, RecallChangeRow, RecallRow
from medledger.recall_reasons import LIFT_REASONS, RECALL_REASONS, SUSPENSION_REASONS

_ENDINGS = ("lifted", "escalated")


def list_suspensions(
    session: Session,
    *,
    active: bool | None = None,
    gtin: str | None = None,
    lot: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    within: Scope = EVERYTHING,
) -> Page:
    """Every suspension, oldest first (``active``: only current ones, or only ended ones; one
    lot's with ``gtin`` and ``lot``); a region's scope keeps the lots its participants made or
    hold packs of now, as for recalls."""
    check_limit(limit, MAX_LIMIT)
    after = decode_cursor("suspensions", cursor, (int, int))
    c = RecallChangeRow
    query = select(c).where(c.kind == "suspended")
    if gtin is not None:
        query = query.where(c.gtin == gtin)
    if lot is not None:
        query = query.where(c.lot == lot)
    current = (
        select(RecallRow.gtin)
        .where(
            RecallRow.gtin == c.gtin,
            RecallRow.lot == c.lot,
            RecallRow.suspended.is_(True),
            RecallRow.suspended_block == c.block_number,
        )
        .exists()
    )
    if active is True:
        query = query.where(current)
    elif active is False:
        query = query.where(~current)
    parties = within.participants(session)
    if parties is not None:
        v = ItemVersionRow
        held = (
            select(v.identifier)
            .where(v.valid_to.is_(None), v.gtin == c.gtin, v.lot == c.lot, v.holder.in_(parties))
            .exists()
        )
        made = (
            select(RecallRow.gtin)
            .where(
                RecallRow.gtin == c.gtin,
                RecallRow.lot == c.lot,
                RecallRow.manufacturer.in_(parties),
            )
            .exists()
        )
        query = query.where(or_(made, held))
    if after is not None:
        query = query.where(tuple_(c.block_number, c.log_index) > tuple_(after[0], after[1]))
    rows = list(session.scalars(query.order_by(c.block_number, c.log_index).limit(limit + 1)))
    endings = _endings(session, rows[:limit])
    return page_of(
        rows,
        limit,
        "suspensions",
        lambda r: [r.block_number, r.log_index],
        lambda r: suspension_json(r, endings.get((r.block_number, r.log_index))),
    )


def _endings(
    session: Session, started: list[RecallChangeRow]
) -> dict[tuple[int, int], RecallChangeRow]:
    """For each suspension of ``started``, the first lifting or escalation of its lot after it."""
    lots = sorted({(r.gtin, r.lot) for r in started})
    if not lots:
        return {}
    c = RecallChangeRow
    ends = session.scalars(
        select(c)
        .where(c.kind.in_(_ENDINGS), or_(*(and_(c.gtin == g, c.lot == lt) for g, lt in lots)))
        .order_by(c.block_number, c.log_index)
    ).all()
    found: dict[tuple[int, int], RecallChangeRow] = {}
    for start in started:
        begun = (start.block_number, start.log_index)
        for end in ends:
            if (end.gtin, end.lot) == (start.gtin, start.lot) and (
                end.block_number,
                end.log_index,
            ) > begun:
                found[begun] = end
                break
    return found


def _text(table: dict[int, str], code: int | None) -> str | None:
    return None if code is None else table.get(code)


def suspension_json(row: RecallChangeRow, end: RecallChangeRow | None) -> dict[str, Any]:
    state = "suspended" if end is None else end.kind
    close_reasons = RECALL_REASONS if state == "escalated" else LIFT_REASONS
    return {
        "gtin": row.gtin,
        "lot": row.lot,
        "state": state,
        "caseNumber": row.case_number,
        "reasonCode": row.reason_code,
        "reason": _text(SUSPENSION_REASONS, row.reason_code),
        "by": row.by,
        "block": row.block_number,
        "txHash": row.tx_hash,
        "closedBy": end.by if end else None,
        "closedBlock": end.block_number if end else None,
        "closeReasonCode": end.reason_code if end else None,
        "closeReason": _text(close_reasons, end.reason_code) if end else None,
        "closeTx": end.tx_hash if end else None,
    }
