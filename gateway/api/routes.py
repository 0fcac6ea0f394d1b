"""The routes, one router per resource; every error is problem+json
(see servicekit/http/problems.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from gateway.api.deps import ActiveParticipantDep, ParticipantDep, RegulatorDep, ServiceDep
from gateway.api.schemas import (
    AnchorPublic,
    BatchEventPublic,
    BatchPublic,
    CaptureAccepted,
    CapturePublic,
    CompanyPrefixesSet,
    NotificationPublic,
    ParticipantPublic,
    ParticipantRegistered,
    ParticipantRegistration,
    PastAnchorPublic,
    RecallCreate,
    RecallPublic,
    ReleaseCreate,
    WebhookPublic,
    WebhookSet,
)
from gateway.integrity import integrity_check
from gateway.store import ParticipantRecord, RecallRecord
from gateway.webhooks import notification_json
from medledger.errors import NotAnchoredYetError, ValidationError
from medledger.roles import Role
from servicekit.http import strict_json
from servicekit.http.bodies import StrictJSONRoute
from servicekit.http.operations import (
    metrics_response,
    readiness_response,
    run_checks,
    standard_checks,
)

capture = APIRouter(prefix="/capture", tags=["capture"], route_class=StrictJSONRoute)
events = APIRouter(prefix="/events", tags=["events"], route_class=StrictJSONRoute)
batches = APIRouter(prefix="/batches", tags=["batches"], route_class=StrictJSONRoute)
anchors = APIRouter(prefix="/anchors", tags=["batches"], route_class=StrictJSONRoute)
participants = APIRouter(prefix="/participants", tags=["participants"], route_class=StrictJSONRoute)
recalls = APIRouter(prefix="/recalls", tags=["recalls"], route_class=StrictJSONRoute)
notifications = APIRouter(prefix="/notifications", tags=["recalls"], route_class=StrictJSONRoute)
health = APIRouter(tags=["operations"], route_class=StrictJSONRoute)


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
    request: Request, response: Response, service: ServiceDep, participant: ActiveParticipantDep
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
            lambda: service.capture(participant, strict_json.loads(body))
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
def get_capture(capture_id: str, service: ServiceDep, reader: ParticipantDep) -> CapturePublic:
    """Status of a capture: accepted, anchored (every event anchored), or rejected with reasons."""
    info = service.capture_status(reader, capture_id)
    return CapturePublic(
        captureID=str(info.id),
        participant=info.participant,
        receivedAt=info.received_at,
        status=info.status,  # type: ignore[arg-type]
        eventIDs=list(info.event_ids),
        error=info.error,
    )


_INTEGRITY: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Not anchored yet (`not-anchored`); or what is stored no longer verifies "
        "(`integrity`: its `rule`, `event_ids` and `root`), so it is not served"
    }
}


@events.get(
    "/{event_id:path}/receipt",
    summary="The receipt proving an anchored event",
    responses=_INTEGRITY,
)
def get_receipt(event_id: str, service: ServiceDep, reader: ParticipantDep) -> dict[str, Any]:
    """The receipt (version 1, event embedded): verify it with `provenance verify`.

    The event id is the `ni:///sha-256;…?ver=CBV2.0` URI (percent-encoded) or its 64 hex digits.
    """
    return service.receipt(reader, event_id).to_json()


@events.get(
    "/{event_id:path}", summary="One event, as captured (with its @context)", responses=_INTEGRITY
)
def get_event(event_id: str, service: ServiceDep, reader: ParticipantDep) -> dict[str, Any]:
    """The event as stored, once it re-hashes to its id (409 `integrity` otherwise)."""
    return service.event_document(reader, event_id)


@batches.get("/{root}", response_model=BatchPublic, responses=_INTEGRITY)
def get_batch(root: str, service: ServiceDep, reader: ParticipantDep) -> BatchPublic:
    """A batch's events and salts: for the regulator, auditors and the batch's submitter; 409
    `integrity` unless every event re-hashes and they rebuild the batch's root."""
    contents = service.batch(reader, root)
    batch = contents.batch
    return BatchPublic(
        root="0x" + (batch.root or b"").hex(),
        participant=batch.participant,
        state=batch.state,
        eventCount=batch.event_count,
        txHash=batch.tx_hash,
        blockNumber=batch.block_number,
        blockHash=batch.block_hash,
        events=[
            BatchEventPublic(
                eventID=e.event_id,
                eventHash="0x" + e.event_hash.hex(),
                salt="0x" + e.salt.hex(),
                event=json.loads(e.raw),
            )
            for e in contents.events
        ],
    )


_ANCHOR_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "The gateway recorded no such anchor (or you may not read its batch)"},
    409: {"description": "Re-included in a block without the configured confirmations yet"},
    410: {
        "description": "No longer the anchor (a reorganisation took it away or moved it): the "
        "problem names the old anchor and, under `current`, the anchor that replaced it"
    },
    422: {"description": "Not a transaction hash"},
}


