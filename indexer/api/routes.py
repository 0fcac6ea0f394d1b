"""The routes, one router per resource. Every endpoint but the operations ones (/healthz,
/readyz, /metrics) and the public pack check (/check) needs a reader key (regulator or
auditor: everything, read-only); an inspector's key reads only /stock, /alerts and /recalls,
scoped to its region (`ScopeDep`), and the EPCIS event routes and exports (`VisibilityDep`:
its region's events), a participant's key only the EPCIS event routes and exports (its custody
chain's events); both are refused (403) everywhere else. Every error is problem+json (see
servicekit/http/problems.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from sqlalchemy import select

from chain.client import Chain
from indexer.alert_kinds import AlertKind, Severity
from indexer.api.deps import (
    CheckCallerDep,
    ReaderDep,
    ScopeDep,
    ServiceDep,
    SessionDep,
    TodayDep,
    VisibilityDep,
)
from indexer.api.epcis_routes import (
    RECEIPT_TEMPLATE,
    epcis_answer,
    events_answer,
    require_events_format,
    token_scope,
)
from indexer.api.schemas import (
    AlertPage,
    AnchorPage,
    Check,
    CheckRequest,
    EpcState,
    EventsDocument,
    Health,
    OriginBundle,
    ParticipantPage,
    RecallPage,
    RecallScope,
    ReceiptDocument,
    Stock,
    SuspensionPage,
    Trace,
)
from indexer.queries import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    alerts,
    anchors,
    epcs,
    recalls,
    suspensions,
)
from indexer.queries import check as check_queries
from indexer.queries import exports as export_queries
from indexer.queries import masterdata as masterdata_queries
from indexer.queries import origin as origin_queries
from indexer.queries import participants as participant_queries
from indexer.queries import receipts as receipt_queries
from indexer.queries import stock as stock_queries
from indexer.queries import trace as trace_queries
from indexer.queries.common import address, gtin14, identifier, lot_text
from indexer.queries.events import query_events
from indexer.queries.recalls import SCOPE_MAX_LIMIT
from indexer.store.models import ParticipantRow
from indexer.store.writes import get_checkpoint
from medledger.epcis import gs1
from medledger.epcis.query import parse_query
from medledger.errors import NotFoundError, QueryParameterError, ValidationError
from medledger.formats.mass_balance import parse_strength
from medledger.regions import region_code
from servicekit.http.bodies import StrictJSONRoute
from servicekit.http.operations import (
    metrics_response,
    readiness_response,
    run_checks,
    standard_checks,
)

trace = APIRouter(tags=["trace"], route_class=StrictJSONRoute)
epc = APIRouter(prefix="/epcs", tags=["state"], route_class=StrictJSONRoute)
stock = APIRouter(tags=["state"], route_class=StrictJSONRoute)
recall = APIRouter(prefix="/recalls", tags=["recalls"], route_class=StrictJSONRoute)
suspension = APIRouter(prefix="/suspensions", tags=["recalls"], route_class=StrictJSONRoute)
registry = APIRouter(tags=["chain"], route_class=StrictJSONRoute)
health = APIRouter(tags=["operations"], route_class=StrictJSONRoute)
check = APIRouter(tags=["check"], route_class=StrictJSONRoute)
origin = APIRouter(tags=["origin"], route_class=StrictJSONRoute)
receipts = APIRouter(prefix="/events", tags=["origin"], route_class=StrictJSONRoute)
exports = APIRouter(tags=["exchange"], route_class=StrictJSONRoute)
masterdata = APIRouter(prefix="/masterdata", tags=["masterdata"], route_class=StrictJSONRoute)


@masterdata.get("/{element:path}", summary="What a location or product was said to be, and when")
def get_masterdata(
    element: Annotated[
        str,
        Path(
            description="a GLN (13 digits, SGLN URN, GLN Digital Link) or a GTIN (8, 12 or 14 "
            "digits, SGTIN pattern, GTIN Digital Link)"
        ),
    ],
    session: SessionDep,
    _reader: ReaderDep,
    at: Annotated[
        datetime | None,
        Query(description="the moment asked about (with a time zone); default now"),
    ] = None,
) -> dict[str, Any]:
    """Every anchored version of the element's master data (docs/masterdata.md), oldest effective
    first, each with its record id, declarer, anchor (root, block) and the record itself, and
    `current`: the version in effect `at` (null: none yet). 404 if none was ever anchored."""
    if at is not None and at.tzinfo is None:
        raise ValidationError("at needs a time zone", rule="query.at", pointer="at")
    return masterdata_queries.versions(session, masterdata_queries.element_of(element), at=at)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size (1 to {MAX_LIMIT})")]
Cursor = Annotated[
    str | None, Query(max_length=2000, description="`next` of the previous page (opaque)")
]
EPC_HELP = "EPC URN, GS1 Digital Link URI or element string (percent-encode a DL URI)"


def _link(request: Request, response: Response, cursor: str | None) -> None:
    """The EPCIS query binding's way to say there is more: a ``Link: rel="next"`` header, to
    the same path with the same filters and the next page's cursor."""
    if cursor is None:
        return
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    query = urlencode([*kept, ("cursor", cursor)])
    response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'


