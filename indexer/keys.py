"""Reader API keys of the indexer: roles ``regulator`` and ``auditor``, both read-only.

Keys are ``ik_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear in
``ix_api_keys`` and finds the row; the whole token is stored only as an argon2id hash. Verified
tokens are remembered in memory by their SHA-256 (the row is still read on every call, so a
revocation takes effect on the next request; the cache only skips the slow hash).

On first start the service issues one regulator key and writes it, alone, to
``settings.resolved_bootstrap_api_key_file`` (mode 0600). The key is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chain.errors import RecordNotFoundError, ValidationError
from indexer.store.models import ApiKeyRow

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
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class ReaderKeys:
    """Issues, verifies and revokes reader keys; holds the hasher and the verified cache."""

    def __init__(self, hasher: PasswordHasher | None = None, *, cache_size: int = 10_000):
        self._hasher = hasher or PasswordHasher()
        self._cache: OrderedDict[bytes, str] = OrderedDict()  # sha256(token) -> prefix
        self._cache_size = cache_size
        self._lock = Lock()

    def issue(self, session: Session, name: str, role: str) -> str:
        """A new key (committed); the token is returned once and never stored."""
        if role not in READER_ROLES:
            raise ValidationError(
                f"role must be one of {', '.join(READER_ROLES)}, got {role!r}",
                rule="apikey.role",
            )
        prefix = secrets.token_hex(6)
        secret = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=").lower()
        token = f"{TOKEN_PREFIX}_{prefix}_{secret}"
        session.add(
            ApiKeyRow(
                prefix=prefix,
                name=name[:200],
                role=role,
                secret_hash=self._hasher.hash(token),
                revoked=False,
            )
        )
        session.commit()
        return token

    def authenticate(self, session: Session, token: str) -> ReaderKey | None:
        """The key a token is, or None (malformed, unknown, wrong secret, revoked)."""
        parts = _split(token)
        if parts is None:
            return None
        row = session.get(ApiKeyRow, parts[0])
        if row is None or row.revoked:
            return None
        if not self._verified(row, token):
            return None
        return ReaderKey(row.prefix, row.name, row.role, row.revoked)

    def _verified(self, row: ApiKeyRow, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if self._cache.get(digest) == row.prefix:
                self._cache.move_to_end(digest)
                return True
        try:
            self._hasher.verify(row.secret_hash, token)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._cache[digest] = row.prefix
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return True

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


def write_secret(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
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
