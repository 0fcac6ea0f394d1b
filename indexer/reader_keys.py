"""Reader API keys of the indexer: roles ``regulator``, ``auditor``, ``pharmacovigilance`` (the
regulator's pharmacovigilance officers: a regulator's reading, and adverse-reaction reports'
contents), ``inspector`` (one
region's stock, alerts, recalls and events; the key carries that ``region``) and ``participant``
(the EPCIS events it captured and those on the items it has held; the key carries that
participant's address), all read-only (what each sees: indexer/queries/visibility.py).

Keys are ``ik_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear in
``ix_api_keys`` and finds the row; the whole token is stored only as its SHA-256
(servicekit/apikeys.py, shared with the gateway's keys: why a fast hash suffices for 256 random
bits, and how argon2 hashes of older keys stay valid). Keys have the lifecycle of
servicekit/apikeys.py ``KeyFlow``: several per reader, each with an id, a label, created,
last-used and expiry times; rotate with a grace period, revoke at once, list, and every
operation in ``ix_key_audit``. The row is read on every call, so a revocation takes effect on the
next request, and a revoked or expired key costs no argon2 check.

On first start the service issues one regulator key and writes it, alone, to
``settings.resolved_bootstrap_api_key_file`` (mode 0600). The key is never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.queries.common import address
from indexer.store.models import ApiKeyRow, KeyAuditRow
from medledger.errors import RecordNotFoundError, ValidationError
from medledger.regions import region_code
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
from servicekit.secrets import write_secret

log = logging.getLogger("provenance.indexer")

TOKEN_PREFIX = "ik"
#: Every role a reader key may have.
READER_ROLES = ("regulator", "auditor", "inspector", "participant", "pharmacovigilance")
#: The roles that read every route (an inspector reads only the routes scoped to its region, a
#: participant only the EPCIS query interface's, scoped to its custody chain). A
#: ``pharmacovigilance`` key is the regulator's pharmacovigilance officer's: it reads what a
#: regulator reads and alone reads adverse-reaction reports' contents (indexer/adverse_reports.py).
FULL_READERS = ("regulator", "auditor", "pharmacovigilance")
#: The roles that read adverse-reaction reports' contents (what happened, the reporter's contact).
PHARMACOVIGILANCE_READERS = ("pharmacovigilance",)
BOOTSTRAP_NAME = "bootstrap regulator"


@dataclass(frozen=True)
class ReaderKey:
    """Who a token belongs to (never the token itself)."""

    prefix: str
    name: str
    role: str
    revoked: bool = False
    id: int = 0
    region: str | None = None
    label: str = ""
    participant: str | None = None

    @property
    def actor(self) -> str:
        """How the key audit names this key's holder when it acts."""
        return f"key {self.id} ({self.name}, {self.role})"


@dataclass(frozen=True)
class ReaderKeyInfo:
    """A reader key as listed: the lifecycle fields and what it grants; never the secret."""

    key: KeyInfo
    role: str
    region: str | None
    participant: str | None = None


#: Where the indexer keeps its keys (servicekit/apikeys.py: the flow both services follow).
KEY_TABLE = KeyTable(
    ApiKeyRow,
    stored="secret_hash",
    row_id="id",
    label="reader key",
    owner="name",
    inherited=("role", "region", "participant"),
    audit=KeyAuditRow,
)


def check_role(
    role: str, region: str | None, participant: str | None = None
) -> tuple[str | None, str | None]:
    """The canonical region and participant address for a key of ``role``: an inspector needs a
    region (ISO 3166-2), a participant key its participant's address (0x, any case); the other
    roles read everything and take neither."""
    if role not in READER_ROLES:
        raise ValidationError(
            f"role must be one of {', '.join(READER_ROLES)}, got {role!r}",
            rule="apikey.role",
            pointer="/role",
        )
    if participant is not None and role != "participant":
        raise ValidationError(
            f"a {role} key is nobody's custody chain: give a participant to participant keys only",
            rule="apikey.participant",
            pointer="/participant",
        )
    if role == "participant":
        if participant is None:
            raise ValidationError(
                "a participant key needs the participant's address (0x...)",
                rule="apikey.participant",
                pointer="/participant",
            )
        if region is not None:
            raise ValidationError(
                "a participant key reads its own custody chain: give a region to inspector "
                "keys only",
                rule="apikey.region",
                pointer="/region",
            )
        return None, address(participant, pointer="/participant")
    if role == "inspector":
        if region is None:
            raise ValidationError(
                "an inspector key needs a region (ISO 3166-2, like 'KG-GB')",
                rule="apikey.region",
                pointer="/region",
            )
        return region_code(region, pointer="/region"), None
    if region is not None:
        raise ValidationError(
            f"a {role} key reads every region: give a region to inspector keys only",
            rule="apikey.region",
            pointer="/region",
        )
    return None, None


