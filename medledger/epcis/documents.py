"""Where a captured document keeps its events: an EPCISDocument or an EPCISQueryDocument.

The REST binding's capture interface takes both (``POST /capture``: "This endpoint should
support both EPCISDocument and EPCISQueryDocument as input"). An EPCISDocument lists its events
at ``/epcisBody/eventList``; an EPCISQueryDocument (a query's answer, passed on by a partner) at
``/epcisBody/queryResults/resultsBody/eventList``. The rest of the intake reads events the same
way whatever their document; the pointers in its errors name ``/epcisBody/eventList/<i>``, and
:func:`relocate` moves them to where the events really are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medledger.errors import ValidationError, echo

#: Where the events of each captured document type are (JSON pointers).
EVENT_LISTS = {
    "EPCISDocument": "/epcisBody/eventList",
    "EPCISQueryDocument": "/epcisBody/queryResults/resultsBody/eventList",
}
_INTAKE_BASE = EVENT_LISTS["EPCISDocument"]


@dataclass(frozen=True)
class EventList:
    """The events of a document, and the JSON pointer of their list in it."""

    events: list[Any]
    pointer: str


def event_list(document: Mapping[str, Any]) -> EventList:
    """The events of an EPCISDocument (``epcisBody.eventList``) or an EPCISQueryDocument
    (``epcisBody.queryResults.resultsBody.eventList``); anything else is refused with rule
    ``document.type``. Call it on a schema-valid document: the shapes are not checked twice."""
    kind = document.get("type")
    body = document.get("epcisBody")
    events: Any = None
    if isinstance(body, Mapping):
        if kind == "EPCISDocument":
            events = body.get("eventList")
        elif kind == "EPCISQueryDocument":
            results = body.get("queryResults")
            inner = results.get("resultsBody") if isinstance(results, Mapping) else None
            events = inner.get("eventList") if isinstance(inner, Mapping) else None
    if not isinstance(events, list):
        raise ValidationError(
            "only an EPCISDocument with epcisBody.eventList or an EPCISQueryDocument with "
            f"epcisBody.queryResults.resultsBody.eventList is captured, not a {echo(kind)}",
            rule="document.type",
            pointer="/type",
        )
    return EventList(events, EVENT_LISTS[str(kind)])


def event_count(document: Any) -> int:
    """How many events ``document`` names (0 when it is not a capturable document)."""
    if not isinstance(document, Mapping):
        return 0
    try:
        return len(event_list(document).events)
    except ValidationError:
        return 0


def relocate(error: ValidationError, pointer: str) -> ValidationError:
    """``error`` with its pointer moved from ``/epcisBody/eventList/...`` (how the intake's
    checks name an event) to ``pointer/...``, the event list of the document at hand."""
    if pointer != _INTAKE_BASE and error.pointer and error.pointer.startswith(_INTAKE_BASE):
        error.pointer = pointer + error.pointer[len(_INTAKE_BASE) :]
    return error


def with_events(document: Mapping[str, Any], events: list[Any]) -> dict[str, Any]:
    """A shallow copy of ``document`` whose event list is ``events`` (the rest shared): to
    check a document's envelope apart from its events (``[]``)."""
    copy = dict(document)
    body = dict(copy["epcisBody"])
    copy["epcisBody"] = body
    if copy.get("type") == "EPCISQueryDocument":
        results = dict(body["queryResults"])
        results["resultsBody"] = {**results["resultsBody"], "eventList": events}
        body["queryResults"] = results
    else:
        body["eventList"] = events
    return copy
