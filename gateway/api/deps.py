"""Request dependencies: the service and each resource's service, and the participant behind
the API key (failed authentications counted per client address: servicekit/http/ratelimits.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.service import GatewayService
from gateway.services.capture import CaptureService
from gateway.services.keys import KeysService
from gateway.services.lots import LotsService
from gateway.services.participants import ParticipantsService, require_regulator
from gateway.services.recalls import RecallsService
from gateway.services.receipts import ReceiptsService
from gateway.services.suspensions import SuspensionsService
from gateway.store.participants import PARTICIPANT_SCOPE, Caller, ParticipantRecord
from medledger.errors import AuthenticationError, PermissionDeniedError
from servicekit.http.ratelimits import RateLimits, client_key

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer pk_...`")


def get_service(request: Request) -> GatewayService:
    service: GatewayService = request.app.state.service
    return service


ServiceDep = Annotated[GatewayService, Depends(get_service)]


def get_participants(service: ServiceDep) -> ParticipantsService:
    return service.participants


def get_capture(service: ServiceDep) -> CaptureService:
    return service.capture


def get_receipts(service: ServiceDep) -> ReceiptsService:
    return service.receipts


def get_lots(service: ServiceDep) -> LotsService:
    return service.lots


def get_recalls(service: ServiceDep) -> RecallsService:
    return service.recalls


ParticipantsDep = Annotated[ParticipantsService, Depends(get_participants)]
CaptureDep = Annotated[CaptureService, Depends(get_capture)]
ReceiptsDep = Annotated[ReceiptsService, Depends(get_receipts)]
LotsDep = Annotated[LotsService, Depends(get_lots)]
RecallsDep = Annotated[RecallsService, Depends(get_recalls)]


def get_suspensions(service: ServiceDep) -> SuspensionsService:
    return service.suspensions


SuspensionsDep = Annotated[SuspensionsService, Depends(get_suspensions)]


def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def get_keys(service: ServiceDep) -> KeysService:
    return service.key_admin


KeysDep = Annotated[KeysService, Depends(get_keys)]


def get_caller(
    request: Request,
    registry: ParticipantsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The participant and key behind the request's API key, whatever the key's scope."""
    if credentials is None:
        raise AuthenticationError("send your API key as `Authorization: Bearer <key>`")
    limits, client = get_rate_limits(request), client_key(request.client and request.client.host)
    limits.refuse_if_locked_out(client)
    caller = registry.caller(credentials.credentials)
    if caller is None:
        limits.count_failure(client)
        raise AuthenticationError("unknown, revoked or expired API key")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_participant(caller: CallerDep) -> ParticipantRecord:
    """The participant a ``participant``-scope key acts as; any other key is refused (403)."""
    if caller.scope != PARTICIPANT_SCOPE:
        raise PermissionDeniedError(
            f"a {caller.scope} key may only fetch batches (GET /batches/{{root}}) and list "
            "participants (GET /participants)"
        )
    return caller.participant


ParticipantDep = Annotated[ParticipantRecord, Depends(get_participant)]


def get_batch_reader(caller: CallerDep) -> ParticipantRecord:
    """The participant behind a participant key or a ``batch-reader`` key: for the routes the
    indexer calls (GET /batches/{root}, GET /participants)."""
    return caller.participant


BatchReaderDep = Annotated[ParticipantRecord, Depends(get_batch_reader)]


def get_active_participant(participant: ParticipantDep) -> ParticipantRecord:
    if not participant.active:
        raise PermissionDeniedError(f"participant {participant.address} is suspended")
    return participant


ActiveParticipantDep = Annotated[ParticipantRecord, Depends(get_active_participant)]


def get_regulator(participant: ActiveParticipantDep) -> ParticipantRecord:
    require_regulator(participant)
    return participant


RegulatorDep = Annotated[ParticipantRecord, Depends(get_regulator)]
