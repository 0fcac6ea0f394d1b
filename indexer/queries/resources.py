"""The EPCIS query interface's top-level resources: the event types, bizSteps, bizLocations,
readPoints and dispositions the index's events name, and the EPCs (instance identifiers:
``epcList``, ``childEPCs``, ``parentID``, ``inputEPCList``, ``outputEPCList``), each listed as
the binding's ``Collection`` (``member``), a page at a time in the values' order; for a
restricted reader, only the values its visible events name (indexer/queries/visibility.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from indexer.queries.events import EPCIS_CONTEXT
from indexer.queries.page_tokens import PageTokens
from indexer.store.models import EventItemRow, EventRow
from medledger.epcis.query import MATCH_ROLES, parse_query

#: resource -> (the column it lists, the query parameter its ``/{value}/events`` sets)
RESOURCES: dict[str, tuple[Any, str]] = {
    "eventTypes": (EventRow.type, "eventType"),
    "bizSteps": (EventRow.biz_step, "EQ_bizStep"),
    "bizLocations": (EventRow.biz_location, "EQ_bizLocation"),
    "readPoints": (EventRow.read_point, "EQ_readPoint"),
    "dispositions": (EventRow.disposition, "EQ_disposition"),
    "epcs": (EventItemRow.identifier, "MATCH_anyEPC"),
}


@dataclass
class CollectionPage:
    document: dict[str, Any]
    next_token: str | None


def collection(
    session: Session,
    resource: str,
    tokens: PageTokens,
    *,
    per_page: int,
    token: str | None,
    visible: ColumnElement[bool] | None = None,
    view: str | None = None,
) -> CollectionPage:
    """One page of the values ``resource`` lists (distinct, ascending), named by the events
    meeting ``visible`` (None: every event); ``view`` names that view in the page tokens."""
    column, _parameter = RESOURCES[resource]
    scope = f"collection {resource}" if view is None else f"collection {resource} {view}"
    key, served = tokens.decode(scope, token)
    statement = select(column).where(column.is_not(None)).distinct().order_by(column)
    if resource == "epcs":
        statement = statement.where(EventItemRow.role.in_(MATCH_ROLES["anyEPC"]))
        if visible is not None:
            statement = statement.where(EventItemRow.seq.in_(select(EventRow.seq).where(visible)))
    elif visible is not None:
        statement = statement.where(visible)
    if key is not None:
        statement = statement.where(column > str(key[0]))
    values = [str(v) for v in session.scalars(statement.limit(per_page + 1))]
    more = len(values) > per_page
    values = values[:per_page]
    following = tokens.encode(scope, [values[-1]], served + len(values)) if more else None
    document = {"@context": EPCIS_CONTEXT, "type": "Collection", "member": values}
    return CollectionPage(document, following)


def known_value(
    session: Session, resource: str, value: str, visible: ColumnElement[bool] | None = None
) -> bool:
    """Whether an event (meeting ``visible``, if given) names ``value`` as ``resource`` does
    (canonical, as the index keeps it: the value is read as ``/{resource}/{value}/events``
    reads it)."""
    column, parameter = RESOURCES[resource]
    query = parse_query([(parameter, value)])
    wanted = {
        "eventTypes": query.event_types,
        "bizSteps": query.biz_steps,
        "bizLocations": query.biz_locations,
        "readPoints": query.read_points,
        "dispositions": query.dispositions,
    }[resource]
    statement = select(column).where(column.in_(wanted))
    if visible is not None:
        statement = statement.where(visible)
    return session.scalar(statement.limit(1)) is not None
