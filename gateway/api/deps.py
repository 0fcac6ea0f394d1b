"""Request dependencies: the service, and the participant behind the API key (failed
authentications counted per client address: servicekit/http/ratelimits.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.service import GatewayService, require_regulator
from gateway.store import ParticipantRecord
from medledger.errors import AuthenticationError, PermissionDeniedError
from servicekit.http.ratelimits import RateLimits, client_key

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer pk_...`")


def get_service(request: Request) -> GatewayService:
    service: GatewayService = request.app.state.service
    return service


ServiceDep = Annotated[GatewayService, Depends(get_service)]


def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def get_participant(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ParticipantRecord:
    if credentials is None:
        raise AuthenticationError("send your API key as `Authorization: Bearer <key>`")
    limits, client = get_rate_limits(request), client_key(request.client and request.client.host)
    limits.refuse_if_locked_out(client)
    participant = service.authenticate(credentials.credentials)
    if participant is None:
        limits.count_failure(client)
        raise AuthenticationError("unknown or revoked API key")
    return participant


ParticipantDep = Annotated[ParticipantRecord, Depends(get_participant)]


def get_active_participant(participant: ParticipantDep) -> ParticipantRecord:
    if not participant.active:
        raise PermissionDeniedError(f"participant {participant.address} is suspended")
    return participant


ActiveParticipantDep = Annotated[ParticipantRecord, Depends(get_active_participant)]


def get_regulator(participant: ActiveParticipantDep) -> ParticipantRecord:
    require_regulator(participant)
    return participant


RegulatorDep = Annotated[ParticipantRecord, Depends(get_regulator)]
