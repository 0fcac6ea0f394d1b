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
``ix_api_keys``) and follow one flow over it, :class:`KeyFlow`: issue (a new token, its stored form
written, the token returned once), verify a token against the row its prefix finds (an absent row
costs what a wrong secret costs) and replace a verified argon2 hash by the SHA-256 form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

#: Stored form of a token: this scheme, then the hex SHA-256 of the whole token.
SHA256_SCHEME = "sha256$"
PREFIX_BYTES = 6
SECRET_BYTES = 32
#: Compared with when no row has the token's prefix, so that answer costs what a wrong secret
#: costs.
_NO_ROW = SHA256_SCHEME + "0" * 64


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
    """Where a service keeps its keys: the ORM class (with a ``prefix`` attribute), the attribute
    holding a key's stored form, the attribute naming one row (for the upgrade's ``WHERE``) and
    what a log line calls a key."""

    model: type[Any]
    stored: str
    row_id: str
    label: str


class KeyFlow:
    """Issues and verifies the tokens of ``kind`` kept in ``table`` (``hasher``: for keys stored
    as argon2 hashes). What a key grants (a participant, a reader role) and revocation stay with
    each service."""

    def __init__(
        self,
        kind: str,
        table: KeyTable,
        *,
        log: logging.Logger,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.kind = kind
        self.table = table
        self._log = log
        self._verifier = TokenVerifier(hasher)

    def prefix(self, token: str) -> str | None:
        """The prefix of a well-formed token of this kind, else None."""
        parts = split_token(token, self.kind)
        return parts[0] if parts is not None else None

    def issue(self, session: Session, **columns: Any) -> str:
        """A new key, its row made of ``columns`` and the stored form, committed; the token is
        returned once and never stored."""
        token, prefix = new_token(self.kind)
        session.add(
            self.table.model(prefix=prefix, **{self.table.stored: stored_form(token)}, **columns)
        )
        session.commit()
        return token

    def verified(self, session: Session, row: Any | None, token: str) -> bool:
        """Whether ``token`` matches ``row``, the row its prefix found (None: no row, at the cost
        of a wrong secret). A verified argon2 hash is replaced by the SHA-256 form."""
        stored = getattr(row, self.table.stored) if row is not None else None
        verdict = self._verifier.verify(stored, token)
        if row is None or not verdict.ok:
            return False
        if verdict.upgrade is not None:
            self._upgrade(session, row, verdict.upgrade)
        return True

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
