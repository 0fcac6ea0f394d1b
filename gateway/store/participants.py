"""Participants and their API keys (with the lifecycle of servicekit/apikeys.py: several keys
per participant, labels, expiry, rotation with a grace period, revocation, the key audit).

API keys are ``pk_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear and
finds the key's row; the whole token is stored only as its SHA-256 (servicekit/apikeys.py, shared
with the indexer's reader keys: why a fast hash suffices for 256 random bits, and how argon2
hashes of older keys stay valid). Every call reads the key's row and its participant, so a
revocation or a suspension takes effect on the next request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from medledger.custody import state as custody
from medledger.errors import RecordNotFoundError, StoreConflictError
from servicekit.apikeys import (
    DEFAULT_GRACE,
    SYSTEM,
    AuditEntry,
    Issued,
    KeyFlow,
    KeyInfo,
    KeyTable,
    Rotated,
)
from servicekit.sql.helpers import utcnow

from .models import (
    KEY_SCOPES,
    PARTICIPANT_STATUSES,
    RULE_SETS,
    ApiKeyRow,
    KeyAuditRow,
    ParticipantRow,
    RegistrationRequestRow,
)

log = logging.getLogger("provenance.gateway")

TOKEN_PREFIX = "pk"


@dataclass(frozen=True)
class ParticipantRecord:
    """A participant as stored by the gateway (a snapshot; not bound to a session)."""

    address: str
    name: str
    roles: int
    gln: str
    status: str  # active | suspended
    rule_set: str  # pharma | epcis
    keystore_path: str | None
    created_at: datetime
    company_prefixes: tuple[str, ...] = ()
    region: str | None = None  # ISO 3166-2 (medledger/regions.py)
    updated_at: datetime | None = None  # last change; None only for a record not yet stored

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_custody(self) -> custody.Participant:
        return custody.Participant(
            address=self.address,
            roles=self.roles,
            gln=self.gln,
            active=self.active,
            company_prefixes=self.company_prefixes,
        )

    @classmethod
    def of(cls, row: ParticipantRow) -> ParticipantRecord:
        return cls(
            address=row.address,
            name=row.name,
            roles=row.roles,
            gln=row.gln,
            status=row.status,
            rule_set=row.rule_set,
            keystore_path=row.keystore_path,
            created_at=row.created_at,
            company_prefixes=prefixes_of(row.company_prefixes),
            region=row.region,
            updated_at=row.updated_at,
        )


def prefixes_of(column: str | None) -> tuple[str, ...]:
    """The company prefixes kept in a participant row (space-separated)."""
    return tuple(column.split()) if column else ()


def create_participant(
    session: Session,
    *,
    address: str,
    name: str,
    roles: int,
    gln: str,
    rule_set: str = "pharma",
    keystore_path: str | None = None,
    company_prefixes: tuple[str, ...] = (),
    region: str | None = None,
    commit: bool = True,
) -> ParticipantRecord:
    """Store a new participant (active) and commit (``commit=False``: flush only, for a caller
    that writes more in the same transaction)."""
    if rule_set not in RULE_SETS:
        raise ValueError(f"unknown rule set {rule_set!r}; known: {', '.join(RULE_SETS)}")
    if session.get(ParticipantRow, address) is not None:
        raise StoreConflictError(f"participant {address} already exists")
    row = ParticipantRow(
        address=address,
        name=name,
        roles=int(roles),
        gln=gln,
        status="active",
        rule_set=rule_set,
        keystore_path=keystore_path,
        created_at=(now := utcnow()),
        updated_at=now,
        company_prefixes=" ".join(company_prefixes),
        region=region,
    )
    session.add(row)
    if commit:
        session.commit()
    else:
        session.flush()
    return ParticipantRecord.of(row)


def set_company_prefixes(
    session: Session, address: str, prefixes: tuple[str, ...]
) -> ParticipantRecord:
    """Replace the participant's company prefixes and commit."""
    row = session.get(ParticipantRow, address)
    if row is None:
        raise RecordNotFoundError("participant", address)
    row.company_prefixes = " ".join(prefixes)
    row.updated_at = utcnow()
    session.commit()
    return ParticipantRecord.of(row)


