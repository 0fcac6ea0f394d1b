"""Request dependencies: the service, a session, the reader behind the API key (failed
authentications counted per client address), and the caller of the public pack check (a reader,
or an anonymous client within its budget: servicekit/http/ratelimits.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from indexer.reader_keys import FULL_READERS, READER_ROLES, ReaderKey
from indexer.service import IndexerService
from medledger.errors import AuthenticationError, PermissionDeniedError
from servicekit.http.ratelimits import RateLimits, client_key

_bearer = HTTPBearer(
    auto_error=False,
    description="Reader API key (regulator, auditor; inspector where a route says so): "
    "`Bearer ik_...`",
)


def get_service(request: Request) -> IndexerService:
    service: IndexerService = request.app.state.service
    return service


ServiceDep = Annotated[IndexerService, Depends(get_service)]


def get_session(service: ServiceDep) -> Iterator[Session]:
    with service.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _reader(
    request: Request,
    service: IndexerService,
    session: Session,
    token: str,
    roles: tuple[str, ...] = FULL_READERS,
) -> ReaderKey:
    limits: RateLimits = request.app.state.rate_limits
    client = client_key(request.client and request.client.host)
    limits.refuse_if_locked_out(client)
    key = service.api_keys.authenticate(session, token)
    if key is None:
        limits.count_failure(client)
        raise AuthenticationError("unknown or revoked API key")
    if key.role not in roles:
        raise PermissionDeniedError(f"a {key.role} key may not read this")
    return key


def get_reader(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ReaderKey:
    if credentials is None:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    return _reader(request, service, session, credentials.credentials)


ReaderDep = Annotated[ReaderKey, Depends(get_reader)]


def get_check_caller(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ReaderKey | None:
    """The reader that sent the check (full answer, no budget), or None for an anonymous client,
    whose checks are counted against its address's budget (429 past it)."""
    if credentials is not None:
        return _reader(request, service, session, credentials.credentials, READER_ROLES)
    limits: RateLimits = request.app.state.rate_limits
    limits.take_check(client_key(request.client and request.client.host))
    return None


CheckCallerDep = Annotated[ReaderKey | None, Depends(get_check_caller)]


def get_today() -> date:
    """Today (UTC), against which expiry is judged; tests override this dependency."""
    return datetime.now(UTC).date()


TodayDep = Annotated[date, Depends(get_today)]
