"""API tokens of the gateway (``pk_...``) and the indexer (``ik_...``), made and checked alike.

A token is ``<kind>_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear and
finds the key's row; the secret is 32 random bytes (256 bits, base32). What is stored of the whole
token is its SHA-256, as ``sha256$<64 hex>``, compared in constant time. A slow password hash adds
nothing for a secret of 256 random bits: nobody brute-forces 2^256 guesses, with or without a stolen
table (NIST SP 800-63B §5.1.1.2 asks for a slow hash only for secrets a person chooses). And the
fast check is cheap for every answer alike: a wrong secret under a known prefix costs what an
unknown prefix costs (one SHA-256 and one indexed row read), so no caller can make the service
spend seconds of CPU on guesses.

Keys issued before this scheme are argon2id PHC strings (``$argon2id$...``). They stay valid: the
first time one verifies, its stored form is replaced by the SHA-256 form (:attr:`Verdict.upgrade`,
written by the caller). Until then a wrong secret under such a key's prefix costs an argon2 check;
those checks run one at a time (:class:`TokenVerifier`, ``legacy_slots``), and a caller that waits
too long for its turn is refused as a wrong key, so guesses against old keys can take at most one
core and never hold the request threads. See docs/security.md, "Rate limits and authentication
cost".

Both services keep their keys in a table of their own (the gateway's ``api_keys``, the indexer's
``ix_api_keys``, with the columns of servicekit/sql/keys.py) and follow one flow over it,
:class:`KeyFlow`, the keys' whole lifecycle:

- **issue**: a new token, its stored form written, the token returned once; several keys per
  owner, each with an id, a label, its creation time and an optional expiry;
- **authenticate**: the row the token's prefix finds, then whether that key is *live* (not
  revoked, not expired), and only then the secret. A revoked or expired key is checked against
  the same constant an absent row is (one SHA-256, never argon2), so a dead key's prefix costs
  no argon2 check. A key that verifies gets ``last_used_at``, written at most once a minute;
- **rotate**: a new key for the same owner, and the old one's expiry brought forward to the end
  of a grace period (24 hours by default, 0 for at once, 30 days at most);
- **revoke**: at once; **list** (never the secret, which is not stored);
- every issue, rotation and revocation is written to the service's key-audit table (who, when,
  which key id, whose key) in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from medledger.errors import StoreConflictError, ValidationError
from servicekit.sql.helpers import utcnow
from servicekit.sql.keys import LABEL

#: Stored form of a token: this scheme, then the hex SHA-256 of the whole token.
SHA256_SCHEME = "sha256$"
PREFIX_BYTES = 6
SECRET_BYTES = 32
#: Compared with when no row has the token's prefix, so that answer costs what a wrong secret
#: costs.
_NO_ROW = SHA256_SCHEME + "0" * 64
#: A rotated key stays valid this long unless told otherwise; never longer than MAX_GRACE.
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)
#: ``last_used_at`` is written at most this often per key.
LAST_USED_EVERY = timedelta(minutes=1)
#: The actor of what a service does on its own (a key issued at first start).
SYSTEM = "system"


def new_token(kind: str) -> tuple[str, str]:
    """A new token of ``kind`` (``pk``, ``ik``) and its prefix."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=").lower()
    return f"{kind}_{prefix}_{secret}", prefix