def set_region(session: Session, address: str, region: str | None) -> ParticipantRecord:
    """Set (None: clear) the participant's region, a canonical code, and commit."""
    row = session.get(ParticipantRow, address)
    if row is None:
        raise RecordNotFoundError("participant", address)
    row.region = region
    row.updated_at = utcnow()
    session.commit()
    return ParticipantRecord.of(row)


def get_participant(session: Session, address: str) -> ParticipantRecord | None:
    row = session.get(ParticipantRow, address)
    return None if row is None else ParticipantRecord.of(row)


def find_participant(session: Session, address: str) -> ParticipantRecord | None:
    """The participant at ``address`` however its hex letters are cased (a URL path may come
    lower-case; addresses are stored checksummed)."""
    found = get_participant(session, address)
    if found is not None:
        return found
    row = session.scalars(
        select(ParticipantRow).where(func.lower(ParticipantRow.address) == address.lower())
    ).first()
    return None if row is None else ParticipantRecord.of(row)


def list_participants(
    session: Session, *, updated_since: datetime | None = None
) -> list[ParticipantRecord]:
    """Every participant, oldest first; with ``updated_since``, those changed at or after it,
    least recently changed first (a poller keeps the last ``updated_at`` it saw)."""
    query = select(ParticipantRow)
    if updated_since is None:
        query = query.order_by(ParticipantRow.created_at, ParticipantRow.address)
    else:
        query = query.where(ParticipantRow.updated_at >= updated_since).order_by(
            ParticipantRow.updated_at, ParticipantRow.address
        )
    return [ParticipantRecord.of(row) for row in session.scalars(query)]


def participant_by_gln(session: Session, gln: str) -> ParticipantRecord | None:
    row = session.scalars(select(ParticipantRow).where(ParticipantRow.gln == gln)).one_or_none()
    return None if row is None else ParticipantRecord.of(row)


def set_participant_status(session: Session, address: str, status: str) -> ParticipantRecord:
    """Suspend (``suspended``) or reinstate (``active``) a participant, and commit."""
    if status not in PARTICIPANT_STATUSES:
        raise ValueError(f"unknown status {status!r}; known: {', '.join(PARTICIPANT_STATUSES)}")
    row = session.get(ParticipantRow, address)
    if row is None:
        raise RecordNotFoundError("participant", address)
    row.status = status
    row.updated_at = utcnow()
    session.commit()
    return ParticipantRecord.of(row)


#: Where the gateway keeps its keys (servicekit/apikeys.py: the flow both services follow).
KEY_TABLE = KeyTable(
    ApiKeyRow,
    stored="hash",
    row_id="id",
    label="api key",
    owner="participant",
    inherited=("scope",),
    audit=KeyAuditRow,
)
#: A key that acts as its participant; the regulator's read-only key for the indexer.
PARTICIPANT_SCOPE, BATCH_READER_SCOPE = KEY_SCOPES


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the participant its key belongs to, and which key (its id, scope)."""

    participant: ParticipantRecord
    key_id: int
    scope: str


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listed (never the secret): servicekit's lifecycle fields and its scope."""

    key: KeyInfo
    scope: str


