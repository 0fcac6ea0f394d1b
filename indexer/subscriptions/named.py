"""Named queries (``POST /queries``), kept per reader: a reader lists, reads, runs and deletes
only its own; another reader's query of the same name is another query (404 to everyone else,
as if it did not exist).

A query's **owner** is the reader key's holder (``name``) with its role and what it is bound to
(participant address or region): a rotated key (same holder, role and binding) keeps its
queries. What a query answers is judged for the owner when it runs (the owner's visibility,
indexer/queries/visibility.py); a subscription is delivered only while the owner has a live key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from indexer.queries.visibility import EVERY_EVENT, Visibility
from indexer.reader_keys import ReaderKey
from indexer.store.models import ApiKeyRow, NamedQueryRow, SubscriptionRow
from medledger.epcis.query import EventQuery, parse_query
from medledger.epcis.query_body import query_name, query_params
from medledger.errors import NotFoundError, QueryParameterError, StoreConflictError
from servicekit.apikeys import KeyFlow
from servicekit.sql.helpers import utcnow

#: Named queries one reader may keep.
MAX_QUERIES = 100


def owner_of(key: ReaderKey) -> str:
    """Who owns what ``key`` creates: ``role:participant-or-region:holder``."""
    return f"{key.role}:{key.participant or key.region or ''}:{key.name}"


@dataclass(frozen=True)
class NamedQuery:
    id: int
    name: str
    owner: str
    definition: dict[str, Any]
    params: list[tuple[str, str]]
    visibility: Visibility
    role: str
    holder: str
    participant: str | None
    region: str | None
    created_at: datetime

    def query(self) -> EventQuery:
        return parse_query(self.params)

    def document(self) -> dict[str, Any]:
        """As the binding shows it: ``{"name", "query"}``."""
        return {"name": self.name, "query": self.definition}


def from_row(row: NamedQueryRow) -> NamedQuery:
    visibility = EVERY_EVENT
    if row.role == "participant":
        visibility = Visibility(participant=row.participant)
    elif row.role == "inspector":
        visibility = Visibility(region=row.region)
    return NamedQuery(
        id=row.id,
        name=row.name,
        owner=row.owner,
        definition=json.loads(row.definition),
        params=[(k, v) for k, v in json.loads(row.params)],
        visibility=visibility,
        role=row.role,
        holder=row.owner.split(":", 2)[2],
        participant=row.participant,
        region=row.region,
        created_at=row.created_at,
    )


def create(session: Session, key: ReaderKey, body: Any) -> NamedQuery:
    """Store ``body`` (``{"name", "query"}``) for ``key``'s holder; 400 for a query
    ``GET /events`` would refuse, 409 when the holder has one of that name."""
    if not isinstance(body, dict) or set(body) - {"name", "query"}:
        extra = sorted(set(body) - {"name", "query"}) if isinstance(body, dict) else []
        raise _shape(extra)
    name = query_name(body.get("name"))
    params = query_params(body.get("query"))
    owner = owner_of(key)
    count = len(session.scalars(select(NamedQueryRow.id).where(NamedQueryRow.owner == owner)).all())
    if count >= MAX_QUERIES:
        raise StoreConflictError(f"a reader keeps at most {MAX_QUERIES} named queries")
    row = NamedQueryRow(
        owner=owner,
        name=name,
        role=key.role,
        participant=key.participant,
        region=key.region,
        definition=json.dumps(body["query"], separators=(",", ":")),
        params=json.dumps(params, separators=(",", ":")),
        created_at=utcnow(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise StoreConflictError(f"you have a query named {name!r} already") from None
    return from_row(row)


def _shape(extra: list[str]) -> QueryParameterError:
    if extra:
        return QueryParameterError(
            f"a query definition has a name and a query, not {', '.join(extra)[:200]}",
            rule="query.definition",
            pointer=f"/{extra[0]}"[:200],
        )
    return QueryParameterError(
        'a query definition is a JSON object: {"name": ..., "query": {...}}',
        rule="query.definition",
        pointer="",
    )


def listing(session: Session, key: ReaderKey) -> list[NamedQuery]:
    rows = session.scalars(
        select(NamedQueryRow).where(NamedQueryRow.owner == owner_of(key)).order_by(NamedQueryRow.id)
    )
    return [from_row(r) for r in rows]


def find(session: Session, key: ReaderKey, name: str) -> NamedQuery:
    """``key``'s holder's query ``name`` (404 if it has none of that name)."""
    row = session.scalar(
        select(NamedQueryRow).where(
            NamedQueryRow.owner == owner_of(key), NamedQueryRow.name == name
        )
    )
    if row is None:
        raise NotFoundError(f"you have no query named {name[:200]!r}")
    return from_row(row)


def by_id(session: Session, query_id: int) -> NamedQuery | None:
    """The query of that id, whoever owns it (delivery), or None if it was deleted."""
    row = session.get(NamedQueryRow, query_id)
    return None if row is None else from_row(row)


def remove(session: Session, key: ReaderKey, name: str) -> None:
    """Delete the query and every subscription to it (the binding: "forcibly unsubscribes")."""
    query = find(session, key, name)
    session.execute(delete(SubscriptionRow).where(SubscriptionRow.query_id == query.id))
    session.execute(delete(NamedQueryRow).where(NamedQueryRow.id == query.id))


def owner_is_live(session: Session, query: NamedQuery, now: datetime | None = None) -> bool:
    """Whether the query's owner still holds a live key of the same role and binding."""
    now = now or utcnow()
    rows = session.scalars(
        select(ApiKeyRow).where(
            ApiKeyRow.name == query.holder,
            ApiKeyRow.role == query.role,
            ApiKeyRow.revoked_at.is_(None),
        )
    )
    return any(
        KeyFlow.live(r, now) and r.participant == query.participant and r.region == query.region
        for r in rows
    )
