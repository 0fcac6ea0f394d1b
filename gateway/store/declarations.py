"""EPCIS error declarations of stored events (medledger/epcis/error_declaration.py).

A declaration is stored in the transaction of the capture that brought it
(:func:`gateway.store.capture.record_capture`), keyed by its digest, so the same declaration
sent again is a duplicate. It names a stored event (the foreign key refuses any other) and is
anchored by its declarer, as a leaf ``(declaration_hash, salt)`` of one of the declarer's
batches (after that batch's events, see :func:`gateway.store.batches.batch_values`).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medledger.epcis.error_declaration import declaration_id
from servicekit.sql.helpers import chunks, key_chunks, member_of, upsert_insert

from .batches import BatchInfo, get_batch
from .models import ErrorDeclarationRow, EventRow

#: Rows per multi-row INSERT.
INSERT_CHUNK = 500


def _new_salt() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class DeclarationRecord:
    """One declaration, as the intake hands it to the store."""

    declaration_hash: bytes
    event_id: str  # the declared event (stored)
    declaration_time: datetime  # UTC-aware
    reason: str | None
    corrective_ids: tuple[str, ...]
    raw: str  # the stored declaration document, JSON
    salt: bytes = field(default_factory=_new_salt, repr=False)

    def __post_init__(self) -> None:
        if len(self.declaration_hash) != 32 or len(self.salt) != 32:
            raise ValueError("a declaration's hash and salt are 32 bytes each")

    @property
    def declaration_id(self) -> str:
        return declaration_id(self.declaration_hash)


@dataclass(frozen=True)
class StoredDeclaration:
    declaration_hash: bytes
    event_id: str
    declared_by: str
    declaration_time: datetime
    reason: str | None
    corrective_ids: tuple[str, ...]
    raw: str
    capture_id: uuid.UUID
    salt: bytes
    received_at: datetime
    batch: BatchInfo | None  # None until sealed

    @property
    def declaration_id(self) -> str:
        return declaration_id(self.declaration_hash)


def event_submitters(session: Session, event_ids: Iterable[str]) -> dict[str, str]:
    """Who captured each of these stored events (those not stored are left out)."""
    wanted = sorted(set(event_ids))
    found: dict[str, str] = {}
    for chunk in key_chunks(session, wanted):
        rows = session.execute(
            select(EventRow.event_id, EventRow.participant).where(
                member_of(session, EventRow.event_id, chunk)
            )
        )
        found.update((event_id, participant) for event_id, participant in rows)
    return found


def known_declarations(session: Session, hashes: Iterable[bytes]) -> set[bytes]:
    """Which of these declarations are stored already."""
    wanted = sorted(set(hashes))
    known: set[bytes] = set()
    for chunk in key_chunks(session, wanted):
        known.update(
            session.scalars(
                select(ErrorDeclarationRow.declaration_hash).where(
                    member_of(session, ErrorDeclarationRow.declaration_hash, chunk)
                )
            )
        )
    return known


def insert_declarations(
    session: Session,
    declared_by: str,
    capture_id: uuid.UUID,
    records: Sequence[DeclarationRecord],
    received: datetime,
) -> int:
    """Insert the declarations not stored yet (in the caller's transaction); how many."""
    first: dict[bytes, DeclarationRecord] = {}
    for record in records:
        first.setdefault(record.declaration_hash, record)
    known = known_declarations(session, first)
    new = [r for h, r in first.items() if h not in known]
    if not new:
        return 0
    insert = upsert_insert(session, ErrorDeclarationRow).on_conflict_do_nothing(
        index_elements=["declaration_hash"]
    )
    rows: list[dict[str, Any]] = [
        {
            "declaration_hash": r.declaration_hash,
            "event_id": r.event_id,
            "declared_by": declared_by,
            "declaration_time": r.declaration_time,
            "reason": r.reason,
            "corrective_ids": list(r.corrective_ids),
            "raw": r.raw,
            "capture_id": capture_id,
            "salt": r.salt,
            "batch_id": None,
            "received_at": received,
        }
        for r in new
    ]
    connection = session.connection()
    for chunk in chunks(rows, INSERT_CHUNK):
        connection.execute(insert, list(chunk))
    return len(rows)


def _stored(row: ErrorDeclarationRow, batch: BatchInfo | None) -> StoredDeclaration:
    return StoredDeclaration(
        declaration_hash=row.declaration_hash,
        event_id=row.event_id,
        declared_by=row.declared_by,
        declaration_time=row.declaration_time,
        reason=row.reason,
        corrective_ids=tuple(row.corrective_ids),
        raw=row.raw,
        capture_id=row.capture_id,
        salt=row.salt,
        received_at=row.received_at,
        batch=batch,
    )


def get_declaration(session: Session, declaration_hash: bytes) -> StoredDeclaration | None:
    """A declaration with its salt and, once sealed, its batch."""
    row = session.get(ErrorDeclarationRow, declaration_hash)
    if row is None:
        return None
    batch = get_batch(session, row.batch_id) if row.batch_id is not None else None
    return _stored(row, batch)


def latest_declaration(session: Session, event_id: str) -> StoredDeclaration | None:
    """The declaration of a stored event received last (anchored or not), if any."""
    row = session.scalars(
        select(ErrorDeclarationRow)
        .where(ErrorDeclarationRow.event_id == event_id)
        .order_by(
            ErrorDeclarationRow.received_at.desc(), ErrorDeclarationRow.declaration_time.desc()
        )
        .limit(1)
    ).first()
    if row is None:
        return None
    batch = get_batch(session, row.batch_id) if row.batch_id is not None else None
    return _stored(row, batch)
