"""Suspensions (docs/suspensions.md): the regulator or a pharmacovigilance officer suspends a
lot pending investigation and lifts it; the regulator escalates it to a recall."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from gateway.api.deps import ParticipantDep, RegulatorDep, SuspensionsDep
from gateway.api.routes.recalls import _delivery_json
from gateway.api.schemas import (
    EscalationCreate,
    RecallNotificationPublic,
    ReleaseCreate,
    SuspensionCreate,
    SuspensionPublic,
)
from gateway.store.suspensions import SuspensionRecord
from gateway.webhooks import notification_json
from servicekit.http.bodies import StrictJSONRoute

suspensions = APIRouter(prefix="/suspensions", tags=["suspensions"], route_class=StrictJSONRoute)


def _public(record: SuspensionRecord, *, with_notified: bool = False) -> SuspensionPublic:
    return SuspensionPublic(
        id=record.id,
        gtin=record.gtin,
        lot=record.lot,
        state=record.state,  # type: ignore[arg-type]
        caseNumber=record.case_number,
        reason=record.reason,
        reasonCode=record.reason_code,
        stopsShipping=record.stops_shipping,
        suspendedBy=record.suspended_by,
        suspendedAt=record.suspended_at,
        suspendTx=record.suspend_tx,
        closedBy=record.closed_by,
        closedAt=record.closed_at,
        closeReason=record.close_reason,
        closeReasonCode=record.close_reason_code,
        closeTx=record.close_tx,
        recallId=record.recall_id,
        notified=record.notified if with_notified else None,
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the regulator or a pharmacovigilance officer (escalate: regulator)"},
    404: {"description": "The gateway knows no such lot"},
    409: {"description": "Already suspended or recalled (POST), or not suspended"},
    422: {"description": "Malformed GTIN, lot, case number, reason or reason code"},
    502: {"description": "The chain transaction failed: nothing was recorded"},
}


@suspensions.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SuspensionPublic, responses=_ERRORS
)
def post_suspension(
    body: SuspensionCreate, service: SuspensionsDep, actor: ParticipantDep
) -> SuspensionPublic:
    """Suspend a lot pending investigation (regulator or pharmacovigilance officer): on-chain,
    then at once at the gateway (dispensing of the lot, and shipping where `stopsShipping`, is
    refused from the next capture on), and every holder is notified. All-or-nothing."""
    record = service.suspend(
        actor,
        gtin=body.gtin,
        lot=body.lot,
        case_number=body.caseNumber,
        reason=body.reason,
        reason_code=body.reasonCode or 0,
        stops_shipping=body.stopsShipping,
    )
    return _public(record, with_notified=True)


@suspensions.get("", response_model=list[SuspensionPublic])
def list_suspensions(
    service: SuspensionsDep,
    _reader: ParticipantDep,
    active: Annotated[bool | None, Query(description="only current (true) or ended")] = None,
) -> list[SuspensionPublic]:
    """Every suspension the gateway recorded, oldest first."""
    return [_public(r) for r in service.all(active=active)]


@suspensions.post("/{gtin}/{lot:path}/lift", response_model=SuspensionPublic, responses=_ERRORS)
def post_lift(
    gtin: str,
    lot: str,
    service: SuspensionsDep,
    actor: ParticipantDep,
    body: ReleaseCreate | None = None,
) -> SuspensionPublic:
    """Lift a lot's suspension (regulator or pharmacovigilance officer): on-chain, then at the
    gateway; holders and everyone told of the suspension are notified."""
    body = body or ReleaseCreate()
    record = service.lift(
        actor, gtin=gtin, lot=lot, reason=body.reason, reason_code=body.reasonCode or 0
    )
    return _public(record, with_notified=True)


@suspensions.post("/{gtin}/{lot:path}/escalate", response_model=SuspensionPublic, responses=_ERRORS)
def post_escalate(
    gtin: str,
    lot: str,
    body: EscalationCreate,
    service: SuspensionsDep,
    regulator: RegulatorDep,
) -> SuspensionPublic:
    """Escalate a lot's suspension to a recall (regulator), in one transaction on-chain and one
    commit at the gateway: the lot is recalled (`recallId`), its holders notified of the recall."""
    record, _recall = service.escalate(
        regulator, gtin=gtin, lot=lot, reason=body.reason, reason_code=body.reasonCode or 0
    )
    return _public(record, with_notified=True)


@suspensions.get(
    "/{suspension_id}/notifications",
    response_model=list[RecallNotificationPublic],
    responses={403: {"description": "Not allowed"}, 404: {"description": "No such suspension"}},
)
def list_suspension_notifications(
    suspension_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    service: SuspensionsDep,
    actor: ParticipantDep,
) -> list[dict[str, Any]]:
    """Who the suspension notified (its lifting or escalation too), with each delivery."""
    return [
        {**notification_json(note), "delivery": _delivery_json(delivery)}
        for note, delivery in service.notifications_of(actor, suspension_id)
    ]
