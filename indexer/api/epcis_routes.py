"""The EPCIS 2.0 REST binding's query interface: ``GET /events`` with the standard parameters.

The parameters are read by :func:`medledger.epcis.query.parse_query`, not declared to FastAPI:
their names are open-ended (``EQ_ILMD_ns:field``, ``EQ_bizTransaction_type``), and anything it
does not know is refused there (400, problem+json), never ignored. Reader keys as everywhere
(regulator and auditor: every event; an inspector: 403).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from indexer.api.deps import ReaderDep, ServiceDep, SessionDep
from indexer.queries.events import query_events
from medledger.epcis.query import parse_query

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
    request: Request, service: ServiceDep, session: SessionDep, _reader: ReaderDep
) -> Response:
    query = parse_query(request.query_params.multi_items())
    answer = query_events(session, query, service.page_tokens)
    headers = dict(VERSION_HEADERS)
    headers["Link-Template"] = RECEIPT_TEMPLATE
    if answer.next_token is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
        following = urlencode([*kept, ("nextPageToken", answer.next_token)])
        headers["Link"] = f'<{request.url.path}?{following}>; rel="next"'
    return JSONResponse(answer.document, headers=headers)