class ApiKeys:
    """Issues, verifies, rotates, revokes and lists API keys (``hasher``: for keys stored as
    argon2 hashes)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._flow = KeyFlow(TOKEN_PREFIX, KEY_TABLE, log=log, hasher=hasher)

    @property
    def flow(self) -> KeyFlow:
        return self._flow

    def issue(
        self,
        session: Session,
        participant: str,
        *,
        label: str = "",
        expires_at: datetime | None = None,
        scope: str = PARTICIPANT_SCOPE,
        actor: str = SYSTEM,
        detail: str | None = None,
    ) -> str:
        """A new key for ``participant``; the token is returned once and never stored."""
        return self.issue_key(
            session,
            participant,
            label=label,
            expires_at=expires_at,
            scope=scope,
            actor=actor,
            detail=detail,
        ).token

    def issue_key(
        self,
        session: Session,
        participant: str,
        *,
        label: str = "",
        expires_at: datetime | None = None,
        scope: str = PARTICIPANT_SCOPE,
        actor: str = SYSTEM,
        detail: str | None = None,
    ) -> Issued:
        """:meth:`issue`, with the key as listed (committed and audited)."""
        if session.get(ParticipantRow, participant) is None:
            raise RecordNotFoundError("participant", participant)
        if scope not in KEY_SCOPES:
            raise ValueError(f"unknown key scope {scope!r}; known: {', '.join(KEY_SCOPES)}")
        return self._flow.issue_key(
            session,
            actor=actor,
            label=label,
            expires_at=expires_at,
            detail=detail,
            participant=participant,
            scope=scope,
        )

    def caller(
        self, session: Session, token: str, *, allow_suspended: bool = False
    ) -> Caller | None:
        """The participant and key a token is, or None (unknown, wrong, revoked, expired,
        suspended). Row, then live?, then the secret: an unknown prefix, a wrong secret and a
        dead key cost the same, never an argon2 check (servicekit/apikeys.py).

        ``allow_suspended=True`` returns a suspended participant too (check ``.active``), for a
        service that wants to answer "suspended" rather than "unauthenticated"."""
        prefix = self._flow.prefix(token)
        if prefix is None:
            return None
        found = session.execute(
            select(ApiKeyRow, ParticipantRow)
            .join(ParticipantRow, ParticipantRow.address == ApiKeyRow.participant)
            .where(ApiKeyRow.prefix == prefix)
        ).one_or_none()
        key, participant = found if found is not None else (None, None)
        # run with no row too: same cost
        if not self._flow.verified(session, key, token) or key is None or participant is None:
            return None
        if participant.status != "active" and not allow_suspended:
            return None
        return Caller(ParticipantRecord.of(participant), key.id, key.scope)

    def authenticate(
        self, session: Session, token: str, *, allow_suspended: bool = False
    ) -> ParticipantRecord | None:
        """The participant a token belongs to, or None (see :meth:`caller`)."""
        found = self.caller(session, token, allow_suspended=allow_suspended)
        return None if found is None else found.participant

    def get(self, session: Session, participant: str, key_id: int) -> ApiKeyRow:
        """Key ``key_id`` of ``participant`` (RecordNotFoundError if it is someone else's)."""
        row = session.get(ApiKeyRow, key_id)
        if row is None or row.participant != participant:
            raise RecordNotFoundError("api key", key_id)
        return row

    def listing(self, session: Session, participant: str) -> list[ApiKeyInfo]:
        """Every key of ``participant``, oldest first (never a secret)."""
        rows = session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.participant == participant).order_by(ApiKeyRow.id)
        )
        return [self.info(row) for row in rows]

    def info(self, row: ApiKeyRow) -> ApiKeyInfo:
        return ApiKeyInfo(self._flow.info(row), row.scope)

    def live_count(self, session: Session, participant: str, scope: str) -> int:
        return self._flow.live_count(
            session, ApiKeyRow.participant == participant, ApiKeyRow.scope == scope
        )

    def rotate(
        self,
        session: Session,
        participant: str,
        key_id: int,
        *,
        actor: str,
        grace: timedelta = DEFAULT_GRACE,
        expires_at: datetime | None = None,
    ) -> Rotated:
        """A new key like ``key_id`` (same participant, label, scope); the old one valid for
        ``grace`` more."""
        row = self.get(session, participant, key_id)
        return self._flow.rotate(session, row, actor=actor, grace=grace, expires_at=expires_at)

    def revoke_id(
        self, session: Session, participant: str, key_id: int, *, actor: str
    ) -> ApiKeyInfo:
        """Revoke key ``key_id`` of ``participant`` at once (committed, audited)."""
        row = self.get(session, participant, key_id)
        self._flow.revoke(session, row, actor=actor)
        return self.info(row)

    def revoke(
        self,
        session: Session,
        token_or_prefix: str,
        *,
        actor: str = SYSTEM,
        detail: str | None = None,
    ) -> None:
        """Revoke a key, named by its token or its prefix, and commit."""
        prefix = self._flow.prefix(token_or_prefix) or token_or_prefix
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
        if row is None:
            raise RecordNotFoundError("api key", prefix)
        self._flow.revoke(session, row, actor=actor, detail=detail)

    def audit(
        self,
        session: Session,
        *,
        participant: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        owners = None if participant is None else [participant]
        return self._flow.audit(session, owners=owners, since=since, limit=limit)


#: The process-wide default used by the functions below.
default_api_keys = ApiKeys()


def issue_api_key(session: Session, participant: str) -> str:
    return default_api_keys.issue(session, participant)


def authenticate(
    session: Session, token: str, *, allow_suspended: bool = False
) -> ParticipantRecord | None:
    return default_api_keys.authenticate(session, token, allow_suspended=allow_suspended)


def revoke_api_key(session: Session, token_or_prefix: str) -> None:
    default_api_keys.revoke(session, token_or_prefix)


# --- registrations sent with an Idempotency-Key ------------------------------------------------

#: How long a registration's Idempotency-Key is remembered (a retry after that is a new request).
REGISTRATION_REQUEST_DAYS = 7


@dataclass(frozen=True)
class RegistrationRequest:
    """A ``POST /participants`` with an ``Idempotency-Key``: what it asked (``body_sha256``) and,
    once the participant is stored, its address and the prefix of the key last answered."""

    requester: str
    idempotency_key: str
    body_sha256: str
    gln: str
    address: str | None
    key_prefix: str | None
    answered_arrival: datetime | None = None

    @classmethod
    def of(cls, row: RegistrationRequestRow) -> RegistrationRequest:
        return cls(
            requester=row.requester,
            idempotency_key=row.idempotency_key,
            body_sha256=row.body_sha256,
            gln=row.gln,
            address=row.address,
            key_prefix=row.key_prefix,
            answered_arrival=row.answered_arrival,
        )


def claim_registration_request(
    session: Session, *, requester: str, idempotency_key: str, body_sha256: str, gln: str
) -> RegistrationRequest:
    """The request stored under ``(requester, idempotency_key)``, stored now (and committed) if
    there is none. Requests older than
    :data:`REGISTRATION_REQUEST_DAYS` are forgotten on the way. The caller serialises (the
    service's registration lock)."""
    row = session.get(RegistrationRequestRow, (requester, idempotency_key))
    if row is not None:
        return RegistrationRequest.of(row)
    now = utcnow()
    session.execute(
        delete(RegistrationRequestRow).where(
            RegistrationRequestRow.created_at < now - timedelta(days=REGISTRATION_REQUEST_DAYS)
        )
    )
    row = RegistrationRequestRow(
        requester=requester,
        idempotency_key=idempotency_key,
        body_sha256=body_sha256,
        gln=gln,
        created_at=now,
    )
    session.add(row)
    session.commit()
    return RegistrationRequest.of(row)


def note_registration(
    session: Session,
    request: RegistrationRequest,
    *,
    address: str | None = None,
    key_prefix: str | None = None,
    arrival: datetime | None = None,
) -> None:
    """Record on the request its participant and/or the prefix of the key answered, in the
    session's transaction (not committed here: the caller commits it with what it records)."""
    row = session.get(RegistrationRequestRow, (request.requester, request.idempotency_key))
    if row is None:
        raise RecordNotFoundError("registration request", request.idempotency_key)
    if address is not None:
        row.address = address
    if key_prefix is not None:
        row.key_prefix = key_prefix
        row.answered_arrival = arrival
    session.flush()


def forget_registration_request(session: Session, request: RegistrationRequest) -> None:
    """Delete the request unless its participant was stored (its attempt failed before the
    store write), and commit."""
    session.execute(
        delete(RegistrationRequestRow).where(
            RegistrationRequestRow.requester == request.requester,
            RegistrationRequestRow.idempotency_key == request.idempotency_key,
            RegistrationRequestRow.address.is_(None),
        )
    )
    session.commit()


def first_api_key_prefix(session: Session, participant: str) -> str | None:
    """The prefix of the participant's first key: the one its registration answered with."""
    return session.scalars(
        select(ApiKeyRow.prefix).where(ApiKeyRow.participant == participant).order_by(ApiKeyRow.id)
    ).first()


def api_key_by_prefix(session: Session, prefix: str) -> ApiKeyRow | None:
    """The key row with ``prefix`` (bound to ``session``), or None."""
    return session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
