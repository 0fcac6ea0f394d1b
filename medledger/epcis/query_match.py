"""The parts of an :class:`~medledger.epcis.query.EventQuery` judged on the event itself (pure).

The index answers most parameters from its columns (type, times, action, bizStep,
disposition, locations, identifiers and quantities). The rest name fields it keeps only in
the event as anchored: persistentDisposition, transformationID, the error declaration,
bizTransactions, source and destination types, extension and ILMD fields, and an eventID
that is not the event's hash. :func:`needs_event` says whether a query has any of them;
:func:`event_matches` judges one event (its JSON, as captured) against them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from medledger.epcis.event_id import HASH_PREFIX
from medledger.epcis.identifiers import canonical_location
from medledger.epcis.query import EventQuery, FieldFilter, Scalar, Span
from medledger.epcis.terms import Vocabulary, default_vocabulary
from medledger.errors import ValidationError


def hashed_ids(query: EventQuery) -> bool:
    """Whether every ``EQ_eventID`` value is a hash id (``ni:///sha-256;...``), so the index
    finds them by hash."""
    return all(v.startswith(HASH_PREFIX) for v in query.event_ids)


def needs_event(query: EventQuery) -> bool:
    """Whether some condition of ``query`` is judged on the event's JSON."""
    return bool(
        query.persistent_set
        or query.persistent_unset
        or query.transformation_ids
        or query.error_declaration
        or not query.error_declaration_time.open
        or query.error_reasons
        or query.corrective_event_ids
        or query.biz_transactions
        or query.sources
        or query.destinations
        or query.fields
        or query.exists
        or not hashed_ids(query)
    )


def _term(vocabulary: Vocabulary, kind: str, value: object) -> str | None:
    try:
        uri = vocabulary.normalise(kind, value)
    except ValidationError:
        return None
    return vocabulary.bare_term(kind, uri) or uri


def _terms(vocabulary: Vocabulary, kind: str, values: object) -> set[str]:
    if not isinstance(values, list):
        return set()
    return {t for v in values if (t := _term(vocabulary, kind, v)) is not None}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _within(span: Span, moment: datetime | None) -> bool:
    if moment is None:
        return False
    return (span.ge is None or moment >= span.ge) and (span.lt is None or moment < span.lt)


def _parties(
    vocabulary: Vocabulary,
    elements: object,
    key: str,
    wanted: tuple[tuple[str, tuple[str, ...]], ...],
) -> bool:
    found: set[tuple[str, str]] = set()
    for element in elements if isinstance(elements, list) else ():
        if not isinstance(element, Mapping):
            continue
        kind = _term(vocabulary, "sourceDestType", element.get("type"))
        value = element.get(key)
        if kind is None or not isinstance(value, str):
            continue
        try:
            found.add((kind, canonical_location(value)))
        except ValidationError:
            found.add((kind, value))
    return all(any((kind, v) in found for v in values) for kind, values in wanted)


def _compare(op: str, have: Scalar, want: Scalar) -> bool:
    if isinstance(want, str) or isinstance(have, str):
        return op == "EQ" and str(have) == str(want)
    if type(have) is not type(want):
        return False
    if op == "EQ":
        return have == want
    if op == "GT":
        return have > want  # type: ignore[operator]
    if op == "GE":
        return have >= want  # type: ignore[operator]
    if op == "LT":
        return have < want  # type: ignore[operator]
    return have <= want  # type: ignore[operator]


def stored_value(value: object) -> Scalar | None:
    """A field's value as the comparisons read it: numbers as Decimal, zoned date-times as
    datetimes, other text as it is; anything else (objects, lists, booleans) compares with
    nothing."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value)
            if number.is_finite():
                return number
        except InvalidOperation:
            pass
        return _time(value) if "T" in value and _time(value) is not None else value
    return None


def _field(event: Mapping[str, Any], f: FieldFilter) -> bool:
    holder = event.get("ilmd") if f.ilmd else event
    if not isinstance(holder, Mapping) or f.name not in holder:
        return False
    have = stored_value(holder[f.name])
    if have is None:
        return False
    return any(_compare(f.op, have, want) for want in f.values)


def declaration_conditions(query: EventQuery) -> bool:
    """Whether ``query`` asks anything of an event's error declaration."""
    return bool(
        query.error_declaration
        or not query.error_declaration_time.open
        or query.error_reasons
        or query.corrective_event_ids
    )


def _declaration_ok(query: EventQuery, declaration: Mapping[str, Any], v: Vocabulary) -> bool:
    """Whether one error declaration meets every declaration condition of ``query``."""
    if not query.error_declaration_time.open and not _within(
        query.error_declaration_time, _time(declaration.get("declarationTime"))
    ):
        return False
    if query.error_reasons and _term(v, "errorReason", declaration.get("reason")) not in set(
        query.error_reasons
    ):
        return False
    if query.corrective_event_ids:
        corrective = declaration.get("correctiveEventIDs")
        if not isinstance(corrective, list) or not set(corrective) & set(
            query.corrective_event_ids
        ):
            return False
    return True


def event_matches(
    query: EventQuery,
    event: Mapping[str, Any],
    event_id: str,
    vocabulary: Vocabulary | None = None,
    declared: Sequence[Mapping[str, Any]] = (),
) -> bool:
    """Whether ``event`` (with the id the index gives it) meets the conditions of ``query``
    that :func:`needs_event` names. Conditions on columns are not judged here. The error
    declaration conditions hold when the event's own ``errorDeclaration`` or one of
    ``declared`` (declarations anchored later, as ``errorDeclaration`` objects) meets them
    all."""
    v = vocabulary or default_vocabulary()
    if query.event_ids and not hashed_ids(query):
        ids = {event_id, event.get("eventID")}
        if not ids & set(query.event_ids):
            return False
    persistent = event.get("persistentDisposition")
    persistent = persistent if isinstance(persistent, Mapping) else {}
    if query.persistent_set and not _terms(v, "disposition", persistent.get("set")) & set(
        query.persistent_set
    ):
        return False
    if query.persistent_unset and not _terms(v, "disposition", persistent.get("unset")) & set(
        query.persistent_unset
    ):
        return False
    if query.transformation_ids and event.get("transformationID") not in query.transformation_ids:
        return False
    if declaration_conditions(query):
        embedded = event.get("errorDeclaration")
        candidates = [embedded] if isinstance(embedded, Mapping) else []
        if not any(_declaration_ok(query, d, v) for d in [*candidates, *declared]):
            return False
    if query.biz_transactions:
        found = set()
        for element in event.get("bizTransactionList") or ():
            if isinstance(element, Mapping):
                kind = _term(v, "bizTransactionType", element.get("type"))
                found.add((kind, element.get("bizTransaction")))
        if not all(
            any((kind, value) in found for value in values)
            for kind, values in query.biz_transactions
        ):
            return False
    if query.sources and not _parties(v, event.get("sourceList"), "source", query.sources):
        return False
    if query.destinations and not _parties(
        v, event.get("destinationList"), "destination", query.destinations
    ):
        return False
    if not all(_field(event, f) for f in query.fields):
        return False
    for name, in_ilmd in query.exists:
        holder = event.get("ilmd") if in_ilmd else event
        if not isinstance(holder, Mapping) or name not in holder:
            return False
    return True