@anchors.get("/{tx_hash}", response_model=AnchorPublic, responses=_ANCHOR_ERRORS)
def get_anchor(
    tx_hash: str,
    service: ServiceDep,
    reader: ParticipantDep,
    block: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="the block a receipt names")
    ] = None,
) -> AnchorPublic:
    """Is the anchor a receipt names (its `tx_hash`, and `block_number` as `?block=`) still the
    anchor of its batch? 200 if so; 410 problem+json with a pointer to the new anchor if a
    reorganisation replaced it (see docs/gateway.md#reorganisations)."""
    found = service.anchor(reader, tx_hash, block)
    batch = found.batch
    if batch.tx_hash is None or batch.block_number is None or batch.root is None:
        # current anchors have all three; should one not, it is not (yet) an anchor to show
        raise NotAnchoredYetError(f"transaction {tx_hash}: its batch's anchor is not recorded yet")
    root = "0x" + batch.root.hex()
    return AnchorPublic(
        txHash=batch.tx_hash,
        blockNumber=batch.block_number,
        blockHash=batch.block_hash,
        root=root,
        participant=batch.participant,
        batch=f"/batches/{root}",
        anchoredAt=batch.anchored_at,
        previous=[
            PastAnchorPublic(
                txHash=p.tx_hash,
                blockNumber=p.block_number,
                blockHash=p.block_hash,
                outcome=p.outcome,  # type: ignore[arg-type]
                anchoredAt=p.anchored_at,
                endedAt=p.ended_at,
            )
            for p in found.previous
        ],
    )


def _public(record: ParticipantRecord) -> dict[str, Any]:
    return {
        "address": record.address,
        "name": record.name,
        "roles": Role(record.roles).names(),
        "gln": record.gln,
        "status": record.status,
        "ruleSet": record.rule_set,
        "companyPrefixes": list(record.company_prefixes),
    }


@participants.post("", status_code=status.HTTP_201_CREATED, response_model=ParticipantRegistered)
def register_participant(
    body: ParticipantRegistration, service: ServiceDep, _regulator: RegulatorDep
) -> ParticipantRegistered:
    """Register a participant on-chain and give it a custodial key and an API key (regulator).

    With `webhookUrl`, its recall notifications are also POSTed there, signed with
    `webhookSecret` (see docs/recalls.md)."""
    try:
        roles = Role.parse(",".join(body.roles))
    except ValueError as exc:
        raise ValidationError(str(exc), rule="participant.roles", pointer="/roles") from exc
    created = service.register_participant(
        name=body.name,
        roles=roles,
        gln=body.gln,
        rule_set=body.ruleSet,
        webhook_url=body.webhookUrl,
        company_prefixes=body.companyPrefixes,
    )
    return ParticipantRegistered(
        **_public(created.record),
        apiKey=created.api_key,
        webhookSecret=created.webhook.secret if created.webhook else None,
    )


@participants.put("/me/webhook", response_model=WebhookPublic)
def put_webhook(
    body: WebhookSet, service: ServiceDep, participant: ActiveParticipantDep
) -> WebhookPublic:
    """Register (or replace) where your recall notifications are POSTed. A new HMAC secret is
    issued each time and shown only in this answer."""
    hook = service.set_webhook(participant, body.url)
    return WebhookPublic(url=hook.url, secret=hook.secret)


