"""The EPCIS 2.0 query interface's events: an :class:`~medledger.epcis.query.EventQuery` over
the index, a page at a time, as an EPCISQueryDocument.

Conditions on what the index keeps in columns are SQL (``ix_events``: type, eventTime,
action, bizStep, disposition, readPoint, bizLocation, the event hash; ``ix_event_items``: the
identifiers an event names, by role, and its quantities; ``ix_event_ilmd``: ILMD fields, a
superset judged again below; ``ix_anchors``: the anchoring block's time). The others are
judged on each event as anchored (:mod:`medledger.epcis.query_match`), over the rows SQL let
through, fetched in batches until the page is full.

``recordTime`` is the anchoring block's timestamp: what the chain proves about when the index
could know the event. It is written into each answered event (recordTime is not hashed, so
the event still hashes to its eventID). It grows with the chain, so ``orderBy=recordTime`` is
chain order. ``WD_readPoint`` and ``WD_bizLocation`` match the location itself: the index has
no master data yet, so no location is known to lie within another.

Pages: keyset (the sort key of the last event served) in a ``nextPageToken`` that also names
the query it belongs to and how many events it served, signed with the index's page-token key
(HMAC-SHA256): a token edited, or used with other filters, is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from indexer.queries.common import iso
from indexer.queries.masterdata import descendants, location_tree
from indexer.queries.page_tokens import PageTokens
from indexer.queries.regions import sites_having
from indexer.store.models import (
    ILMD_TEXT,
    AnchorRow,
    ErrorDeclarationRow,
    EventIlmdRow,
    EventItemRow,
    EventRow,
    utc_day,
)
from indexer.store.state import chunks
from medledger.epcis.event_id import EventId, event_id_of
from medledger.epcis.query import MATCH_ROLES, EventQuery, FieldFilter, IdMatch, Scalar, Span
from medledger.epcis.query_match import (
    declaration_conditions,
    event_matches,
    hashed_ids,
    needs_event,
)
from medledger.epcis.terms import bare_term
from medledger.errors import QueryTooLargeError
from medledger.masterdata.vocabulary import attribute_id

EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
#: Rows read per batch when events are judged one by one (at least the page and one more).
SCAN_BATCH = 500
QUANTITY_ROLES = MATCH_ROLES["anyEPCClass"]


class _Row(NamedTuple):  # a tuple: 1,000 made per page, a frozen dataclass costs more
    seq: int
    event_hash: bytes
    raw: str
    event_time: datetime
    block_timestamp: int | None
    declared: bool  # an error declaration names it (ix_error_declarations)


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


def _identified(values: tuple[IdMatch, ...]) -> ColumnElement[bool]:
    exact = [v.uri for v in values]
    patterns = [
        EventItemRow.identifier.like(_like(v.uri), escape="\\") for v in values if v.pattern
    ]
    return or_(EventItemRow.identifier.in_(exact), *patterns)


def _span(column: Any, span: Span) -> list[ColumnElement[bool]]:
    out = []
    if span.ge is not None:
        out.append(column >= span.ge)
    if span.lt is not None:
        out.append(column < span.lt)
    return out


def _seconds(moment: datetime) -> int:
    """The first whole second at or after ``moment`` (block times are whole seconds)."""
    return math.ceil(moment.timestamp())


def conditions(query: EventQuery) -> list[ColumnElement[bool]]:
    """The SQL conditions of ``query`` (see the module docstring for the rest)."""
    out: list[ColumnElement[bool]] = []
    for column, values in (
        (EventRow.type, query.event_types),
        (EventRow.action, query.actions),
        (EventRow.biz_step, query.biz_steps),
        (EventRow.disposition, query.dispositions),
        (EventRow.read_point, query.read_points),
        (EventRow.read_point, query.read_points_within),
        (EventRow.biz_location, query.biz_locations),
        (EventRow.biz_location, query.biz_locations_within),
    ):
        if values:
            out.append(column.in_(values))
    day = _site_day(query)
    if day is None or not _whole_day(query.event_time):
        out += _span(EventRow.event_time, query.event_time)
    if day is not None:
        out.append(utc_day(EventRow.event_time) == day)
    if query.record_time.ge is not None:
        out.append(AnchorRow.block_timestamp >= _seconds(query.record_time.ge))
    if query.record_time.lt is not None:
        out.append(AnchorRow.block_timestamp < _seconds(query.record_time.lt))
    for name, ids in query.matches:
        named = select(EventItemRow.seq).where(
            EventItemRow.role.in_(MATCH_ROLES[name]), _identified(ids)
        )
        out.append(EventRow.seq.in_(named))
    for op, amount in query.quantities:
        amounts = EventItemRow.quantity
        compared = {
            "EQ": amounts == amount,
            "GT": amounts > amount,
            "GE": amounts >= amount,
            "LT": amounts < amount,
            "LE": amounts <= amount,
        }[op]
        counted = select(EventItemRow.seq).where(EventItemRow.role.in_(QUANTITY_ROLES), compared)
        out.append(EventRow.seq.in_(counted))
    out += ilmd_conditions(query)
    if query.event_ids and hashed_ids(query):
        digests = [EventId.parse(v, rule="query.parameter").digest for v in query.event_ids]
        out.append(EventRow.event_hash.in_(digests))
    return out


def _site_day(query: EventQuery) -> date | None:
    """For one or more sites over an eventTime window within one UTC day, in chain order: that
    day, to be said again (it follows from the window) in the form of ``ix_events_site_day``'s
    expression, so PostgreSQL reads the site's day by ``seq`` until the page is full."""
    ge, lt = query.event_time.ge, query.event_time.lt
    if ge is None or lt is None or query.order_by == "eventTime":
        return None
    if not (query.biz_locations or query.biz_locations_within):
        return None
    try:
        first = ge.astimezone(UTC).date()
        last = (lt.astimezone(UTC) - timedelta(microseconds=1)).date()
    except OverflowError:  # a window at the first instant UTC can hold
        return None
    return first if first == last else None