@trace.get("/trace/{id:path}", response_model=Trace, summary="Trace a pack, case, pallet or lot")
def get_trace(
    id: Annotated[str, Path(description="SGTIN, SSCC or LGTIN (lot class) " + EPC_HELP)],
    session: SessionDep,
    _reader: ReaderDep,
) -> dict[str, Any]:
    """Upstream to the finished lot, its transformation event, the API lots it consumed (with
    quantity and unit), each API lot's commissioning event and maker; downstream every state
    version of the item in order (dispensing included). A case or pallet also lists its
    contents; a lot gives counts of its items by holder and status. Every step carries its
    eventID and anchor."""
    return trace_queries.trace(session, id)


@origin.get(
    "/origin/{id:path}",
    summary="The origin bundle of a pack, case or lot",
    response_model=None,
    responses={
        200: {"model": OriginBundle, "description": "The bundle `provenance origin-proof` writes"}
    },
)
def get_origin(
    id: Annotated[str, Path(description="SGTIN, SSCC or LGTIN (lot class) " + EPC_HELP)],
    service: ServiceDep,
    session: SessionDep,
    _reader: ReaderDep,
    api_per_pack: Annotated[
        str | None,
        Query(max_length=32, description="API per pack (`12.5g`), over the ILMD's apiPerPack"),
    ] = None,
    tolerance: Annotated[
        str, Query(max_length=32, description="mass-balance tolerance (`5%` or `0.05`)")
    ] = "5%",
) -> JSONResponse:
    """The origin bundle (docs/origin.md) made from the index alone: the trace, and receipts the
    index issues itself (as `GET /events/{eventID}/receipt`), no gateway involved. The same
    document `provenance origin-proof` writes; `provenance verify` checks it. 404 when the item,
    a step of its origin, or a fully indexed batch of one of its events is missing."""
    try:
        strength = parse_strength(api_per_pack) if api_per_pack is not None else None
    except origin_queries.OriginError as exc:
        raise ValidationError(str(exc), rule="query.apiPerPack", pointer="api_per_pack") from exc
    try:
        fraction = origin_queries.parse_tolerance(tolerance)
    except origin_queries.OriginError as exc:
        raise ValidationError(str(exc), rule="query.tolerance", pointer="tolerance") from exc
    try:
        bundle = origin_queries.origin_bundle(
            session, id, service.deployment, api_per_pack=strength, tolerance=fraction
        )
    except origin_queries.OriginUnknownError as exc:
        raise NotFoundError(str(exc)) from exc
    except origin_queries.OriginError as exc:
        raise ValidationError(
            f"no origin bundle can be made: {exc}", rule="origin.bundle", pointer="id"
        ) from exc
    return JSONResponse(bundle)


EXPORT_ID_HELP = (
    "SGTIN, SSCC or LGTIN " + EPC_HELP + "; a GTIN and a lot (`04700123123452 B2026-117`); or "
    "a batch's Merkle root (`0x` and 64 hex digits)"
)


