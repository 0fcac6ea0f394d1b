"""Participants and their API keys.

API keys are ``pk_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear and
finds the key's row; the whole token is stored only as an argon2id hash. The secret carries 256
random bits, so the slow hash is belt and braces rather than a need: a stolen table still gives
nothing to brute-force. Because argon2 is deliberately slow (tens of milliseconds and 64 MiB per
check with the library defaults), :class:`ApiKeys` remembers tokens it has verified, in memory, by
their SHA-256 only. Every call still reads the key's row and its participant, so a revocation or
a suspension takes effect on the next request; the cache only skips the argon2 step.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from threading import Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chain.errors import RecordNotFoundError, StoreConflictError
from gateway import custody

from ._sql import utcnow
from .models import PARTICIPANT_STATUSES, RULE_SETS, ApiKeyRow, ParticipantRow

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

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_custody(self) -> custody.Participant:
        return custody.Participant(
            address=self.address, roles=self.roles, gln=self.gln, active=self.active
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
        )


def create_participant(
    session: Session,
    *,
    address: str,
    name: str,
    roles: int,
    gln: str,
    rule_set: str = "pharma",
    keystore_path: str | None = None,
) -> ParticipantRecord:
    """Store a new participant (active) and commit."""
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
        created_at=utcnow(),
    )
    session.add(row)
    session.commit()
    return ParticipantRecord.of(row)


def get_participant(session: Session, address: str) -> ParticipantRecord | None:
    row = session.get(ParticipantRow, address)
    return None if row is None else ParticipantRecord.of(row)


def list_participants(session: Session) -> list[ParticipantRecord]:
    """Every participant, oldest first."""
    rows = session.scalars(
        select(ParticipantRow).order_by(ParticipantRow.created_at, ParticipantRow.address)
    )
    return [ParticipantRecord.of(row) for row in rows]


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
    session.commit()
    return ParticipantRecord.of(row)


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class ApiKeys:
    """Issues, verifies and revokes API keys; holds the argon2 hasher and the verified cache."""

    def __init__(self, hasher: PasswordHasher | None = None, *, cache_size: int = 10_000):
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._cache: OrderedDict[bytes, int] = OrderedDict()  # sha256(token) -> api key id
        self._cache_size = cache_size
        self._lock = Lock()

    def issue(self, session: Session, participant: str) -> str:
        """A new key for ``participant``; the token is returned once and never stored."""
        if session.get(ParticipantRow, participant) is None:
            raise RecordNotFoundError("participant", participant)
        prefix = secrets.token_hex(6)
        secret = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=").lower()
        token = f"{TOKEN_PREFIX}_{prefix}_{secret}"
        session.add(
            ApiKeyRow(
                participant=participant,
                prefix=prefix,
                hash=self._hasher.hash(token),
                created_at=utcnow(),
            )
        )
        session.commit()
        return token

    def authenticate(
        self, session: Session, token: str, *, allow_suspended: bool = False
    ) -> ParticipantRecord | None:
        """The participant a token belongs to, or None (unknown, wrong, revoked, suspended).

        ``allow_suspended=True`` returns a suspended participant too (check ``.active``), for a
        service that wants to answer "suspended" rather than "unauthenticated".
        """
        parts = _split(token)
        if parts is None:
            return None
        found = session.execute(
            select(ApiKeyRow, ParticipantRow)
            .join(ParticipantRow, ParticipantRow.address == ApiKeyRow.participant)
            .where(ApiKeyRow.prefix == parts[0])
        ).one_or_none()
        if found is None:
            return None
        key, participant = found
        if key.revoked_at is not None:
            return None
        if participant.status != "active" and not allow_suspended:
            return None
        if not self._verified(key, token):
            return None
        return ParticipantRecord.of(participant)

    def _verified(self, key: ApiKeyRow, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if self._cache.get(digest) == key.id:
                self._cache.move_to_end(digest)
                return True
        try:
            self._hasher.verify(key.hash, token)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._cache[digest] = key.id
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return True

    def revoke(self, session: Session, token_or_prefix: str) -> None:
        """Revoke a key, named by its token or its prefix, and commit."""
        parts = _split(token_or_prefix)
        prefix = parts[0] if parts else token_or_prefix
        result = session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        session.commit()
        if result.rowcount == 0:  # type: ignore[attr-defined]
            if session.scalars(select(ApiKeyRow.id).where(ApiKeyRow.prefix == prefix)).first():
                return  # already revoked
            raise RecordNotFoundError("api key", prefix)
        with self._lock:
            self._cache.clear()


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
