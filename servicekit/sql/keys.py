"""The columns every API-key table and every key-audit table has, as mixins.

Each service declares its own tables on its own ``Base`` (the gateway's ``api_keys`` and
``key_audit``, the indexer's ``ix_api_keys`` and ``ix_key_audit``), with these columns plus its
own: what stores the token's hash, and whom the key belongs to (a participant, a reader's name,
role and region). servicekit/apikeys.py ``KeyFlow`` runs the lifecycle over them.

A key is **live** while ``revoked_at`` is empty and ``expires_at`` is empty or later than now.
``last_used_at`` is "at least this recent": it is written at most once a minute per key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.sql.types import UtcDateTime

#: What the audit table records: a key issued (also at registration, and the new key of a
#: rotation), rotated (the old key, now expiring), revoked.
AUDIT_ACTIONS = ("issue", "rotate", "revoke")
LABEL = 100
ACTOR = 200


class KeyColumns:
    """id, prefix (public, unique: finds the row), label, and the key's times."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(LABEL), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class KeyAuditColumns:
    """One key operation: when, who did it (``actor``), what (``action``), to which key, whose
    key it is (``owner``) and a short ``detail``."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(ACTOR))
    action: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(ACTOR), index=True)
    detail: Mapped[str | None] = mapped_column(String(500))