def _whole_day(span: Span) -> bool:
    """Whether ``span`` is one whole UTC day (so the day says all it says: the planner, told
    both, would take them for independent and expect too few rows)."""
    if span.ge is None or span.lt is None:
        return False
    ge = span.ge.astimezone(UTC)
    return ge.time() == time() and span.lt.astimezone(UTC) == ge + timedelta(days=1)


def _ilmd_value(want: Scalar, op: str) -> ColumnElement[bool]:
    """ILMD rows whose value may compare ``op`` with ``want`` (a superset: rows whose value
    SQL does not hold let through; numbers kept as doubles compared inclusively, rounding
    keeping order): the event is judged again on its JSON (medledger/epcis/query_match.py)."""
    ilmd = EventIlmdRow
    if isinstance(want, str):  # compared as text: str of the value as read
        if len(want) > ILMD_TEXT:
            return ilmd.text_value.is_(None)
        return ilmd.text_value == want
    column: Any
    bound: float | datetime
    if isinstance(want, Decimal):
        column, kind, bound = ilmd.number_value, "number", float(want)
    else:
        column, kind, bound = ilmd.time_value, "time", want
    compared = {
        "EQ": column == bound,
        "GT": column >= bound,
        "GE": column >= bound,
        "LT": column <= bound,
        "LE": column <= bound,
    }[op]
    return and_(ilmd.kind == kind, or_(compared, column.is_(None)))


def ilmd_conditions(query: EventQuery) -> list[ColumnElement[bool]]:
    """``EQ_ILMD_*`` and its comparisons, ``EXISTS_ILMD_*``: the events whose ``ix_event_ilmd``
    rows may match (SQL narrows; :func:`~medledger.epcis.query_match.event_matches` judges)."""
    out: list[ColumnElement[bool]] = []
    for f in query.fields:
        if f.ilmd:
            named = select(EventIlmdRow.seq).where(
                EventIlmdRow.field == f.name, or_(*(_ilmd_value(w, f.op) for w in f.values))
            )
            out.append(EventRow.seq.in_(named))
    for name, in_ilmd in query.exists:
        if in_ilmd:
            out.append(EventRow.seq.in_(select(EventIlmdRow.seq).where(EventIlmdRow.field == name)))
    return out


def _exact_in_sql(f: FieldFilter) -> bool:
    """Whether SQL answers ``f`` exactly (an ILMD field equal to texts it keeps whole), so
    the events it finds need no judging on their JSON."""
    return (
        f.ilmd
        and f.op == "EQ"
        and all(isinstance(w, str) and len(w) <= ILMD_TEXT for w in f.values)
    )


