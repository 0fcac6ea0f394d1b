"""Request dependencies: the service, a session, and the reader behind the API key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from chain.errors import AuthenticationError, PermissionDeniedError
from indexer.keys import READER_ROLES, ReaderKey
from indexer.service import IndexerService

_bearer = HTTPBearer(
    auto_error=False, description="Reader API key (regulator or auditor): `Bearer ik_...`"
)


def get_service(request: Request) -> IndexerService:
    service: IndexerService = request.app.state.service
    return service


ServiceDep = Annotated[IndexerService, Depends(get_service)]


def get_session(service: ServiceDep) -> Iterator[Session]:
    with service.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_reader(
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ReaderKey:
    if credentials is None:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    key = service.api_keys.authenticate(session, credentials.credentials)
    if key is None:
        raise AuthenticationError("unknown or revoked API key")
    if key.role not in READER_ROLES:
        raise PermissionDeniedError(f"a {key.role} key may not read the index")
    return key


ReaderDep = Annotated[ReaderKey, Depends(get_reader)]


def get_today() -> date:
    """Today (UTC), against which expiry is judged; tests override this dependency."""
    return datetime.now(UTC).date()


TodayDep = Annotated[date, Depends(get_today)]
