"""Recalls (the regulator recalls a lot or lifts its recall) and each participant's feed of
recall and release notifications (docs/recalls.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from gateway.api.deps import ParticipantDep, RecallsDep, RegulatorDep
from gateway.api.schemas import (
    NotificationPublic,
    RecallCreate,
    RecallNotificationPublic,
    RecallPublic,
    ReleaseCreate,
)
from gateway.store.recalls import DeliveryRecord, RecallRecord
from gateway.webhooks import notification_json
from servicekit.http.bodies import StrictJSONRoute

recalls = APIRouter(prefix="/recalls", tags=["recalls"], route_class=StrictJSONRoute)
notifications = APIRouter(prefix="/notifications", tags=["recalls"], route_class=StrictJSONRoute)


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
def post_recall(body: RecallCreate, service: RecallsDep, regulator: RegulatorDep) -> RecallPublic:
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
    service: RecallsDep,
    _reader: ParticipantDep,
    active: Annotated[bool | None, Query(description="only current (true) or lifted")] = None,
) -> list[RecallPublic]:
    """Every recall the gateway recorded, oldest first."""
    return [_recall_public(r) for r in service.all(active=active)]


@recalls.post("/{gtin}/{lot:path}/release", response_model=RecallPublic, responses=_RECALL_ERRORS)
def post_release(
    gtin: str,
    lot: str,
    service: RecallsDep,
    regulator: RegulatorDep,
    body: ReleaseCreate | None = None,
) -> RecallPublic:
    """Lift a lot's recall (regulator): on-chain, then at the gateway; holders are notified."""
    body = body or ReleaseCreate()
    record = service.release(
        regulator, gtin=gtin, lot=lot, reason=body.reason, reason_code=body.reasonCode or 0
    )
    return _recall_public(record, with_notified=True)


@recalls.get(
    "/{recall_id}/notifications",
    response_model=list[RecallNotificationPublic],
    responses={403: {"description": "Not the regulator"}, 404: {"description": "No such recall"}},
)
def list_recall_notifications(
    recall_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    service: RecallsDep,
    regulator: RegulatorDep,
) -> list[dict[str, Any]]:
    """Who the recall notified, and its release (regulator): each notification with what the
    participant held, and its webhook delivery's state (null: no webhook, the participant reads
    its feed). Oldest first."""
    return [
        {**notification_json(note), "delivery": _delivery_json(delivery)}
        for note, delivery in service.notifications_of(regulator, recall_id)
    ]


def _delivery_json(delivery: DeliveryRecord | None) -> dict[str, Any] | None:
    if delivery is None:
        return None
    return {
        "state": delivery.state,
        "attempts": delivery.attempts,
        "lastAttemptAt": delivery.last_attempt_at,
        "lastStatus": delivery.last_status,
        "lastError": delivery.last_error,
        "deliveredAt": delivery.delivered_at,
    }


#: Ids are 64-bit (SQLite INTEGER, PostgreSQL BIGINT): a larger cursor cannot reach the database.
MAX_ID = 2**63 - 1


@notifications.get("", response_model=list[NotificationPublic])
def list_notifications(
    service: RecallsDep,
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