def judged(query: EventQuery) -> bool:
    """Whether the events SQL finds for ``query`` are judged on their JSON (some condition is
    not answered exactly by SQL)."""
    return needs_event(
        replace(
            query,
            fields=tuple(f for f in query.fields if not _exact_in_sql(f)),
            exists=tuple(e for e in query.exists if not e[1]),
        )
    )


def _order(query: EventQuery) -> tuple[Any, ...]:
    if query.order_by == "eventTime":
        return (EventRow.event_time, EventRow.seq)
    return (EventRow.seq,)


def _descending(query: EventQuery) -> bool:
    return query.order_by is not None and query.descending


def _after(query: EventQuery, key: list[Any]) -> ColumnElement[bool]:
    """Rows past ``key`` (the last row served) in the query's order."""
    descending = _descending(query)
    if query.order_by == "eventTime":
        moment, seq = datetime.fromisoformat(key[0]), key[1]
        if descending:
            return or_(
                EventRow.event_time < moment,
                and_(EventRow.event_time == moment, EventRow.seq < seq),
            )
        return or_(
            EventRow.event_time > moment, and_(EventRow.event_time == moment, EventRow.seq > seq)
        )
    last: int = key[0]
    return EventRow.seq < last if descending else EventRow.seq > last


def _key(query: EventQuery, row: _Row) -> list[Any]:
    if query.order_by == "eventTime":
        return [row.event_time.astimezone(UTC).isoformat(), row.seq]
    return [row.seq]


def _statement(query: EventQuery, within: ColumnElement[bool] | None) -> Select[Any]:
    statement: Select[*tuple[Any, ...]] = (
        select(
            EventRow.seq,
            EventRow.event_hash,
            EventRow.raw,
            EventRow.event_time,
            AnchorRow.block_timestamp,
            select(ErrorDeclarationRow.seq)
            .where(ErrorDeclarationRow.event_hash == EventRow.event_hash)
            .exists(),
        )
        .outerjoin(AnchorRow, AnchorRow.root == EventRow.root)
        .where(*conditions(query))
    )
    if within is not None:
        statement = statement.where(within)
    columns = _order(query)
    if _descending(query):
        return statement.order_by(*(c.desc() for c in columns))
    return statement.order_by(*columns)


def within_by_master_data(session: Session, query: EventQuery) -> EventQuery:
    """``WD_readPoint`` and ``WD_bizLocation`` widened to every location master data places
    within one of their values (:func:`indexer.queries.masterdata.descendants`): one read of
    the location master data per page, and none without a ``WD_`` parameter."""
    if not (query.read_points_within or query.biz_locations_within):
        return query
    tree = location_tree(session)

    def widened(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(descendants(tree, values))) if values else ()

    return replace(
        query,
        read_points_within=widened(query.read_points_within),
        biz_locations_within=widened(query.biz_locations_within),
    )


def _matching(
    session: Session,
    query: EventQuery,
    key: list[Any] | None,
    within: ColumnElement[bool] | None = None,
) -> Iterator[tuple[_Row, dict[str, Any] | None]]:
    """Every event of ``query`` past ``key``, in order, with its JSON where it was read to be
    judged (else None); read in batches."""
    query = within_by_master_data(session, query)
    for field, attribute, values in query.location_attributes:
        column = EventRow.read_point if field == "readPoint" else EventRow.biz_location
        described = sites_having(session, attribute_id(attribute), values).condition(column)
        within = described if within is None else and_(within, described)
    judge = judged(query)
    base = _statement(query, within)
    batch = SCAN_BATCH if judge else query.per_page + 1
    while True:
        statement = base if key is None else base.where(_after(query, key))
        found = session.execute(statement.limit(batch))
        rows = [_Row._make(r) for r in found]
        declared = (
            declared_later(session, [r.event_hash for r in rows if r.declared])
            if declaration_conditions(query)
            else {}
        )
        for row in rows:
            if not judge:
                yield row, None  # read when answered (or not at all: EventsAnswer.json_body)
                continue
            event = event_of(row.raw)
            if event_matches(
                query,
                event,
                event_id_of(row.event_hash),
                declared=declared.get(row.event_hash, ()),
            ):
                yield row, event
        if len(rows) < batch:
            return
        key = _key(query, rows[-1])
        batch = SCAN_BATCH


