"""Reader API keys of the indexer: roles ``regulator`` and ``auditor``, both read-only.

Keys are ``ik_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear in
``ix_api_keys`` and finds the row; the whole token is stored only as its SHA-256
(servicekit/apikeys.py, shared with the gateway's keys:
 why a fast hash suffices for 256 random bits,
and how argon2 hashes of older keys stay valid). The row is read on every call, so a revocation
takes effect on the next request.

On first start the service issues one regulator key and writes it, alone, to
``settings.resolved_bootstrap_api_key_file`` (mode 0600). The key is never logged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from indexer.store.models import ApiKeyRow
from medledger.errors import RecordNotFoundError, ValidationError
from servicekit.apikeys import TokenVerifier, new_token, split_token, stored_form

log = logging.getLogger("provenance.indexer")

TOKEN_PREFIX = "ik"
READER_ROLES = ("regulator", "auditor")
BOOTSTRAP_NAME = "bootstrap regulator"


@dataclass(frozen=True)
class ReaderKey:
    """Who a token belongs to (never the token itself)."""

    prefix: str
    name: str
    role: str
    revoked: bool = False


def _split(token: str) -> tuple[str, str] | None:
    return split_token(token, TOKEN_PREFIX)


class ReaderKeys:
    """Issues, verifies and revokes reader keys (``hasher``: for keys stored as argon2 hashes)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._verifier = TokenVerifier(hasher)

    def issue(self, session: Session, name: str, role: str) -> str:
        """A new key (committed); the token is returned once and never stored."""
        if role not in READER_ROLES:
            raise ValidationError(
                f"role must be one of {', '.join(READER_ROLES)}, got {role!r}",
                rule="apikey.role",
            )
        token, prefix = new_token(TOKEN_PREFIX)
        session.add(
            ApiKeyRow(
                prefix=prefix,
                name=name[:200],
                role=role,
                secret_hash=stored_form(token),
                revoked=False,
            )
        )
        session.commit()
        return token

    def authenticate(self, session: Session, token: str) -> ReaderKey | None:
        """The key a token is, or None (malformed, unknown, wrong secret, revoked). An unknown
        prefix and a wrong secret cost the same (servicekit/apikeys.py)."""
        parts = _split(token)
        if parts is None:
            return None
        row = session.get(ApiKeyRow, parts[0])
        verdict = self._verifier.verify(row.secret_hash if row is not None else None, token)
        if row is None or not verdict.ok:
            return None
        if verdict.upgrade is not None:
            _upgrade(session, row, verdict.upgrade)
        if row.revoked:
            return None
        return ReaderKey(row.prefix, row.name, row.role, row.revoked)

    def revoke(self, session: Session, prefix: str) -> ReaderKey:
        """Revoke a key by its prefix (committed); later requests with it are refused."""
        row = session.get(ApiKeyRow, prefix)
        if row is None:
            raise RecordNotFoundError("api key", prefix)
        row.revoked = True
        session.commit()
        return ReaderKey(row.prefix, row.name, row.role, True)

    def list(self, session: Session) -> list[ReaderKey]:
        rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.prefix))
        return [ReaderKey(r.prefix, r.name, r.role, r.revoked) for r in rows]


def _upgrade(session: Session, row: ApiKeyRow, stored: str) -> None:
    """Replace a key's argon2 hash by its SHA-256 form once it verified; retried next time if
    the write fails (the key stays valid either way)."""
    prefix, old = row.prefix, row.secret_hash
    try:
        session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.prefix == prefix, ApiKeyRow.secret_hash == old)
            .values(secret_hash=stored)
        )
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("reader key %s: its argon2 hash was not replaced: %s", prefix, exc)


def write_secret(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)


def bootstrap_reader_key(
    sessions: sessionmaker[Session], keys: ReaderKeys, path: Path
) -> Path | None:
    """If no key exists, issue a regulator key and write it to ``path``; the path, or None."""
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(ApiKeyRow)):
            return None
        token = keys.issue(session, BOOTSTRAP_NAME, "regulator")
    write_secret(path, token)
    return path
