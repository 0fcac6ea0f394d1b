"""Reader keys: list, issue, rotate, revoke, and the key audit; a regulator reader key only
(servicekit/apikeys.py ``KeyFlow``, the same lifecycle as the gateway's keys)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.orm import Session

from indexer.api.deps import ReaderDep, ServiceDep
from indexer.api.schemas import (
    KeyAuditEntry,
    ReaderKeyCreate,
    ReaderKeyIssued,
    ReaderKeyPublic,
    ReaderKeyRotate,
    ReaderKeyRotated,
)
from indexer.reader_keys import ReaderKey, ReaderKeyInfo
from medledger.errors import PermissionDeniedError
from servicekit.http.bodies import StrictJSONRoute
from servicekit.http.params import KeyId
from servicekit.sql.helpers import utcnow

keys = APIRouter(prefix="/keys", tags=["keys"], route_class=StrictJSONRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not a regulator reader key"},
    404: {"description": "No such key"},
}


def get_regulator(reader: ReaderDep) -> ReaderKey:
    if reader.role != "regulator":
        raise PermissionDeniedError("only a regulator reader key may manage reader keys")
    return reader


RegulatorDep = Annotated[ReaderKey, Depends(get_regulator)]


def _public(info: ReaderKeyInfo, now: datetime) -> dict[str, Any]:
    key = info.key
    state = "revoked" if key.revoked_at is not None else "live" if key.live(now) else "expired"
    return {
        "id": key.id,
        "label": key.label,
        "prefix": key.prefix,
        "name": key.owner,
        "role": info.role,
        "region": info.region,
        "participant": info.participant,
        "status": state,
        "createdAt": key.created_at,
        "lastUsedAt": key.last_used_at,
        "expiresAt": key.expires_at,
        "revokedAt": key.revoked_at,
    }


def _writes(service: ServiceDep) -> Session:
    return service.write_sessions()


@keys.get("", response_model=list[ReaderKeyPublic], responses=_ERRORS)
def list_keys(service: ServiceDep, regulator: RegulatorDep) -> list[ReaderKeyPublic]:
    """Every reader key, oldest first, never a secret."""
    now = utcnow()
    with service.sessions() as session:
        return [ReaderKeyPublic(**_public(i, now)) for i in service.api_keys.listing(session)]


@keys.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ReaderKeyIssued, responses=_ERRORS
)
def issue_key(
    body: ReaderKeyCreate, service: ServiceDep, regulator: RegulatorDep
) -> ReaderKeyIssued:
    """A new reader key; `apiKey` is the token, shown in this answer only. An inspector key
    needs a `region`, a participant key a `participant` (its address); the other roles take
    neither."""
    with _writes(service) as session:
        issued = service.api_keys.issue_key(
            session,
            body.name or body.label or body.role,
            body.role,
            region=body.region,
            participant=body.participant,
            label=body.label,
            expires_at=body.expiresAt,
            actor=regulator.actor,
        )
        info = service.api_keys.info(issued.row)
    return ReaderKeyIssued(**_public(info, utcnow()), apiKey=issued.token)


@keys.post(
    "/{key_id}/rotate",
    response_model=ReaderKeyRotated,
    responses={**_ERRORS, 409: {"description": "The key is revoked or expired already"}},
)
def rotate_key(
    key_id: KeyId,
    service: ServiceDep,
    regulator: RegulatorDep,
    body: ReaderKeyRotate | None = None,
) -> ReaderKeyRotated:
    """A new key in place of `key_id` (same holder, label, role and region; `apiKey` shown
    once); the old key keeps working for `graceSeconds` (default 24 h, 0: it stops now)."""
    body = body or ReaderKeyRotate()
    with _writes(service) as session:
        rotated = service.api_keys.rotate(
            session,
            key_id,
            actor=regulator.actor,
            grace=timedelta(seconds=body.graceSeconds),
            expires_at=body.expiresAt,
        )
        new = service.api_keys.info(rotated.row)
        old = service.api_keys.info(service.api_keys.get(session, key_id))
    now = utcnow()
    return ReaderKeyRotated(
        **_public(new, now), apiKey=rotated.token, previous=ReaderKeyPublic(**_public(old, now))
    )


@keys.delete("/{key_id}", response_model=ReaderKeyPublic, responses=_ERRORS)
def revoke_key(key_id: KeyId, service: ServiceDep, regulator: RegulatorDep) -> ReaderKeyPublic:
    """Revoke a key at once (a key revoked already is answered as it is)."""
    with _writes(service) as session:
        info = service.api_keys.revoke_id(session, key_id, actor=regulator.actor)
    return ReaderKeyPublic(**_public(info, utcnow()))


@keys.get("/audit", response_model=list[KeyAuditEntry], responses={403: _ERRORS[403]})
def key_audit(
    service: ServiceDep,
    regulator: RegulatorDep,
    name: Annotated[str | None, Query(description="one holder's keys only")] = None,
    since: Annotated[datetime | None, Query(description="from this time on")] = None,
) -> list[KeyAuditEntry]:
    """Every reader-key operation, oldest first: who, when, what, which key."""
    with service.sessions() as session:
        entries = service.api_keys.audit(session, name=name, since=since)
    return [
        KeyAuditEntry(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            keyId=e.key_id,
            name=e.owner,
            detail=e.detail,
        )
        for e in entries
    ]
