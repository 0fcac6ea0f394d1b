"""The EPCIS 2.0 REST binding's query interface: ``GET /events`` with the standard parameters,
and the top-level resources (``/eventTypes``, ``/bizSteps``, ``/bizLocations``,
``/readPoints``, ``/dispositions``, ``/epcs``: what the index's events name) with their
``/{value}/events`` (``GET /events`` with that value as a filter; ``/epcs/{epc}/events`` is the
EPC's own route, with its containers' events: indexer/api/routes.py).

The parameters are read by :func:`medledger.epcis.query.parse_query`, not declared to FastAPI:
their names are open-ended (``EQ_ILMD_ns:field``, ``EQ_bizTransaction_type``), and anything it
does not know is refused there (400, problem+json), never ignored. What a reader key sees
(indexer/queries/visibility.py): a regulator or auditor every event, an inspector its region's,
a participant its custody chain's; the lists of values name only what the reader's events name,
and an event or value it may not see is 404, as if the index had none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from indexer.api.deps import ServiceDep, SessionDep, VisibilityDep
from indexer.queries.events import EPCIS_CONTEXT, EventsAnswer, query_events
from indexer.queries.resources import RESOURCES, collection, known_value
from indexer.queries.visibility import Visibility
from indexer.service import IndexerService
from medledger.epcis.event_id import HASH_PREFIX, EventId
from medledger.epcis.query import parse_query
from medledger.epcis.xml_write import write_document
from medledger.errors import (
    NotAcceptableError,
    NotFoundError,
    QueryParameterError,
    ValidationError,
)
from servicekit.http.negotiation import accepts_json, preferred_format

epcis = APIRouter(tags=["epcis"])

#: Where each answered event's receipt is (RFC 9652 Link-Template; the eventID percent-encoded).
RECEIPT_TEMPLATE = '</events/{eventID}/receipt>; rel="https://provenance.example/rels/receipt"'
VERSION_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}

EVENTS_HELP = (
    "Events matching the EPCIS 2.0 query parameters (eventType, GE_/LT_eventTime, "
    "GE_/LT_recordTime, EQ_action, EQ_bizStep, EQ_disposition, EQ_persistentDisposition_set/"
    "unset, EQ_/WD_readPoint, EQ_/WD_bizLocation, EQ_transformationID, MATCH_epc, parentID, "
    "inputEPC, outputEPC, anyEPC, epcClass, inputEPCClass, outputEPCClass, anyEPCClass, "
    "EQ_/GT_/GE_/LT_/LE_quantity, EQ_eventID, EXISTS_errorDeclaration, GE_/LT_"
    "errorDeclarationTime, EQ_errorReason, EQ_correctiveEventID, EQ_bizTransaction_<type>, "
    "EQ_source_<type>, EQ_destination_<type>, EQ_/GT_/GE_/LT_/LE_[ILMD_]<ns:field>, "
    "EXISTS_[ILMD_]<ns:field>, orderBy, orderDirection, eventCountLimit, maxEventCount, "
    "perPage, nextPageToken; lists pipe-delimited), as an EPCISQueryDocument. Without orderBy: "
    'chain order. More pages: `Link: rel="next"`; each event\'s receipt: the `Link-Template` '
    "header. An unknown, malformed or not yet supported parameter is 400 (problem+json); more "
    "events than maxEventCount is 413. See docs/indexer.md."
)


@epcis.get(
    "/events",
    summary="EPCIS 2.0 events query",
    description=EVENTS_HELP,
    response_model=None,
    responses={200: {"description": "An EPCISQueryDocument (GS1's EPCIS 2.0 JSON schema)"}},
)
def get_events(
    request: Request, service: ServiceDep, session: SessionDep, visible: VisibilityDep
) -> Response:
    return _events(request, service, session, visible, [])


@epcis.get(
    "/events/{event_id:path}",
    summary="EPCIS 2.0: one event by its eventID",
    description="An EPCISQueryDocument holding the event: its eventID (`ni:///sha-256;...?"
    "ver=CBV2.0`, percent-encoded, or its 64 hex digits, or an eventID it was captured with). "
    "404 when the index has no such event, or none the key may see; no query parameters. "
    "`GET /events/{eventID}/receipt` is its receipt.",
    response_model=None,
    responses={200: {"description": "An EPCISQueryDocument of the one event"}},
)
def get_event(
    event_id: str,
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    visible: VisibilityDep,
) -> Response:
    wanted = event_id
    if not event_id.startswith(HASH_PREFIX) and ":" not in event_id:
        try:
            wanted = EventId.parse(event_id).uri
        except ValidationError as exc:
            raise QueryParameterError(str(exc), rule="query.parameter", pointer="eventID") from None
    require_events_format(request)
    for name, _value in request.query_params.multi_items():
        raise QueryParameterError(
            f"{name}: GET /events/{{eventID}} takes no parameters",
            rule="query.parameter",
            pointer=name,
        )
    answer = query_events(
        session,
        parse_query([("EQ_eventID", wanted)]),
        service.page_tokens,
        within=visible.events(session),
        scope=token_scope("events", visible),
    )
    if not answer.document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
        # an event the key may not see is answered alike: its existence does not leak
        raise NotFoundError(f"the index has no event {wanted}")
    return epcis_answer(
        request, answer.document, None, {"Link-Template": RECEIPT_TEMPLATE}, xml=True
    )


def require_json(request: Request) -> None:
    """406 unless the ``Accept`` header lets a JSON(-LD) answer through (a resource list, which
    has no EPCIS XML form)."""
    accept = request.headers.get("accept")
    if not accepts_json(accept):
        raise NotAcceptableError(
            f"Accept {(accept or '')[:200]!r}: this answer is JSON-LD only (application/ld+json "
            "or application/json; EPCIS XML for event queries only)",
            rule="query.accept",
            pointer="Accept",
        )


def require_events_format(request: Request) -> None:
    """406 unless the ``Accept`` header lets a JSON(-LD) or an EPCIS 2.0 XML answer through."""
    accept = request.headers.get("accept")
    if preferred_format(accept) is None:
        raise NotAcceptableError(
            f"Accept {(accept or '')[:200]!r}: the index answers EPCIS event queries in JSON-LD "
            "(application/ld+json, application/json) or EPCIS 2.0 XML (application/xml, text/xml)",
            rule="query.accept",
            pointer="Accept",
        )


def token_scope(name: str, visible: Visibility) -> str:
    """What a page token is bound to: the route's ``name`` and, for a restricted key, its view
    (a token of one view does not page another)."""
    return name if visible.everything else f"{name} {visible.name}"


def _events(
    request: Request,
    service: IndexerService,
    session: Session,
    visible: Visibility,
    added: list[tuple[str, str]],
) -> Response:
    require_events_format(request)
    params = request.query_params.multi_items()
    for name, _value in added:
        if any(k == name for k, _v in params):
            raise QueryParameterError(
                f"{name}: given by the path already", rule="query.parameter", pointer=name
            )
    answer = query_events(
        session,
        parse_query([*params, *added]),
        service.page_tokens,
        within=visible.events(session),
        scope=token_scope("events", visible),
    )
    return events_answer(request, answer)


def epcis_answer(
    request: Request,
    document: Any,
    token: str | None,
    extra: dict[str, str],
    *,
    xml: bool = False,
) -> Response:
    """The answer in JSON-LD or, for an EPCISQueryDocument (``xml``) whose client's ``Accept``
    prefers it, as EPCIS 2.0 XML (:mod:`medledger.epcis.xml_write`); events with no XML form:
    406 ``query.accept``."""
    headers = _headers(request, token, extra)
    if xml and preferred_format(request.headers.get("accept")) == "xml":
        try:
            body = write_document(document)
        except ValidationError as exc:
            raise NotAcceptableError(
                f"these events have no EPCIS 2.0 XML form ({exc}); ask for application/ld+json",
                rule="query.accept",
                pointer="Accept",
            ) from None
        return Response(body, media_type="application/xml", headers=headers)
    return json_answer(document, headers)


def _headers(request: Request, token: str | None, extra: dict[str, str]) -> dict[str, str]:
    headers = VERSION_HEADERS | extra
    if token is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
        following = urlencode([*kept, ("nextPageToken", token)])
        headers["Link"] = f'<{request.url.path}?{following}>; rel="next"'
    return headers


def events_answer(request: Request, answer: EventsAnswer) -> Response:
    """A page of events (:func:`~indexer.queries.events.query_events`) as
    :func:`epcis_answer` writes it (with the receipt's link template); JSON spliced from the
    stored events where it can be (:meth:`~indexer.queries.events.EventsAnswer.json_body`)."""
    extra = {"Link-Template": RECEIPT_TEMPLATE}
    if preferred_format(request.headers.get("accept")) != "xml":
        body = answer.json_body()
        if body is not None:
            headers = _headers(request, answer.next_token, extra)
            return Response(body, media_type="application/json", headers=headers)
    return epcis_answer(request, answer.document, answer.next_token, extra, xml=True)


def json_answer(document: Any, headers: dict[str, str]) -> Response:
    """``document`` as JSON, the bytes Starlette's ``JSONResponse`` writes (compact, UTF-8, key
    order kept) but by orjson: a page of 1,000 events in a fraction of the time. orjson would
    write ``null`` for a ``NaN`` and stops at 64-bit integers; the index keeps events with
    either as :mod:`json` wrote them, and those, like any answer holding a ``null``, go the
    ``JSONResponse`` way (which refuses ``NaN`` as before)."""
    try:
        body = orjson.dumps(document)
    except TypeError:
        body = b"null"
    if b"null" in body:
        return JSONResponse(document, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _collection_route(resource: str) -> Callable[..., Response]:
    def get_collection(
        request: Request, service: ServiceDep, session: SessionDep, visible: VisibilityDep
    ) -> Response:
        require_json(request)
        params = request.query_params.multi_items()
        for name, _value in params:
            if name not in ("perPage", "nextPageToken"):
                raise QueryParameterError(
                    f"{name}: not a parameter of /{resource} (perPage, nextPageToken)",
                    rule="query.parameter",
                    pointer=name,
                )
        query = parse_query(params)
        page = collection(
            session,
            resource,
            service.page_tokens,
            per_page=query.per_page,
            token=query.next_page_token,
            visible=visible.events(session),
            view=None if visible.everything else visible.name,
        )
        return epcis_answer(request, page.document, page.next_token, {})

    return get_collection


def _events_route(parameter: str) -> Callable[..., Response]:
    def get_value_events(
        value: str,
        request: Request,
        service: ServiceDep,
        session: SessionDep,
        visible: VisibilityDep,
    ) -> Response:
        return _events(request, service, session, visible, [(parameter, value)])

    return get_value_events


def _sub_resources_route(resource: str) -> Callable[..., Response]:
    def get_sub_resources(
        value: str, request: Request, session: SessionDep, visible: VisibilityDep
    ) -> Response:
        require_json(request)
        for name, _value in request.query_params.multi_items():
            raise QueryParameterError(
                f"{name}: /{resource}/{{value}} takes no parameters",
                rule="query.parameter",
                pointer=name,
            )
        if not known_value(session, resource, value, visible.events(session)):
            raise NotFoundError(f"no event of the index names {resource} {value[:200]!r}")
        document = {"@context": EPCIS_CONTEXT, "type": "Collection", "member": ["events"]}
        return epcis_answer(request, document, None, {})

    return get_sub_resources


for _resource, (_column, _parameter) in RESOURCES.items():
    epcis.add_api_route(
        f"/{_resource}",
        _collection_route(_resource),
        methods=["GET"],
        summary=f"EPCIS 2.0: the {_resource} the index's events name",
        description="A Collection (`member`), in the values' order: those the events the key "
        'sees name; `perPage`, `nextPageToken` (`Link: rel="next"`). See docs/indexer.md.',
        response_model=None,
        responses={200: {"description": "A Collection of the binding"}},
    )
    if _resource != "epcs":  # /epcs/{epc}/events: indexer/api/routes.py
        epcis.add_api_route(
            f"/{_resource}/{{value:path}}/events",
            _events_route(_parameter),
            methods=["GET"],
            summary=f"EPCIS 2.0: the events of one of the {_resource}",
            description=f"`GET /events` with `{_parameter}` set to the path's value (any other "
            "parameter of /events may be added; giving this one again is 400).",
            response_model=None,
            responses={200: {"description": "An EPCISQueryDocument"}},
        )
        epcis.add_api_route(
            f"/{_resource}/{{value:path}}",
            _sub_resources_route(_resource),
            methods=["GET"],
            summary=f"EPCIS 2.0: the sub-resources of one of the {_resource}",
            description='A Collection whose `member` is `["events"]` (the binding\'s HATEOAS '
            "discovery); 404 when no event the key sees names the value.",
            response_model=None,
            responses={200: {"description": "A Collection of sub-resources"}},
        )