class ReaderKeys:
    """Issues, verifies, rotates, revokes and lists reader keys (``hasher``: for keys stored as
    argon2 hashes)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._flow = KeyFlow(TOKEN_PREFIX, KEY_TABLE, log=log, hasher=hasher)

    @property
    def flow(self) -> KeyFlow:
        return self._flow

    def issue(
        self,
        session: Session,
        name: str,
        role: str,
        *,
        region: str | None = None,
        participant: str | None = None,
        label: str = "",
        expires_at: datetime | None = None,
        actor: str = SYSTEM,
    ) -> str:
        """A new key (committed, audited); the token is returned once and never stored."""
        return self.issue_key(
            session,
            name,
            role,
            region=region,
            participant=participant,
            label=label,
            expires_at=expires_at,
            actor=actor,
        ).token

    def issue_key(
        self,
        session: Session,
        name: str,
        role: str,
        *,
        region: str | None = None,
        participant: str | None = None,
        label: str = "",
        expires_at: datetime | None = None,
        actor: str = SYSTEM,
    ) -> Issued:
        """A new key of ``role`` (``region``: an inspector's; ``participant``: a participant
        key's address), committed and audited."""
        region, participant = check_role(role, region, participant)
        return self._flow.issue_key(
            session,
            actor=actor,
            label=label,
            expires_at=expires_at,
            name=name[:200],
            role=role,
            region=region,
            participant=participant,
        )

    def authenticate(self, session: Session, token: str) -> ReaderKey | None:
        """The key a token is, or None (malformed, unknown, wrong secret, revoked, expired). An
        unknown prefix, a wrong secret and a dead key cost the same (servicekit/apikeys.py)."""
        row = self._flow.authenticate(session, token)
        return None if row is None else _reader(row)

    def get(self, session: Session, key_id: int) -> ApiKeyRow:
        row = self._flow.get(session, key_id)
        if row is None:
            raise RecordNotFoundError("api key", key_id)
        return row  # type: ignore[no-any-return]

    def rotate(
        self,
        session: Session,
        key_id: int,
        *,
        actor: str,
        grace: timedelta = DEFAULT_GRACE,
        expires_at: datetime | None = None,
    ) -> Rotated:
        """A new key for the same reader, role, region and participant; the old one valid
        ``grace`` more."""
        return self._flow.rotate(
            session, self.get(session, key_id), actor=actor, grace=grace, expires_at=expires_at
        )

    def revoke(self, session: Session, prefix: str, *, actor: str = SYSTEM) -> ReaderKey:
        """Revoke a key by its prefix (committed); later requests with it are refused."""
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
        if row is None:
            raise RecordNotFoundError("api key", prefix)
        self._flow.revoke(session, row, actor=actor)
        return _reader(row)

    def revoke_id(self, session: Session, key_id: int, *, actor: str) -> ReaderKeyInfo:
        row = self.get(session, key_id)
        return ReaderKeyInfo(
            self._flow.revoke(session, row, actor=actor), row.role, row.region, row.participant
        )

    def listing(self, session: Session) -> list[ReaderKeyInfo]:
        """Every key, oldest first, as listed (never a secret)."""
        rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))
        return [self.info(row) for row in rows]

    def info(self, row: ApiKeyRow) -> ReaderKeyInfo:
        return ReaderKeyInfo(self._flow.info(row), row.role, row.region, row.participant)

    def audit(
        self, session: Session, *, name: str | None = None, since: datetime | None = None
    ) -> list[AuditEntry]:
        return self._flow.audit(session, owners=None if name is None else [name], since=since)

    def list(self, session: Session) -> list[ReaderKey]:
        rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))
        return [_reader(row) for row in rows]


def _reader(row: ApiKeyRow) -> ReaderKey:
    return ReaderKey(
        row.prefix,
        row.name,
        row.role,
        row.revoked_at is not None,
        row.id,
        row.region,
        row.label,
        row.participant,
    )


def bootstrap_reader_key(
    sessions: sessionmaker[Session], keys: ReaderKeys, path: Path
) -> Path | None:
    """If no key exists, issue a regulator key and write it to ``path``; the path, or None."""
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(ApiKeyRow)):
            return None
        token = keys.issue(session, BOOTSTRAP_NAME, "regulator", label="bootstrap")
    write_secret(path, token)
    return path
