"""Capture (EPCIS 2.0 REST binding): POST a document, GET a capture job, GET the caller's jobs.

The binding's headers and codes are in :mod:`gateway.api.epcis_binding` (docs/gateway.md,
"Capture and the REST binding")."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway.api.deps import ActiveParticipantDep, CaptureDep, ParticipantDep
from gateway.api.epcis_binding import (
    REFUSED_STATUS,
    CaptureRoute,
    answer_format,
    capture_format,
    error_behaviour,
    require_acceptable,
    require_document_version,
    require_versions,
)
from gateway.api.schemas import CaptureAccepted, CapturePublic
from gateway.services.capture import CapturePage
from gateway.store.capture import CaptureInfo
from medledger.epcis import xml_capture
from medledger.epcis.capture_job_xml import write_capture_job, write_capture_jobs
from medledger.errors import ValidationError
from servicekit.http import strict_json
from servicekit.http.problems import PROBLEM_BASE, PROBLEM_JSON

capture = APIRouter(prefix="/capture", tags=["capture"], route_class=CaptureRoute)

#: What ``POST /capture`` refuses with (the binding's codes; :class:`CaptureRoute` makes every
#: refused document a 400). A ``default`` of its own keeps FastAPI from listing a 422 it never
#: answers.
_CAPTURE_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The document or request breaks a rule (the binding's 400; "
          "`rule`, `pointer`, `capture_id`): nothing is stored"},
    406: {"description": "An answer (Accept) or EPCIS/CBV version it cannot give"},
    415: {"description": "Neither JSON-LD nor EPCIS XML"},
    "default": {
        "description": "Any other refusal or failure (401, 413, 429, 500, 503 ...): a problem",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}  # fmt: skip

#: ``perPage`` of ``GET /capture``: the binding's default, and the gateway's ceiling.
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 500

#: The XML form of the GET answers (``Accept: application/xml``), for the OpenAPI document.
_XML_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/xml": {"schema": {"type": "string"}}}},
    406: {"description": "Accept allows neither JSON nor XML"},
}


@capture.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CaptureAccepted,
    responses=_CAPTURE_REFUSALS,
    summary="Capture an EPCISDocument (EPCIS 2.0 REST binding)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/ld+json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_capture(
    request: Request,
    response: Response,
    captures: CaptureDep,
    participant: ActiveParticipantDep,
    gs1_epcis_version: Annotated[
        str | None,
        Header(
            alias="GS1-EPCIS-Version",
            description="2.x for JSON-LD; for XML, the document's schemaVersion (406 otherwise)",
        ),
    ] = None,
    gs1_cbv_version: Annotated[
        str | None,
        Header(alias="GS1-CBV-Version", description="2.x (1.x with EPCIS 1.2 XML); 406 otherwise"),
    ] = None,
    gs1_capture_error_behaviour: Annotated[
        str | None,
        Header(
            alias="GS1-Capture-Error-Behaviour",
            description="rollback (the default) or proceed; anything else is 400 "
            "capture.error-behaviour",
        ),
    ] = None,
) -> CaptureAccepted:
    """Validate, check against the participant's rule set and store durably, then 202.

    All-or-nothing: a rejected document stores no event (400, the binding's code for it).
    Sending the same event again returns
    the same event id and stores nothing new. JSON-LD, or EPCIS 2.0 or 1.2 XML (validated
    against GS1's XSD, 1.2 converted by GS1's stylesheet) read into the same JSON-LD
    (:mod:`medledger.epcis.xml_capture`); 415 otherwise.
    """
    xml = capture_format(request.headers.get("content-type")) == "xml"
    require_acceptable(request.headers.get("accept"))
    versions = {
        k: v
        for k, v in (("GS1-EPCIS-Version", gs1_epcis_version), ("GS1-CBV-Version", gs1_cbv_version))
        if v is not None
    }
    require_versions(versions, xml=xml)

    def decode(body: bytes) -> Any:
        if not xml:
            return strict_json.loads(body)
        return xml_capture.read_capture(
            body, on_version=lambda version: require_document_version(versions, version)
        )

    proceed = error_behaviour(gs1_capture_error_behaviour) == "proceed"
    metrics = request.app.state.metrics
    try:
        # Read only now, after the key was checked: a body up to the capture limit (see
        # servicekit/http/bodies.py), parsed by the one strict parser off the event loop.
        body = await request.body()
        accepted = await run_in_threadpool(
            lambda: captures.capture(participant, decode(body), proceed=proceed)
        )
    except ValidationError as exc:
        metrics.documents_rejected.labels(rule=exc.rule or "unknown").inc()
        raise
    metrics.events_accepted.inc(accepted.stored)
    metrics.event_duplicates.inc(accepted.duplicates)
    response.headers["Location"] = f"/capture/{accepted.capture_id}"
    return CaptureAccepted(
        captureID=accepted.capture_id,
        eventIDs=list(accepted.event_ids),
        stored=accepted.stored,
        duplicates=accepted.duplicates,
        declarationIDs=list(accepted.declaration_ids),
        declarationsStored=accepted.declarations_stored,
        masterdataIDs=list(accepted.masterdata_ids),
        masterdataStored=accepted.masterdata_stored,
    )


@capture.options(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="What the capture interface supports (the binding's endpoint discovery)",
)
def discover_capture(reader: ParticipantDep) -> Response:
    """204 with ``Allow`` and the ``GS1-*`` headers every ``/capture`` answer carries."""
    return Response(status_code=204, headers={"Allow": "OPTIONS, POST, GET"})


@capture.get(
    "",
    response_model=list[CapturePublic],
    responses=_XML_ANSWER,
    summary="The caller's capture jobs, in the order received (paged; JSON or EPCIS XML)",
)
def list_capture_jobs(
    request: Request,
    captures: CaptureDep,
    reader: ParticipantDep,
    per_page: Annotated[
        int, Query(alias="perPage", ge=1, le=PER_PAGE_MAX, description="jobs per page")
    ] = PER_PAGE_DEFAULT,
    next_page_token: Annotated[
        str | None,
        Query(alias="nextPageToken", max_length=200, description="from the Link header"),
    ] = None,
) -> Response:
    """The binding's ``GET /capture``: this participant's capture jobs; while more follow, a
    ``Link: <...>; rel="next"`` header names the next page. In XML (``Accept`` preferring
    ``application/xml``) a ``captureJobs`` list of ``epcis:EPCISCaptureJob`` elements
    (:mod:`medledger.epcis.capture_job_xml`), paged the same way."""
    answer = answer_format(request.headers.get("accept"))
    page = CapturePage.parse(per_page, next_page_token)
    jobs = captures.jobs(reader, page)
    headers = {}
    if len(jobs) == per_page:
        query = urlencode({"perPage": per_page, "nextPageToken": CapturePage.token_after(jobs[-1])})
        headers["Link"] = f'</capture?{query}>; rel="next"'
    public = [capture_job(job) for job in jobs]
    if answer == "xml":
        body = write_capture_jobs(job.model_dump() for job in public)
        return Response(body, media_type="application/xml", headers=headers)
    return JSONResponse([job.model_dump(mode="json") for job in public], headers=headers)


@capture.get("/{capture_id}", response_model=CapturePublic, responses=_XML_ANSWER)
def get_capture(
    request: Request, capture_id: str, captures: CaptureDep, reader: ParticipantDep
) -> Response:
    """A capture job: accepted, anchored (every event anchored), or rejected with reasons; in
    JSON, or as GS1's ``epcis:EPCISCaptureJob`` XML when ``Accept`` prefers ``application/xml``."""
    answer = answer_format(request.headers.get("accept"))
    job = capture_job(captures.status(reader, capture_id))
    if answer == "xml":
        return Response(write_capture_job(job.model_dump()), media_type="application/xml")
    return JSONResponse(job.model_dump(mode="json"))


def capture_job(info: CaptureInfo) -> CapturePublic:
    """The binding's CaptureJob (``running``, ``success``, ``captureErrorBehaviour``,
    ``errors``) and the gateway's fields (``status``, ``eventIDs``, ``error``)."""
    recorded = info.error or {}
    proceeded = recorded.get("captureErrorBehaviour") == "proceed"
    found = recorded["errors"] if "errors" in recorded else ([recorded] if info.error else [])
    errors = [
        {
            "type": PROBLEM_BASE + "validation",
            "title": "The document breaks a rule",
            "status": REFUSED_STATUS,
            "detail": e.get("detail"),
            "rule": e.get("rule"),
            "pointer": e.get("pointer"),
        }
        for e in found
        if isinstance(e, dict)
    ]
    return CapturePublic(
        captureID=str(info.id),
        createdAt=info.received_at,
        finishedAt=info.received_at,
        running=False,
        success=not errors and info.status != "rejected",
        captureErrorBehaviour="proceed" if proceeded else "rollback",
        errors=errors,
        participant=info.participant,
        receivedAt=info.received_at,
        status=info.status,  # type: ignore[arg-type]
        eventIDs=list(info.event_ids),
        error=info.error if info.status == "rejected" else None,
    )
