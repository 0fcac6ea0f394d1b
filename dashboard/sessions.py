"""Signed-in web sessions: a reader key (regulator, auditor or inspector) is exchanged once for a
session token kept in an HttpOnly cookie; the server keeps only the token's SHA-256
(``ix_web_sessions``). A session ends when its holder signs out, after :data:`IDLE` without a
request, :data:`ABSOLUTE` after sign-in, or as soon as its key is revoked or expires (the key's
row is read on every request)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.reader_keys import ReaderKey
from indexer.store.models import ApiKeyRow, WebSessionRow
from servicekit.apikeys import KeyFlow

IDLE: Final = timedelta(minutes=30)
ABSOLUTE: Final = timedelta(hours=12)
#: ``last_seen_at`` is written at most this often (a page's polling would write every time).
TOUCH_EVERY: Final = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in (never the token)."""

    session_id: int
    key_id: int
    name: str
    role: str
    region: str | None
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, key: ReaderKey, now: datetime) -> tuple[str, SignedIn]:
    """A new session for ``key``: its token (for the cookie, shown nowhere else) and who."""
    token = secrets.token_urlsafe(32)
    row = WebSessionRow(
        token_hash=_digest(token),
        key_id=key.id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return token, SignedIn(row.id, key.id, key.name, key.role, key.region, row.csrf)


def resume(session: Session, token: str, now: datetime) -> SignedIn | None:
    """The session ``token`` opens at ``now``, or None (unknown, ended, idle or too old, or its
    key dead). A session found dead is ended, so it never comes back."""
    if not token or len(token) > 100:
        return None
    found = session.execute(
        select(WebSessionRow, ApiKeyRow)
        .join(ApiKeyRow, ApiKeyRow.id == WebSessionRow.key_id)
        .where(WebSessionRow.token_hash == _digest(token), WebSessionRow.ended_at.is_(None))
    ).one_or_none()
    if found is None:
        return None
    row, key = found
    if (
        now - row.last_seen_at > IDLE
        or now - row.created_at > ABSOLUTE
        or not KeyFlow.live(key, now)
    ):
        row.ended_at = now
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SignedIn(row.id, key.id, key.name, key.role, key.region, row.csrf)


def end(session: Session, session_id: int, now: datetime) -> None:
    """Sign out: the session's token opens nothing from now on."""
    row = session.get(WebSessionRow, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now
