"""Master data records (medledger/masterdata), stored and anchored by their declarer.

A record is stored in the transaction that brought it: the capture whose header carried it
(:func:`gateway.store.capture.record_capture`) or an import (``POST /masterdata``,
:func:`import_records`), keyed by its digest, so the same record again is a duplicate. It is
anchored as a leaf ``(record_hash, salt)`` of one of its declarer's batches, after that batch's
events and error declarations (see :func:`gateway.store.batches.batch_values`).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medledger.masterdata.record import MasterDataRecord, masterdata_id
from servicekit.sql.helpers import chunks, key_chunks, member_of, upsert_insert, utcnow

from .batches import BatchInfo, get_batch
from .models import MasterDataRow

INSERT_CHUNK = 500


def _new_salt() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class MasterDataEntry:
    """One record, as the intake hands it to the store (with the salt of its leaf)."""

    record: MasterDataRecord
    raw: str  # the stored record document, JSON
    salt: bytes = field(default_factory=_new_salt, repr=False)

    @classmethod
    def of(cls, record: MasterDataRecord) -> MasterDataEntry:
        return cls(record, json.dumps(record.document(), separators=(",", ":"), ensure_ascii=False))

    @property
    def record_id(self) -> str:
        return self.record.id


@dataclass(frozen=True)
class StoredMasterData:
    record_hash: bytes
    kind: str
    element_id: str
    effective_time: datetime
    declared_by: str
    raw: str
    capture_id: uuid.UUID | None
    salt: bytes
    received_at: datetime
    batch: BatchInfo | None  # None until sealed

    @property
    def record_id(self) -> str:
        return masterdata_id(self.record_hash)


@dataclass(frozen=True)
class Imported:
    record_ids: tuple[str, ...]
    stored: int
    duplicates: int


def known_records(session: Session, hashes: Iterable[bytes]) -> set[bytes]:
    """Which of these records are stored already."""
    wanted = sorted(set(hashes))
    known: set[bytes] = set()
    for chunk in key_chunks(session, wanted):
        known.update(
            session.scalars(
                select(MasterDataRow.record_hash).where(
                    member_of(session, MasterDataRow.record_hash, chunk)
                )
            )
        )
    return known


def insert_records(
    session: Session,
    declared_by: str,
    capture_id: uuid.UUID | None,
    entries: Sequence[MasterDataEntry],
    received: datetime,
) -> int:
    """Insert the records not stored yet (in the caller's transaction); how many."""
    first: dict[bytes, MasterDataEntry] = {}
    for entry in entries:
        first.setdefault(entry.record.digest, entry)
    known = known_records(session, first)
    rows: list[dict[str, Any]] = [
        {
            "record_hash": h,
            "kind": e.record.kind,
            "vocabulary_type": e.record.vocabulary_type,
            "element_id": e.record.element_id,
            "effective_time": e.record.effective_time,
            "declared_by": declared_by,
            "raw": e.raw,
            "capture_id": capture_id,
            "salt": e.salt,
            "batch_id": None,
            "received_at": received,
        }
        for h, e in first.items()
        if h not in known
    ]
    if not rows:
        return 0
    insert = upsert_insert(session, MasterDataRow).on_conflict_do_nothing(
        index_elements=["record_hash"]
    )
    connection = session.connection()
    for chunk in chunks(rows, INSERT_CHUNK):
        connection.execute(insert, list(chunk))
    return len(rows)


def import_records(
    session: Session, declared_by: str, entries: Sequence[MasterDataEntry]
) -> Imported:
    """Store imported records in one transaction and commit."""
    try:
        stored = insert_records(session, declared_by, None, entries, utcnow())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    ids = tuple(dict.fromkeys(e.record_id for e in entries))
    return Imported(record_ids=ids, stored=stored, duplicates=len(ids) - stored)


def _stored(row: MasterDataRow, batch: BatchInfo | None) -> StoredMasterData:
    return StoredMasterData(
        record_hash=row.record_hash,
        kind=row.kind,
        element_id=row.element_id,
        effective_time=row.effective_time,
        declared_by=row.declared_by,
        raw=row.raw,
        capture_id=row.capture_id,
        salt=row.salt,
        received_at=row.received_at,
        batch=batch,
    )


def get_record(session: Session, record_hash: bytes) -> StoredMasterData | None:
    """A record with its salt and, once sealed, its batch."""
    row = session.get(MasterDataRow, record_hash)
    if row is None:
        return None
    batch = get_batch(session, row.batch_id) if row.batch_id is not None else None
    return _stored(row, batch)
