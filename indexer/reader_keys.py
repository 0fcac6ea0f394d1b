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
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.store.models import ApiKeyRow
from medledger.errors import RecordNotFoundError, ValidationError
from servicekit.apikeys import KeyFlow, KeyTable
from servicekit.secrets import write_secret

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


#: Where the indexer keeps its keys (servicekit/apikeys.py: the flow both services follow).
KEY_TABLE = KeyTable(ApiKeyRow, stored="secret_hash", row_id="prefix", label="reader key")


class ReaderKeys:
    """Issues, verifies and revokes reader keys (``hasher``: for keys stored as argon2 hashes)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._flow = KeyFlow(TOKEN_PREFIX, KEY_TABLE, log=log, hasher=hasher)

    def issue(self, session: Session, name: str, role: str) -> str:
        """A new key (committed); the token is returned once and never stored."""
        if role not in READER_ROLES:
            raise ValidationError(
                f"role must be one of {', '.join(READER_ROLES)}, got {role!r}",
                rule="apikey.role",
            )
        return self._flow.issue(session, name=name[:200], role=role, revoked=False)

    def authenticate(self, session: Session, token: str) -> ReaderKey | None:
        """The key a token is, or None (malformed, unknown, wrong secret, revoked). An unknown
        prefix and a wrong secret cost the same (servicekit/apikeys.py)."""
        prefix = self._flow.prefix(token)
        if prefix is None:
            return None
        row = session.get(ApiKeyRow, prefix)
        if not self._flow.verified(session, row, token) or row is None:
            return None
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