@exports.get(
    "/exports/{id:path}/receipts",
    summary="The receipts of an export's events",
    response_model=None,
    responses={200: {"description": "`subject` and `receipts` (each a receipt, event embedded)"}},
)
def get_export_receipts(
    id: Annotated[str, Path(description=EXPORT_ID_HELP)],
    service: ServiceDep,
    session: SessionDep,
    visible: VisibilityDep,
) -> JSONResponse:
    """The receipt of every event `GET /exports/{id}` answers (the same key, the same view), in
    its order, each as `GET /events/{eventID}/receipt` issues it: `{"subject": {"identifier",
    "kind"}, "receipts": [...]}`. 404 as `GET /exports/{id}`, or when a batch of one of its
    events is not fully indexed. See docs/exchange.md."""
    found = export_queries.export_events(session, id, visible.events(session))
    receipts = export_queries.export_receipts(session, found, service.deployment)
    return JSONResponse(
        {"subject": {"identifier": found.identifier, "kind": found.kind}, "receipts": receipts}
    )


@exports.get(
    "/exports/{id:path}",
    summary="The EPCIS document of a pack, case, lot or batch, for another system",
    response_model=None,
    responses={
        200: {"description": "An EPCISDocument (JSON-LD; EPCIS 2.0 XML on Accept: application/xml)"}
    },
)
def get_export(
    id: Annotated[str, Path(description=EXPORT_ID_HELP)],
    request: Request,
    session: SessionDep,
    visible: VisibilityDep,
) -> Response:
    """The events of the item's custody chain (every event naming it or a container while it
    was inside, a lot's packs included; the transformation that made its lot and where each
    input lot began) or of one anchored batch, in chain order, as an EPCISDocument another
    EPCIS system can capture: each event as anchored, so it keeps its eventID there. Every
    reader key, each its own view (a participant's custody chain, an inspector's region: only
    those events). Their receipts: `GET /exports/{id}/receipts` (each event's, also the
    `Link-Template` header). The canonical subject and its kind (`pack`, `logistic-unit`,
    `lot`, `batch`) are in the `Export-Subject` and `Export-Kind` headers. 404 when the index
    has none (or none the key may see); 413 beyond 10,000 events. See docs/exchange.md."""
    require_events_format(request)
    found = export_queries.export_events(session, id, visible.events(session))
    document = export_queries.export_document(session, found)
    headers = {
        "Link-Template": RECEIPT_TEMPLATE,
        "Export-Subject": quote(found.identifier, safe=":/;?=&%"),
        "Export-Kind": found.kind,
    }
    return epcis_answer(request, document, None, headers, xml=True)


@receipts.get(
    "/{event_id:path}/receipt",
    response_model=ReceiptDocument,
    summary="The receipt of an indexed event, issued by the index",
)
def get_receipt(
    event_id: Annotated[
        str, Path(description="ni:///sha-256;<hex>?ver=CBV2.0 (percent-encoded) or 64 hex digits")
    ],
    service: ServiceDep,
    session: SessionDep,
    _reader: ReaderDep,
) -> JSONResponse:
    """A second, independent source of receipts: the batch's tree rebuilt from the index (its
    anchor `indexed` and every one of its events indexed), so the receipt is the gateway's
    (same leaf, proof, root, transaction and block). 404 when the event is not indexed or its
    batch is not fully indexed."""
    return JSONResponse(receipt_queries.receipt_json(session, event_id, service.deployment))


def get_epc_events(
    epc: Annotated[str, Path(description=EPC_HELP)],
    service: ServiceDep,
    session: SessionDep,
    visible: VisibilityDep,
    request: Request,
) -> Response:
    """Every event naming the EPC, or one of its containers while it was inside, as anchored
    (EPCIS 2.0 JSON), in an EPCISQueryDocument valid under GS1's schema: in chain order, or as
    `GET /events` with its parameters (filters, `orderBy`, `perPage`, `nextPageToken`). The
    index's own paging (`limit`, `cursor`) still works, alone. The next page: the `Link:
    rel="next"` header; each event's receipt: the `Link-Template` one. A participant's or
    inspector's key: the events it sees only; 404 when it sees none."""
    params = request.query_params.multi_items()
    condition = visible.events(session)
    names = {name for name, _value in params}
    if names & {"limit", "cursor"}:
        others = sorted(names - {"limit", "cursor"})
        if others:
            raise QueryParameterError(
                f"{others[0]}: limit and cursor page the index's way, alone; the EPCIS "
                "parameters page with perPage and nextPageToken",
                rule="query.parameter",
                pointer=others[0],
            )
        page = epcs.epc_events(
            session,
            epc,
            limit=_whole(request.query_params.get("limit"), DEFAULT_LIMIT),
            cursor=request.query_params.get("cursor"),
            visible=condition,
        )
        response = JSONResponse(page.extra, headers={"Link-Template": RECEIPT_TEMPLATE})
        _link(request, response, page.next)
        return response
    require_events_format(request)
    query = parse_query(params)
    canonical, window = epcs.epc_window(session, epc, condition)
    answer = query_events(
        session,
        query,
        service.page_tokens,
        within=window,
        scope=token_scope(f"epc {canonical}", visible),
    )
    return events_answer(request, answer)


