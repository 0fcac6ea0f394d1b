"""Participants as the on-chain registry says now (roles, GLN, active)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.queries.common import participant_json
from indexer.queries.pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, page_of
from indexer.store.models import ParticipantRow


def list_participants(
    session: Session,
    *,
    gln: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """By address; ``gln`` keeps the participant with that GLN."""
    check_limit(limit)
    after = decode_cursor("participants", cursor, (str,))
    query = select(ParticipantRow)
    if gln is not None:
        query = query.where(ParticipantRow.gln == gln)
    if after is not None:
        query = query.where(ParticipantRow.address > after[0])
    rows = list(session.scalars(query.order_by(ParticipantRow.address).limit(limit + 1)))
    return page_of(rows, limit, "participants", lambda r: [r.address], participant_json)