def event_of(raw: str) -> dict[str, Any]:
    """An event as the index keeps it (``raw``): read by orjson (several times faster than
    :mod:`json`, the bulk of a page of 1,000), by :mod:`json` where orjson cannot (an integer
    past 64 bits, ``NaN``: :func:`indexer.event_rows.raw_json` wrote those with :mod:`json`)."""
    try:
        event: dict[str, Any] = orjson.loads(raw)
    except orjson.JSONDecodeError:
        event = json.loads(raw)
    return event


def declared_later(session: Session, hashes: list[bytes]) -> dict[bytes, list[dict[str, Any]]]:
    """The error declarations anchored for these events (``ix_error_declarations``), oldest
    first, each as the standard ``errorDeclaration`` object (reason as a bare CBV term).
    Events are seldom declared: the query pages pass only the events their rows say are
    (``_Row.declared``), so a page with none makes no query here."""
    out: dict[bytes, list[dict[str, Any]]] = {}
    if not hashes:
        return out
    for part in chunks(sorted(set(hashes))):
        rows = session.scalars(
            select(ErrorDeclarationRow)
            .where(ErrorDeclarationRow.event_hash.in_(part))
            .order_by(ErrorDeclarationRow.seq)
        )
        for r in rows:
            declaration: dict[str, Any] = {"declarationTime": iso(r.declaration_time)}
            if r.reason is not None:
                declaration["reason"] = bare_term("errorReason", r.reason) or r.reason
            if r.corrective_ids:
                declaration["correctiveEventIDs"] = list(r.corrective_ids)
            out.setdefault(r.event_hash, []).append(declaration)
    return out


def _answered(
    row: _Row, event: dict[str, Any] | None, declared: dict[bytes, list[dict[str, Any]]]
) -> dict[str, Any]:
    if event is None:
        event = event_of(row.raw)
    if event.get("@context") == EPCIS_CONTEXT:
        # the document's context; any other stays on the event, as JSON-LD scoping allows,
        # so the event still hashes to its eventID from this page
        del event["@context"]
    event.setdefault("eventID", event_id_of(row.event_hash))
    if "errorDeclaration" not in event and row.event_hash in declared:
        # declared erroneous by a declaration anchored later: the latest (not hashed either)
        event["errorDeclaration"] = declared[row.event_hash][-1]
    if row.block_timestamp is not None:
        event["recordTime"] = _record_time(row.block_timestamp)
    return event


@lru_cache(maxsize=4096)
def _record_time(block_timestamp: int) -> str:
    """A block's time as ``recordTime`` (the events of a page share a few blocks)."""
    return iso(datetime.fromtimestamp(block_timestamp, UTC)) or ""


def query_document(events: list[dict[str, Any]], created: str | None = None) -> dict[str, Any]:
    """An EPCISQueryDocument of ``events`` (a SimpleEventQuery's result), made at ``created``
    (now if None)."""
    return {
        "@context": EPCIS_CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created or iso(datetime.now(UTC)),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }


#: Text in a stored event that sends it through :func:`_answered` rather than
#: :func:`_spliced`: a top-level ``@context``, ``eventID`` or ``recordTime`` may be there
#: (``_answered`` edits those), or what only :mod:`json` wrote (``NaN``, infinities).
_NOT_SPLICED = ('"@context":', '"eventID":', '"recordTime":', "NaN", "Infinity")
_EVENT_LIST = b'"eventList":[]'


def _spliced(row: _Row) -> str | None:
    """The answered event as JSON text without reading it: its ``eventID`` and ``recordTime``
    put before the stored text's first key (the other keys as stored: sorted, compact, what
    orjson writes of them). None where the text is not left as stored
    (:data:`_NOT_SPLICED`, an error declaration anchored later)."""
    raw = row.raw
    if row.declared or any(marker in raw for marker in _NOT_SPLICED):
        return None
    head = '{"eventID":"' + event_id_of(row.event_hash) + '"'
    if row.block_timestamp is not None:
        head += ',"recordTime":"' + _record_time(row.block_timestamp) + '"'
    return head + ("}" if raw == "{}" else "," + raw[1:])