def _whole(text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValidationError(
            f"limit must be a whole number, got {text[:50]!r}", rule="query.limit", pointer="limit"
        )
    return int(text)


# Its parameters are read by hand (the EPCIS ones are open-ended), so not a StrictJSONRoute,
# and it is added before "/{epc:path}", which would take ".../events" as part of the EPC.
epc.add_api_route(
    "/{epc:path}/events",
    get_epc_events,
    methods=["GET"],
    response_model=None,
    responses={200: {"model": EventsDocument, "description": "An EPCISQueryDocument"}},
    summary="An EPC's events",
    route_class_override=APIRoute,
)


@epc.get("/{epc:path}", response_model=EpcState, summary="An EPC now")
def get_epc(
    epc: Annotated[str, Path(description=EPC_HELP)], session: SessionDep, _reader: ReaderDep
) -> dict[str, Any]:
    """Status, holder, location, parent, GTIN, lot, expiry, whether its lot is recalled, and the
    event that made its current state (with its anchor)."""
    return epcs.epc_state(session, epc)


@stock.get("/stock", response_model=Stock, summary="What is where now")
def get_stock(
    session: SessionDep,
    within: ScopeDep,
    participant: Annotated[
        str | None, Query(description="holder: 0x address or 13-digit GLN")
    ] = None,
    location: Annotated[
        str | None, Query(description="SGLN URN, GLN DL URI or 13-digit GLN")
    ] = None,
    gtin: Annotated[str | None, Query(description="8 to 14 digits")] = None,
    lot: Annotated[str | None, Query(max_length=20)] = None,
    region: Annotated[
        str | None,
        Query(
            max_length=6,
            description="ISO 3166-2 subdivision (KG-C) or country (KG): items at locations "
            "its master data places there",
        ),
    ] = None,
) -> dict[str, Any]:
    """Counts of live items (active, in transit) by holder, location, GTIN, lot and status, and
    class-level holdings (kg of API lots) that are not zero. Holdings have no location: a
    location or region filter leaves them out. An inspector's key: what its region's
    participants hold. Names and regions from master data (docs/masterdata.md), and `byRegion`."""
    holder = None
    if participant is not None:
        if participant.strip().isdigit():
            gln = gs1.gln(participant.strip(), pointer="participant")
            found = session.scalars(
                select(ParticipantRow.address).where(ParticipantRow.gln == gln)
            ).first()
            if found is None:
                raise NotFoundError(f"no participant has GLN {participant}")
            holder = found
        else:
            holder = address(participant)
    where = None
    if location is not None:
        text = location.strip()
        where = identifier(
            f"https://id.gs1.org/414/{text}" if text.isdigit() else text, pointer="location"
        )
    return stock_queries.stock(
        session,
        participant=holder,
        location=where,
        gtin=gtin14(gtin) if gtin is not None else None,
        lot=lot_text(lot) if lot is not None else None,
        region=region_code(region, pointer="region") if region is not None else None,
        within=within,
    )


@recall.get("", response_model=RecallPage, summary="Lots in the recall registry")
def get_recalls(
    session: SessionDep,
    within: ScopeDep,
    request: Request,
    response: Response,
    recalled: Annotated[bool | None, Query(description="only recalled (or not) lots")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The registry's lots and their recall state; an inspector's key: the lots its region's
    participants made or hold packs of."""
    page = recalls.list_recalls(
        session, recalled=recalled, limit=limit, cursor=cursor, within=within
    )
    _link(request, response, page.next)
    return page.to_json()


@suspension.get("", response_model=SuspensionPage, summary="Suspensions pending investigation")
def get_suspensions(
    session: SessionDep,
    within: ScopeDep,
    request: Request,
    response: Response,
    active: Annotated[bool | None, Query(description="only current (or ended) ones")] = None,
    gtin: Annotated[str | None, Query(description="one lot's: its GTIN")] = None,
    lot: Annotated[str | None, Query(description="one lot's: its lot number")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Every suspension the chain recorded, oldest first, with its case number and how it
    ended (lifted, escalated to a recall); an inspector's key: its region's lots."""
    page = suspensions.list_suspensions(
        session,
        active=active,
        gtin=gtin14(gtin) if gtin is not None else None,
        lot=lot_text(lot) if lot is not None else None,
        limit=limit,
        cursor=cursor,
        within=within,
    )
    _link(request, response, page.next)
    return page.to_json()


@recall.get(
    "/{gtin}/{lot:path}/scope", response_model=RecallScope, summary="Who holds a lot's packs"
)
def get_recall_scope(
    gtin: str,
    lot: str,
    session: SessionDep,
    within: ScopeDep,
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=SCOPE_MAX_LIMIT, description=f"1 to {SCOPE_MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Cursor = None,
    region: Annotated[
        str | None,
        Query(
            max_length=6,
            description="ISO 3166-2 subdivision (KG-C) or country (KG): the items at locations "
            "its master data places there",
        ),
    ] = None,
) -> Response:
    """Every item of the lot (by identifier, a page at a time) with its status and current
    holder; counts by holder and status; the lot's recall state in the registry. An
    inspector's key: the items its region's participants hold. `region`: the items at
    locations master data places there (as `/stock?region=`), counts over those alone."""
    g, lt = gtin14(gtin), lot_text(lot)
    # The body is written by the query (on PostgreSQL mostly by the database: up to 10,000
    # items), already in RecallScope's shape, so it is sent as it is, not validated again.
    body, following = recalls.scope_body(
        session,
        g,
        lt,
        limit=limit,
        cursor=cursor,
        within=within,
        region=region_code(region, pointer="region") if region is not None else None,
    )
    response = Response(body, media_type="application/json")
    _link(request, response, following)
    return response


@registry.get("/alerts", response_model=AlertPage, summary="Alerts, newest first")
def get_alerts(
    session: SessionDep,
    within: ScopeDep,
    request: Request,
    response: Response,
    kind: Annotated[AlertKind | None, Query(description="see docs/detection.md")] = None,
    severity: Severity | None = None,
    subject: Annotated[str | None, Query(description="an identifier (" + EPC_HELP + ")")] = None,
    region: Annotated[
        str | None,
        Query(
            max_length=6,
            description="ISO 3166-2 subdivision (KG-C) or country (KG): the alerts concerning "
            "it (a participant or location there, by master data, else registered region)",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Newest first; an inspector's key: the alerts naming one of its region's participants
    (who anchored, held, acted, supplied, received, made: `PARTY_FIELDS`). Each alert lists
    the `regions` it concerns; the page names its participants (with their site's master data)
    and `locations` (name, region, city). `region`: only the alerts concerning it."""
    canonical = identifier(subject, pointer="subject") if subject is not None else None
    page = alerts.list_alerts(
        session,
        kind=kind,
        severity=severity,
        subject=canonical,
        limit=limit,
        cursor=cursor,
        within=within,
        region=region_code(region, pointer="region") if region is not None else None,
    )
    _link(request, response, page.next)
    return page.to_json()


@registry.get("/participants", response_model=ParticipantPage, summary="The registry now")
def get_participants(
    session: SessionDep,
    _reader: ReaderDep,
    request: Request,
    response: Response,
    gln: Annotated[str | None, Query(pattern=r"^\d{13}$")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    page = participant_queries.list_participants(session, gln=gln, limit=limit, cursor=cursor)
    _link(request, response, page.next)
    return page.to_json()


@registry.get("/anchors", response_model=AnchorPage, summary="Anchored batches, chain order")
def get_anchors(
    session: SessionDep,
    _reader: ReaderDep,
    request: Request,
    response: Response,
    submitter: Annotated[str | None, Query(description="0x address")] = None,
    status: Literal["indexed", "rejected", "unavailable"] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    who = address(submitter, pointer="submitter") if submitter is not None else None
    page = anchors.list_anchors(session, submitter=who, status=status, limit=limit, cursor=cursor)
    _link(request, response, page.next)
    return page.to_json()


CHECK_HELP = (
    "No key needed (pharmacies and patients use it). The code as scanned: a GS1 element "
    "string (raw with GS separators and optional `]d2`, or bracketed AIs), a GS1 Digital Link "
    "URI (any domain, query string allowed) or an EPC URN. Answers the verdict (ok, unknown, "
    "suspect, recalled, expired, dispensed), the product, lot and expiry, whether the lot is "
    "released or recalled, whether the pack was dispensed, its holder and status, lot or "
    "expiry mismatches between the label and the index, and the anchor of its last event. "
    "A well-formed code the index does not know is 200 with verdict `unknown`; a malformed one "
    "is 422 naming what is wrong. Without a key the answer names no participant and no site "
    "(`detail: public`: the holder by its roles only, no location, no addresses or GLNs) and "
    "counts against the client address's budget (429 with Retry-After past it); a reader key "
    "(`Bearer ik_...`) gets the full answer (`detail: full`) and no budget."
)


#: The check's key is optional (FastAPI documents any bearer dependency as required): either
#: none, or a reader key for the full answer.
KEY_OPTIONAL: dict[str, Any] = {"security": [{}]}


@check.get(
    "/check",
    response_model=Check,
    summary="Verify a pack (no key needed)",
    description=CHECK_HELP,
    openapi_extra=KEY_OPTIONAL,
)
def get_check(
    session: SessionDep,
    today: TodayDep,
    caller: CheckCallerDep,
    code: Annotated[
        str,
        Query(
            min_length=1,
            max_length=check_queries.MAX_CODE_LENGTH,
            description="the scanned code (percent-encoded)",
        ),
    ],
) -> dict[str, Any]:
    answer = check_queries.check(session, code, today=today)
    return check_queries.for_caller(answer, full=caller is not None)


@check.post(
    "/check",
    response_model=Check,
    summary="Verify a pack from a scanner payload (no key needed)",
    description=CHECK_HELP + " The POST form carries the code in JSON, so control characters "
    "(the GS separator, `\\u001d`) survive.",
    openapi_extra=KEY_OPTIONAL,
)
def post_check(
    session: SessionDep, today: TodayDep, caller: CheckCallerDep, body: CheckRequest
) -> dict[str, Any]:
    answer = check_queries.check(session, body.code, today=today)
    return check_queries.for_caller(answer, full=caller is not None)


@health.get("/healthz", response_model=Health, summary="Liveness and lag (no key needed)")
def healthz(request: Request, service: ServiceDep) -> dict[str, Any]:
    """Always 200 while the process serves HTTP (see /readyz for readiness); checkpoint and
    lag are null when the database or the node does not answer (the node within about 2 s)."""
    checkpoint: int | None = None
    lag: int | None = None
    try:
        with service.sessions() as session:
            found = get_checkpoint(session)
        checkpoint = found.block_number if found is not None else None
        if checkpoint is not None:
            lag = service.lag_at(request.app.state.probe.block_number)
    except Exception:  # noqa: BLE001 - liveness depends on neither the database nor the node
        pass
    return {"status": "ok", "checkpoint": checkpoint, "lag": lag}


@health.get(
    "/readyz",
    summary="Readiness: database, chain, contracts and lag (no key needed)",
    responses={503: {"description": "Not ready: the failing checks (problem+json)"}},
)
def readyz(request: Request, service: ServiceDep) -> JSONResponse:
    """200 when the index database answers `SELECT 1`, the node gives its block number, the
    deployment's three contracts have code and the index is at most `ready_max_lag_blocks`
    blocks behind the head (beyond `confirmations`); otherwise 503 naming the failing checks.
    Each check gives up after about 2 s."""
    probe: Chain = request.app.state.probe
    settings = service.settings

    def lag() -> str:
        behind = service.lag_at(probe.block_number)
        allowed = settings.ready_max_lag_blocks + settings.confirmations
        if behind > allowed:
            raise ValueError(f"{behind} blocks behind the head (at most {allowed})")
        return f"{behind} blocks behind the head (at most {allowed})"

    checks = standard_checks(service.engine, probe, service.deployment) | {"lag": lag}
    return readiness_response(run_checks(checks))


@health.get(
    "/metrics", summary="Prometheus metrics (text format)", response_class=PlainTextResponse
)
def metrics(request: Request) -> Response:
    return metrics_response(request.app.state.metrics.registry)