@participants.delete("/me/webhook", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(service: ServiceDep, participant: ActiveParticipantDep) -> Response:
    """Stop webhook deliveries (the notification feed stays)."""
    service.delete_webhook(participant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@participants.get("", response_model=list[ParticipantPublic])
def list_participants(service: ServiceDep, reader: ParticipantDep) -> list[ParticipantPublic]:
    return [ParticipantPublic(**_public(p)) for p in service.participants()]


_STATUS_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the regulator"},
    404: {"description": "The gateway knows no such participant"},
    409: {
        "description": "Already in that state; or a suspension of the caller itself, of the "
        "registry's owner or of the last active regulator (nobody could reinstate it)"
    },
    502: {"description": "The chain transaction failed: nothing was recorded"},
}


@participants.post("/{address}/suspend", response_model=ParticipantPublic, responses=_STATUS_ERRORS)
def suspend(address: str, service: ServiceDep, regulator: RegulatorDep) -> ParticipantPublic:
    """Suspend on-chain and at the gateway: its captures and anchors are refused (regulator)."""
    return ParticipantPublic(**_public(service.set_status(address, active=False, by=regulator)))


@participants.post(
    "/{address}/reinstate", response_model=ParticipantPublic, responses=_STATUS_ERRORS
)
def reinstate(address: str, service: ServiceDep, regulator: RegulatorDep) -> ParticipantPublic:
    """Reinstate a suspended participant, on-chain and at the gateway (regulator)."""
    return ParticipantPublic(**_public(service.set_status(address, active=True, by=regulator)))


@participants.put("/{address}/prefixes", response_model=ParticipantPublic)
def set_company_prefixes(
    address: str, body: CompanyPrefixesSet, service: ServiceDep, _regulator: RegulatorDep
) -> ParticipantPublic:
    """Replace the GS1 company prefixes of the products a participant may commission, on-chain
    and at the gateway (regulator; see docs/security.md#commissioning-authority)."""
    return ParticipantPublic(**_public(service.set_company_prefixes(address, body.companyPrefixes)))


def _recall_public(record: RecallRecord, *, with_notified: bool = False) -> RecallPublic:
    return RecallPublic(
        id=record.id,
        gtin=record.gtin,
        lot=record.lot,
        state=record.state,  # type: ignore[arg-type]
        reason=record.reason,
        reasonCode=record.reason_code,
        recalledBy=record.recalled_by,
        recalledAt=record.recalled_at,
        recallTx=record.recall_tx,
        releasedBy=record.released_by,
        releasedAt=record.released_at,
        releaseReason=record.release_reason,
        releaseReasonCode=record.release_reason_code,
        releaseTx=record.release_tx,
        notified=record.notified if with_notified else None,
    )


_RECALL_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the regulator"},
    404: {"description": "The gateway knows no such lot"},
    409: {"description": "Already recalled (POST /recalls) or not recalled (release)"},
    422: {"description": "Malformed GTIN, lot, reason or reason code"},
    502: {"description": "The chain transaction failed: nothing was recorded"},
}


@recalls.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RecallPublic, responses=_RECALL_ERRORS
)
def post_recall(body: RecallCreate, service: ServiceDep, regulator: RegulatorDep) -> RecallPublic:
    """Recall a lot (regulator): on-chain in the recall registry, then at once at the gateway
    (shipping, receiving and dispensing of the lot are refused from the next capture on), and
    every holder of the lot is notified. All-or-nothing: if the chain transaction fails, nothing
    is recorded."""
    record = service.recall(
        regulator,
        gtin=body.gtin,
        lot=body.lot,
        reason=body.reason,
        reason_code=body.reasonCode or 0,
    )
    return _recall_public(record, with_notified=True)


@recalls.get("", response_model=list[RecallPublic])
def list_recalls(
    service: ServiceDep,
    _reader: ParticipantDep,
    active: Annotated[bool | None, Query(description="only current (true) or lifted")] = None,
) -> list[RecallPublic]:
    """Every recall the gateway recorded, oldest first."""
    return [_recall_public(r) for r in service.recalls(active=active)]


@recalls.post("/{gtin}/{lot:path}/release", response_model=RecallPublic, responses=_RECALL_ERRORS)
def post_release(
    gtin: str,
    lot: str,
    service: ServiceDep,
    regulator: RegulatorDep,
    body: ReleaseCreate | None = None,
) -> RecallPublic:
    """Lift a lot's recall (regulator): on-chain, then at the gateway; holders are notified."""
    body = body or ReleaseCreate()
    record = service.release(
        regulator, gtin=gtin, lot=lot, reason=body.reason, reason_code=body.reasonCode or 0
    )
    return _recall_public(record, with_notified=True)


#: Ids are 64-bit (SQLite INTEGER, PostgreSQL BIGINT): a larger cursor cannot reach the database.
MAX_ID = 2**63 - 1


@notifications.get("", response_model=list[NotificationPublic])
def list_notifications(
    service: ServiceDep,
    participant: ParticipantDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="only notifications with a larger id")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Your recall and release notifications, oldest first; page with `after` = the last id."""
    return [
        notification_json(n) for n in service.notifications(participant, after=after, limit=limit)
    ]


@health.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """The process answers HTTP; nothing else is checked (see /readyz)."""
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="Readiness: database, chain and contracts; integrity",
    responses={503: {"description": "Not ready: the failing checks (problem+json)"}},
)
def readyz(request: Request, service: ServiceDep) -> JSONResponse:
    """200 when the database answers `SELECT 1`, the node gives its block number and the
    deployment's three contracts have code; otherwise 503 naming the failing checks. Each check
    gives up after about 2 s. The `integrity` check fails while served events (or batches)
    failed their last verification (409 `integrity`), naming them: the answer is then 200 with
    status `degraded` (docs/operations.md#integrity-alarm)."""
    checks = standard_checks(service.engine, request.app.state.probe, service.ledger.deployment)
    results = run_checks(checks)
    return readiness_response([*results, integrity_check(service.integrity_alarm.state())])


@health.get(
    "/metrics", summary="Prometheus metrics (text format)", response_class=PlainTextResponse
)
def metrics(request: Request) -> Response:
    return metrics_response(request.app.state.metrics.registry)
