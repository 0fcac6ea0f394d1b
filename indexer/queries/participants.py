"""Participants as the on-chain registry says now (roles, GLN, active), with the name and
region the gateway gave (indexer/profiles.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from indexer.queries.common import WITH_PROFILES, participant_json
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
    query = WITH_PROFILES
    if gln is not None:
        query = query.where(ParticipantRow.gln == gln)
    if after is not None:
        query = query.where(ParticipantRow.address > after[0])
    rows = list(session.execute(query.order_by(ParticipantRow.address).limit(limit + 1)))
    return page_of(
        rows, limit, "participants", lambda r: [r[0].address], lambda r: participant_json(*r)
    )
