"""Anchors: every ``Anchored`` log the indexer read and what loading its batch gave."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from indexer.queries.common import hex32
from indexer.queries.pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, page_of
from indexer.store.models import AnchorRow

STATUSES = ("indexed", "rejected", "unavailable")


def anchor_json(row: AnchorRow) -> dict[str, Any]:
    return {
        "root": hex32(row.root),
        "submitter": row.submitter,
        "relayer": row.relayer,
        "eventCount": row.event_count,
        "metadataHash": hex32(row.metadata_hash),
        "txHash": row.tx_hash,
        "blockNumber": row.block_number,
        "logIndex": row.log_index,
        "blockTimestamp": row.block_timestamp,
        "status": row.status,
        "gasUsed": row.gas_used,
    }


def list_anchors(
    session: Session,
    *,
    submitter: str | None = None,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """In chain order (block, log index)."""
    check_limit(limit)
    after = decode_cursor("anchors", cursor, (int, int))
    query = select(AnchorRow)
    if submitter is not None:
        query = query.where(AnchorRow.submitter == submitter)
    if status is not None:
        query = query.where(AnchorRow.status == status)
    if after is not None:
        query = query.where(
            tuple_(AnchorRow.block_number, AnchorRow.log_index) > tuple_(after[0], after[1])
        )
    rows = list(
        session.scalars(
            query.order_by(AnchorRow.block_number, AnchorRow.log_index).limit(limit + 1)
        )
    )
    return page_of(rows, limit, "anchors", lambda r: [r.block_number, r.log_index], anchor_json)
