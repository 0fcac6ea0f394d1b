"""Capture (EPCIS 2.0 REST binding): POST a document, GET a capture's status."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from gateway.api.deps import ActiveParticipantDep, CaptureDep, ParticipantDep
from gateway.api.schemas import CaptureAccepted, CapturePublic
from medledger.errors import ValidationError
from servicekit.http import strict_json
from servicekit.http.bodies import StrictJSONRoute

capture = APIRouter(prefix="/capture", tags=["capture"], route_class=StrictJSONRoute)


@capture.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CaptureAccepted,
    summary="Capture an EPCISDocument (EPCIS 2.0 REST binding)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/ld+json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def post_capture(
    request: Request, response: Response, captures: CaptureDep, participant: ActiveParticipantDep
) -> CaptureAccepted:
    """Validate, check against the participant's rule set and store durably, then 202.

    All-or-nothing: a rejected document stores no event. Sending the same event again returns
    the same event id and stores nothing new.
    """
    metrics = request.app.state.metrics
    try:
        # Read only now, after the key was checked: a body up to the capture limit (see
        # servicekit/http/bodies.py), parsed by the one strict parser off the event loop.
        body = await request.body()
        accepted = await run_in_threadpool(
            lambda: captures.capture(participant, strict_json.loads(body))
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
    )


@capture.get("/{capture_id}", response_model=CapturePublic)
def get_capture(capture_id: str, captures: CaptureDep, reader: ParticipantDep) -> CapturePublic:
    """Status of a capture: accepted, anchored (every event anchored), or rejected with reasons."""
    info = captures.status(reader, capture_id)
    return CapturePublic(
        captureID=str(info.id),
        participant=info.participant,
        receivedAt=info.received_at,
        status=info.status,  # type: ignore[arg-type]
        eventIDs=list(info.event_ids),
        error=info.error,
    )