class EventsAnswer:
    """One page: the EPCISQueryDocument (:attr:`document`, read from the stored events when
    first asked for; or as JSON bytes, :meth:`json_body`) and the next page's token (None: the
    last)."""

    def __init__(
        self,
        rows: list[tuple[_Row, dict[str, Any] | None]],
        declared: dict[bytes, list[dict[str, Any]]],
        next_token: str | None,
    ) -> None:
        self._rows = rows
        self._declared = declared
        self.next_token = next_token
        self.created = iso(datetime.now(UTC)) or ""
        self._document: dict[str, Any] | None = None

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            events = [_answered(row, event, self._declared) for row, event in self._rows]
            self._document = query_document(events, self.created)
        return self._document

    def json_body(self) -> bytes | None:
        """:attr:`document` as compact UTF-8 JSON, spliced from the stored events' text (no
        event read and written again: most of a page's CPU); events that cannot be
        (:func:`_spliced`) are read and written by orjson. None where orjson would not write
        what :mod:`json` does (a ``null``, an integer past 64 bits: the caller then writes
        :attr:`document` its own way)."""
        if self._document is not None:
            return None
        parts: list[str] = []
        for row, _event in self._rows:
            text = _spliced(row)
            if text is None:
                try:
                    written = orjson.dumps(_answered(row, None, self._declared))
                except TypeError:
                    return None
                if b"null" in written:
                    return None
                text = written.decode()
            parts.append(text)
        empty = orjson.dumps(query_document([], self.created))
        at = empty.index(_EVENT_LIST) + len(_EVENT_LIST) - 1
        return empty[:at] + ",".join(parts).encode() + empty[at:]


def query_events(
    session: Session,
    query: EventQuery,
    tokens: PageTokens,
    *,
    within: ColumnElement[bool] | None = None,
    scope: str = "events",
) -> EventsAnswer:
    """One page of the events ``query`` asks for (see the module docstring); ``within``: a
    condition every event must meet too (one EPC's events), ``scope`` naming it for the page
    tokens."""
    scope = f"{scope} {query.fingerprint()}"
    key, served = tokens.decode(scope, query.next_page_token)
    if key is None and query.max_event_count is not None:
        found = 0
        for _ in _matching(session, query, None, within):
            found += 1
            if found > query.max_event_count:
                raise QueryTooLargeError(
                    f"more than maxEventCount={query.max_event_count} events match",
                    rule="query.tooLarge",
                    pointer="maxEventCount",
                )
    want = query.per_page
    if query.event_count_limit is not None:
        want = min(want, query.event_count_limit - served)
    rows: list[tuple[_Row, dict[str, Any] | None]] = []
    more = False
    if want > 0:
        for found_row in _matching(session, query, key, within):
            if len(rows) == want:
                more = True
                break
            rows.append(found_row)
    served += len(rows)
    if query.event_count_limit is not None and served >= query.event_count_limit:
        more = False
    declared = declared_later(session, [row.event_hash for row, _event in rows if row.declared])
    token = tokens.encode(scope, _key(query, rows[-1][0]), served) if more and rows else None
    return EventsAnswer(rows, declared, token)


def events_between(
    session: Session,
    query: EventQuery,
    after: int,
    before: int,
    *,
    within: ColumnElement[bool] | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """The events of ``query`` (its filters; never its order, limits or paging) whose sequence
    number lies after ``after`` and before ``before``, in chain order, at most ``limit``, as
    answered events; and the last sequence number they cover: the last event's when ``limit``
    was reached, else ``before - 1`` (every event up to there was judged). What a subscription
    delivers next (indexer/subscriptions/delivery.py)."""
    plain = replace(
        query,
        order_by=None,
        event_count_limit=None,
        max_event_count=None,
        per_page=limit,
        next_page_token=None,
    )
    bounded = EventRow.seq < before if within is None else and_(EventRow.seq < before, within)
    rows: list[tuple[_Row, dict[str, Any] | None]] = []
    covered = before - 1
    if before - 1 > after:
        for found in _matching(session, plain, [after], bounded):
            rows.append(found)
            if len(rows) == limit:
                covered = found[0].seq
                break
    declared = declared_later(session, [row.event_hash for row, _event in rows])
    return [_answered(row, event, declared) for row, event in rows], covered
