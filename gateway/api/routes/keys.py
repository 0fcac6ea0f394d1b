"""API keys: each participant's keys (the regulator's for everyone, a participant's for
itself: ``me`` names the caller) and the key audit (the regulator)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from gateway.api.deps import ActiveParticipantDep, KeysDep
from gateway.api.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    ApiKeyRotate,
    ApiKeyRotated,
    KeyAuditPublic,
)
from gateway.store.participants import ApiKeyInfo
from servicekit.http.bodies import StrictJSONRoute
from servicekit.http.params import KeyId
from servicekit.sql.helpers import utcnow

keys = APIRouter(tags=["keys"], route_class=StrictJSONRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Another participant's keys, and the caller is not the regulator"},
    404: {"description": "No such participant, or no such key of that participant"},
}


def _public(info: ApiKeyInfo, now: datetime) -> dict[str, Any]:
    key = info.key
    state = "revoked" if key.revoked_at is not None else "live" if key.live(now) else "expired"
    return {
        "id": key.id,
        "label": key.label,
        "prefix": key.prefix,
        "participant": key.owner,
        "scope": info.scope,
        "status": state,
        "createdAt": key.created_at,
        "lastUsedAt": key.last_used_at,
        "expiresAt": key.expires_at,
        "revokedAt": key.revoked_at,
    }


@keys.get("/participants/{address}/keys", response_model=list[ApiKeyPublic], responses=_ERRORS)
def list_keys(address: str, service: KeysDep, caller: ActiveParticipantDep) -> list[ApiKeyPublic]:
    """A participant's keys, oldest first, never a secret (`me`: your own)."""
    now = utcnow()
    return [ApiKeyPublic(**_public(k, now)) for k in service.listing(caller, address)]


@keys.post(
    "/participants/{address}/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyIssued,
    responses={
        **_ERRORS,
        409: {"description": "The participant already holds 5 live keys of its own making"},
    },
)
def issue_key(
    address: str, body: ApiKeyCreate, service: KeysDep, caller: ActiveParticipantDep
) -> ApiKeyIssued:
    """A new key; `apiKey` is the token, shown in this answer only."""
    issued = service.issue(
        caller, address, label=body.label, expires_at=body.expiresAt, scope=body.scope
    )
    return ApiKeyIssued(**_public(issued.key, utcnow()), apiKey=issued.token)


@keys.post(
    "/participants/{address}/keys/{key_id}/rotate",
    response_model=ApiKeyRotated,
    responses={**_ERRORS, 409: {"description": "The key is revoked or expired already"}},
)
def rotate_key(
    address: str,
    key_id: KeyId,
    service: KeysDep,
    caller: ActiveParticipantDep,
    body: ApiKeyRotate | None = None,
) -> ApiKeyRotated:
    """A new key in place of `key_id` (same label and scope; `apiKey` shown once); the old key
    keeps working for `graceSeconds` (default 24 h, 0: it stops now; at most 30 days)."""
    body = body or ApiKeyRotate()
    rotated = service.rotate(
        caller,
        address,
        key_id,
        grace=timedelta(seconds=body.graceSeconds),
        expires_at=body.expiresAt,
    )
    now = utcnow()
    return ApiKeyRotated(
        **_public(rotated.key, now),
        apiKey=rotated.token,
        previous=ApiKeyPublic(**_public(rotated.previous, now)),
    )


@keys.delete(
    "/participants/{address}/keys/{key_id}", response_model=ApiKeyPublic, responses=_ERRORS
)
def revoke_key(
    address: str, key_id: KeyId, service: KeysDep, caller: ActiveParticipantDep
) -> ApiKeyPublic:
    """Revoke a key at once (a key revoked already is answered as it is)."""
    return ApiKeyPublic(**_public(service.revoke(caller, address, key_id), utcnow()))


@keys.get(
    "/keys/audit",
    response_model=list[KeyAuditPublic],
    responses={
        403: {"description": "Not the regulator"},
        404: {"description": "No such participant"},
    },
)
def key_audit(
    service: KeysDep,
    caller: ActiveParticipantDep,
    participant: Annotated[str | None, Query(description="one participant's keys only")] = None,
    since: Annotated[datetime | None, Query(description="from this time on")] = None,
) -> list[KeyAuditPublic]:
    """Every key operation, oldest first (the regulator): who, when, what, which key."""
    entries = service.audit(caller, participant=participant, since=since)
    return [
        KeyAuditPublic(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            keyId=e.key_id,
            participant=e.owner,
            detail=e.detail,
        )
        for e in entries
    ]
