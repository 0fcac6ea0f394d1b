"""Request dependencies: the service, a session, the reader behind the API key (failed
authentications counted per client address), the scope a reader may see (everything, or an
inspector's region: :mod:`indexer.queries.scope`), the events a reader may see on the EPCIS
query interface (:mod:`indexer.queries.visibility`), and the caller of the public pack check (a
reader, or an anonymous client within its budget: servicekit/http/ratelimits.py).

Roles (docs/security.md#reader-roles-on-the-indexer): ``regulator`` and ``auditor`` read every
route (``ReaderDep``); an ``inspector`` reads the routes that take ``ScopeDep`` (stock, alerts,
recalls), scoped to its key's region, and the EPCIS event routes (``VisibilityDep``), limited
to its region's events; a ``participant`` reads only the EPCIS event routes, limited to its
custody chain. Both are refused (403) on every other route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from indexer.queries.scope import EVERYTHING, Scope
from indexer.queries.visibility import EVERY_EVENT, Visibility
from indexer.reader_keys import FULL_READERS, READER_ROLES, ReaderKey
from indexer.service import IndexerService
from medledger.errors import AuthenticationError, PermissionDeniedError
from servicekit.http.ratelimits import RateLimits, client_key

bearer_scheme = HTTPBearer(
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


INSPECTOR = "inspector"
INSPECTOR_REFUSED = (
    "an inspector key reads only its region's /stock, /alerts, /recalls and EPCIS events "
    "(/events, /epcs/{epc}/events, /bizLocations, ...; a pack check without a key gets the "
    "public answer)"
)
PARTICIPANT = "participant"
PARTICIPANT_REFUSED = (
    "a participant key reads only the EPCIS events of its custody chain (/events, "
    "/epcs/{epc}/events, /bizLocations, ...; a pack check without a key gets the public answer)"
)


def authenticate_reader(
    request: HTTPConnection,
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
        if key.role == INSPECTOR:
            raise PermissionDeniedError(INSPECTOR_REFUSED)
        if key.role == PARTICIPANT:
            raise PermissionDeniedError(PARTICIPANT_REFUSED)
        raise PermissionDeniedError(f"a {key.role} key may not read this")
    return key


def get_reader(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> ReaderKey:
    if credentials is None:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    return authenticate_reader(request, service, session, credentials.credentials)


ReaderDep = Annotated[ReaderKey, Depends(get_reader)]


def get_scope(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Scope:
    """What the reader may see on a scoped route: everything for a regulator or auditor, its
    region's participants for an inspector (whose key always carries a region)."""
    if credentials is None:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    key = authenticate_reader(
        request, service, session, credentials.credentials, (*FULL_READERS, INSPECTOR)
    )
    if key.role != INSPECTOR:
        return EVERYTHING
    if key.region is None:  # refused at issue; never read everything for want of a region
        raise PermissionDeniedError("this inspector key has no region: it may read nothing")
    return Scope(key.region)


ScopeDep = Annotated[Scope, Depends(get_scope)]


def get_scoped_reader(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> ReaderKey:
    """The key of a reader a route scopes itself (a regulator, an auditor, or an inspector that
    the route keeps to its region)."""
    if credentials is None:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    return authenticate_reader(
        request, service, session, credentials.credentials, (*FULL_READERS, INSPECTOR)
    )


ScopedReaderDep = Annotated[ReaderKey, Depends(get_scoped_reader)]


def visibility_of(key: ReaderKey) -> Visibility:
    """The events ``key`` sees on the EPCIS query interface: every event for a regulator or
    auditor, its region's for an inspector, its custody chain's for a participant."""
    if key.role == PARTICIPANT:
        if key.participant is None:  # refused at issue and by the table
            raise PermissionDeniedError("this participant key names no participant")
        return Visibility(participant=key.participant)
    if key.role == INSPECTOR:
        if key.region is None:
            raise PermissionDeniedError("this inspector key has no region: it may read nothing")
        return Visibility(region=key.region)
    return EVERY_EVENT


def get_epcis_reader(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> ReaderKey:
    """The key of a reader of the EPCIS query interface (every role; what it sees:
    :func:`visibility_of`)."""
    if credentials is None:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    key = authenticate_reader(request, service, session, credentials.credentials, READER_ROLES)
    visibility_of(key)  # a key bound to nothing reads nothing
    return key


EpcisReaderDep = Annotated[ReaderKey, Depends(get_epcis_reader)]


def get_visibility(key: EpcisReaderDep) -> Visibility:
    """The events the reader sees on the EPCIS query interface (:func:`visibility_of`)."""
    return visibility_of(key)


VisibilityDep = Annotated[Visibility, Depends(get_visibility)]


def get_check_caller(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> ReaderKey | None:
    """The reader that sent the check (full answer, no budget), or None for an anonymous client,
    whose checks are counted against its address's budget (429 past it). An inspector's key is
    refused (403): the full answer names holders outside its region."""
    if credentials is not None:
        return authenticate_reader(request, service, session, credentials.credentials, FULL_READERS)
    limits: RateLimits = request.app.state.rate_limits
    limits.take_check(client_key(request.client and request.client.host))
    return None


CheckCallerDep = Annotated[ReaderKey | None, Depends(get_check_caller)]


def get_today() -> date:
    """Today (UTC), against which expiry is judged; tests override this dependency."""
    return datetime.now(UTC).date()


TodayDep = Annotated[date, Depends(get_today)]