def split_token(token: str, kind: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed token of ``kind``, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != kind or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def stored_form(token: str) -> str:
    """What is stored of a token: ``sha256$`` and the hex SHA-256 of the whole token."""
    return SHA256_SCHEME + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """Whether a token matched its row, and the stored form to write if the row was argon2."""

    ok: bool
    upgrade: str | None = None


class TokenVerifier:
    """Checks a token against its row's stored form (SHA-256, or argon2id from older keys)."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        legacy_slots: int = 1,
        legacy_wait_seconds: float = 2.0,
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._legacy = threading.BoundedSemaphore(legacy_slots)
        self._legacy_wait = legacy_wait_seconds

    def verify(self, stored: str | None, token: str) -> Verdict:
        """``stored`` is the row's stored form, or None when no row has the token's prefix."""
        if stored is None or stored.startswith(SHA256_SCHEME):
            expected = stored if stored is not None else _NO_ROW
            computed = stored_form(token)
            return Verdict(stored is not None and hmac.compare_digest(expected, computed))
        return self._verify_argon2(stored, token)

    def _verify_argon2(self, stored: str, token: str) -> Verdict:
        if not self._legacy.acquire(timeout=self._legacy_wait):
            return Verdict(False)
        try:
            self._hasher.verify(stored, token)
        except (VerificationError, InvalidHashError):
            return Verdict(False)
        finally:
            self._legacy.release()
        return Verdict(True, upgrade=stored_form(token))


@dataclass(frozen=True)
class KeyTable:
    """Where a service keeps its keys: the ORM class (with the columns of
    :class:`servicekit.sql.keys.KeyColumns`), the attribute holding a key's stored form, the
    attribute naming one row (for the upgrade's ``WHERE``), what a log line calls a key, the
    attribute naming whose key it is (``owner``), the columns a rotated key's successor takes
    over besides the owner and label (``inherited``) and the audit table's ORM class (with the
    columns of :class:`servicekit.sql.keys.KeyAuditColumns`; None: not audited)."""

    model: type[Any]
    stored: str
    row_id: str
    label: str
    owner: str = "owner"
    inherited: tuple[str, ...] = ()
    audit: type[Any] | None = None


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: everything but the secret (which is not stored)."""

    id: int
    prefix: str
    label: str
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class Issued:
    """A new key: the token (shown once) and the key's row as listed."""

    token: str
    key: KeyInfo
    row: Any


@dataclass(frozen=True)
class Rotated:
    """A rotation: the new key (its token shown once) and the old key with its new expiry."""

    token: str
    key: KeyInfo
    old: KeyInfo
    row: Any


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    key_id: int | None
    owner: str | None
    detail: str | None


def check_grace(grace: timedelta, *, pointer: str = "/graceSeconds") -> timedelta:
    """``grace`` if it is between 0 and :data:`MAX_GRACE`, else a ValidationError."""
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise ValidationError(
            f"the grace period must be between 0 and {MAX_GRACE.days} days "
            f"({int(MAX_GRACE.total_seconds())} seconds), got {grace.total_seconds():g} seconds",
            rule="apikey.grace",
            pointer=pointer,
        )
    return grace


class KeyFlow:
    """Issues, verifies, rotates, revokes and lists the tokens of ``kind`` kept in ``table``
    (``hasher``: for keys stored as argon2 hashes; ``clock``: now, as an aware UTC datetime).
    What a key grants (a participant, a reader role) stays with each service."""

    def __init__(
        self,
        kind: str,
        table: KeyTable,
        *,
        log: logging.Logger,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.kind = kind
        self.table = table
        self._log = log
        self._verifier = TokenVerifier(hasher)
        self.clock = clock

    def prefix(self, token: str) -> str | None:
        """The prefix of a well-formed token of this kind, else None."""
        parts = split_token(token, self.kind)
        return parts[0] if parts is not None else None

    # --- issue ---------------------------------------------------------------------------

    def issue(self, session: Session, *, actor: str = SYSTEM, **columns: Any) -> str:
        """A new key, its row made of ``columns`` and the stored form, committed (and audited);
        the token is returned once and never stored."""
        return self.issue_key(session, actor=actor, **columns).token

    def issue_key(
        self,
        session: Session,
        *,
        actor: str = SYSTEM,
        label: str = "",
        expires_at: datetime | None = None,
        detail: str | None = None,
        **columns: Any,
    ) -> Issued:
        """:meth:`issue`, returning the key as listed too."""
        issued = self._add(
            session, actor=actor, label=label, expires_at=expires_at, detail=detail, **columns
        )
        session.commit()
        return issued

    def _add(
        self,
        session: Session,
        *,
        actor: str,
        label: str,
        expires_at: datetime | None,
        detail: str | None,
        now: datetime | None = None,
        **columns: Any,
    ) -> Issued:
        now = now or self.clock()
        check_label(label)
        if expires_at is not None:
            check_expiry(expires_at, now)
        token, prefix = new_token(self.kind)
        row = self.table.model(
            prefix=prefix,
            label=label,
            created_at=now,
            expires_at=expires_at,
            **{self.table.stored: stored_form(token)},
            **columns,
        )
        session.add(row)
        session.flush()  # the row's id, for the audit
        self._audit(session, "issue", row, actor=actor, detail=detail, at=now)
        return Issued(token, self.info(row), row)

    # --- authenticate --------------------------------------------------------------------

    def find(self, session: Session, token: str) -> Any | None:
        """The row a token's prefix names (live or not), or None (malformed, unknown)."""
        prefix = self.prefix(token)
        if prefix is None:
            return None
        model = self.table.model
        return session.scalars(select(model).where(model.prefix == prefix)).one_or_none()

    def authenticate(self, session: Session, token: str) -> Any | None:
        """The live row ``token`` is, or None: row, then live?, then the secret (see the module
        doc: a dead key costs no argon2 check)."""
        row = self.find(session, token)
        return row if self.verified(session, row, token) else None

    def verified(self, session: Session, row: Any | None, token: str) -> bool:
        """Whether ``token`` matches ``row``, the row its prefix found, and that key is live.
        No row, or a dead one, is checked against a constant (one SHA-256, the cost of a wrong
        secret). A verified argon2 hash is replaced by the SHA-256 form; ``last_used_at`` is
        brought up to date (at most once a minute)."""
        now = self.clock()
        alive = row is not None and self.live(row, now)
        stored = getattr(row, self.table.stored) if alive else None
        verdict = self._verifier.verify(stored, token)
        if not alive or not verdict.ok:
            return False
        if verdict.upgrade is not None:
            self._upgrade(session, row, verdict.upgrade)
        self._touch(session, row, now)
        return True

    @staticmethod
    def live(row: Any, now: datetime) -> bool:
        """Not revoked, and not expired at ``now``."""
        expires: datetime | None = row.expires_at
        return row.revoked_at is None and (expires is None or expires > now)

    def _touch(self, session: Session, row: Any, now: datetime) -> None:
        """Write ``last_used_at`` if it is empty or a minute old or more. The caller's read
        transaction is ended first (committed: it has written nothing), so on SQLite the write
        waits for the write lock rather than failing to upgrade a read lock."""
        last: datetime | None = row.last_used_at
        if last is not None and now - last < LAST_USED_EVERY:
            return
        model = self.table.model
        try:
            session.commit()
            session.execute(
                update(model)
                .where(model.id == row.id)
                .where((model.last_used_at.is_(None)) | (model.last_used_at < now))
                .values(last_used_at=now)
            )
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            self._log.warning("%s %s: last use not recorded: %s", self.table.label, row.prefix, exc)

    def _upgrade(self, session: Session, row: Any, stored: str) -> None:
        """Replace a key's argon2 hash by its SHA-256 form once it verified; retried next time
        if the write fails (the key stays valid either way)."""
        table = self.table
        row_id, prefix, old = getattr(row, table.row_id), row.prefix, getattr(row, table.stored)
        try:
            session.execute(
                update(table.model)
                .where(
                    getattr(table.model, table.row_id) == row_id,
                    getattr(table.model, table.stored) == old,
                )
                .values({table.stored: stored})
            )
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            self._log.warning(
                "%s %s: its argon2 hash was not replaced: %s", table.label, prefix, exc
            )

    # --- lifecycle -----------------------------------------------------------------------

    def get(self, session: Session, key_id: int) -> Any | None:
        """The row of key ``key_id``, or None."""
        return session.get(self.table.model, key_id)

    def keys(self, session: Session, *where: ColumnElement[bool]) -> list[KeyInfo]:
        """The keys matching ``where`` (every key without), oldest first; never a secret."""
        model = self.table.model
        rows = session.scalars(select(model).where(*where).order_by(model.id))
        return [self.info(row) for row in rows]

    def live_count(self, session: Session, *where: ColumnElement[bool]) -> int:
        """How many keys matching ``where`` are live now."""
        model, now = self.table.model, self.clock()
        count = session.scalar(
            select(func.count())
            .select_from(model)
            .where(*where)
            .where(model.revoked_at.is_(None))
            .where(model.expires_at.is_(None) | (model.expires_at > now))
        )
        return int(count or 0)

    def rotate(
        self,
        session: Session,
        row: Any,
        *,
        actor: str,
        grace: timedelta = DEFAULT_GRACE,
        label: str | None = None,
        expires_at: datetime | None = None,
    ) -> Rotated:
        """A new key for ``row``'s owner (same label unless ``label``, the inherited columns,
        ``expires_at`` or none), and ``row``'s expiry brought forward to now + ``grace`` (never
        later than it was); one transaction, both audited. A key that is no longer live cannot
        be rotated (StoreConflictError): issue a new one."""
        check_grace(grace)
        now = self.clock()
        if not self.live(row, now):
            raise StoreConflictError(
                f"{self.table.label} {row.id} is {'revoked' if row.revoked_at else 'expired'}: "
                "issue a new key instead"
            )
        table = self.table
        columns = {name: getattr(row, name) for name in (table.owner, *table.inherited)}
        issued = self._add(
            session,
            actor=actor,
            label=row.label if label is None else label,
            expires_at=expires_at,
            detail=f"replaces key {row.id}",
            now=now,
            **columns,
        )
        ends = now + grace
        if row.expires_at is None or row.expires_at > ends:
            row.expires_at = ends
        self._audit(
            session,
            "rotate",
            row,
            actor=actor,
            detail=f"replaced by key {issued.key.id}; valid until {row.expires_at.isoformat()}",
            at=now,
        )
        session.commit()
        return Rotated(issued.token, issued.key, self.info(row), issued.row)

    def revoke(
        self, session: Session, row: Any, *, actor: str, detail: str | None = None
    ) -> KeyInfo:
        """Revoke ``row``'s key at once (committed, audited); a key already revoked is left as
        it is."""
        if row.revoked_at is None:
            now = self.clock()
            row.revoked_at = now
            self._audit(session, "revoke", row, actor=actor, detail=detail, at=now)
        session.commit()  # the caller's pending writes too, revoked now or before
        return self.info(row)

    def info(self, row: Any) -> KeyInfo:
        return KeyInfo(
            id=row.id,
            prefix=row.prefix,
            label=row.label,
            owner=str(getattr(row, self.table.owner)),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )

    # --- audit ---------------------------------------------------------------------------

    def _audit(
        self,
        session: Session,
        action: str,
        row: Any,
        *,
        actor: str,
        detail: str | None,
        at: datetime,
    ) -> None:
        if self.table.audit is None:
            return
        session.add(
            self.table.audit(
                at=at,
                actor=actor[:200],
                action=action,
                key_id=row.id,
                owner=str(getattr(row, self.table.owner))[:200],
                detail=None if detail is None else detail[:500],
            )
        )

    def audit(
        self,
        session: Session,
        *,
        owners: Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Audit rows, oldest first: of ``owners``' keys only if given, from ``since`` on."""
        audit = self.table.audit
        if audit is None:
            return []
        query = select(audit)
        if owners is not None:
            query = query.where(audit.owner.in_(list(owners)))
        if since is not None:
            query = query.where(audit.at >= since)
        rows = session.scalars(query.order_by(audit.at, audit.id).limit(limit))
        return [
            AuditEntry(r.id, r.at, r.actor, r.action, r.key_id, r.owner, r.detail) for r in rows
        ]


def check_label(label: str, *, pointer: str = "/label") -> str:
    if len(label) > LABEL:
        raise ValidationError(
            f"a key's label has at most {LABEL} characters, got {len(label)}",
            rule="apikey.label",
            pointer=pointer,
        )
    return label


def check_expiry(expires_at: datetime, now: datetime, *, pointer: str = "/expiresAt") -> datetime:
    """``expires_at`` if it is an aware time later than ``now``, else a ValidationError."""
    if expires_at.tzinfo is None:
        raise ValidationError(
            "expiresAt needs a time zone (e.g. 2027-01-31T00:00:00Z)",
            rule="apikey.expires-at",
            pointer=pointer,
        )
    if expires_at <= now:
        raise ValidationError(
            f"expiresAt {expires_at.isoformat()} is not in the future",
            rule="apikey.expires-at",
            pointer=pointer,
        )
    return expires_at
