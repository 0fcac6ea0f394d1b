"""Durable acknowledgement: a document's new events and its custody changes, in one commit.

Idempotency is by event id (the CBV 2.0 event hash): an event already stored is not stored
again, and its first record (salt, batch, submitter) stays the one that counts. Every capture
still records, in document order, every event it named, so a document made only of known events
gets its own capture pointing at them. Rules run before :func:`record_capture`; a service that
does not want the rules to see a resent event twice asks :func:`known_event_ids` first.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, column, func, insert, or_, select, table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medledger.custody.state import StateChange
from medledger.epcis.event_id import EventId
from medledger.errors import StoreConflictError, cut
from servicekit.sql.helpers import (
    chunks,
    copy_rows,
    execute_raw,
    is_postgresql,
    key_chunks,
    member_of,
    require_aware,
    upsert_insert,
    utcnow,
)

from .batches import BatchInfo, get_batch
from .custody_view import apply_changes
from .declarations import DeclarationRecord, insert_declarations
from .event_items import Touches, insert_event_items, stored_seqs
from .masterdata import MasterDataEntry, insert_records
from .models import (
    BatchRow,
    CaptureEventRow,
    CaptureRow,
    ErrorDeclarationRow,
    EventRow,
    MasterDataRow,
)

#: Rows per multi-row INSERT: large enough to amortise round trips, small enough for SQLite.
INSERT_CHUNK = 1000


def event_hash_bytes(event_id: str) -> bytes:
    """The 32-byte SHA-256 digest inside a ``ni:///sha-256;<hex>?ver=CBV2.0`` event id (only the
    URI form: the form every stored event has). A ValidationError, so a ValueError, otherwise."""
    return EventId.parse_uri(event_id).digest


def new_salt() -> bytes:
    return secrets.token_bytes(32)


def new_salts(count: int) -> list[bytes]:
    """``count`` fresh 32-byte salts from one read of the OS's random source (what
    :func:`new_salt` reads once per salt: a system call each)."""
    pool = secrets.token_bytes(32 * count)
    return [pool[i : i + 32] for i in range(0, 32 * count, 32)]


@dataclass(frozen=True)
class EventRecord:
    """One accepted event, as the capture service hands it to the store."""

    event_id: str  # ni:///sha-256;<hex>?ver=CBV2.0
    raw: str  # the event's JSON, as received
    event_time: datetime  # UTC-aware
    type: str  # ObjectEvent, AggregationEvent, ...
    biz_step: str | None = None
    salt: bytes = field(default_factory=new_salt, repr=False)  # fresh and random per event
    #: The digest ``event_id`` names, read from it once (the store and the re-hash both use it).
    event_hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_hash", event_hash_bytes(self.event_id))
        if len(self.salt) != 32:
            raise ValueError(f"salt must be 32 bytes, got {len(self.salt)}")


@dataclass(frozen=True)
class CaptureResult:
    capture_id: uuid.UUID
    event_ids: tuple[str, ...]  # in document order, duplicates included
    stored: int  # events new to the store
    duplicates: int  # events the store already had (or named twice in the document)
    declaration_ids: tuple[str, ...] = ()  # error declarations, in document order
    declarations_stored: int = 0  # declarations new to the store
    masterdata_ids: tuple[str, ...] = ()  # master data records of its header
    masterdata_stored: int = 0  # records new to the store


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    event_hash: bytes
    salt: bytes
    participant: str
    capture_id: uuid.UUID
    seq: int
    raw: str
    event_time: datetime
    type: str
    biz_step: str | None
    received_at: datetime
    batch: BatchInfo | None  # None until sealed


@dataclass(frozen=True)
class CaptureInfo:
    id: uuid.UUID
    participant: str
    received_at: datetime
    status: str  # accepted | anchored | rejected
    event_ids: tuple[str, ...]
    error: dict[str, Any] | None


#: PostgreSQL's ``event_keys`` (gateway/store/partitions.py): every stored event id, once.
_EVENT_KEYS = table("event_keys", column("event_id", String()))


def known_event_ids(session: Session, event_ids: Iterable[str]) -> set[str]:
    """Which of these event ids the store already holds (one query; a thousand per on SQLite).

    PostgreSQL asks ``event_keys``, which holds exactly the stored ids (capture inserts an
    event only with its new key): one unique index, probed once per id, where ``events`` has
    one index per month partition, each also holding the entries left by the seal's update of
    ``batch_id``, and the planner took a sequential scan of the partition while its statistics
    were missing (a per-document cost that grew with the table)."""
    wanted = sorted(set(event_ids))
    known: set[str] = set()
    for chunk in key_chunks(session, wanted):
        if is_postgresql(session):
            keys = _EVENT_KEYS.c.event_id
            array = bindparam(None, list(chunk), type_=postgresql.ARRAY(String()))
            query = select(keys).where(keys == any_(array))
        else:
            query = select(EventRow.event_id).where(member_of(session, EventRow.event_id, chunk))
        known.update(session.scalars(query))
    return known


_EVENT_COLUMNS = (
    "event_id",
    "event_hash",
    "salt",
    "participant",
    "capture_id",
    "raw",
    "event_time",
    "type",
    "biz_step",
    "received_at",
)
_STAGED = ", ".join(_EVENT_COLUMNS)
# One statement empties the staging table and inserts its rows in the callers' order; a row whose
# event id is already stored (a concurrent capture of the same event) is skipped, as with
# INSERT ... ON CONFLICT DO NOTHING. ``events`` is partitioned by month on PostgreSQL
# (gateway/store/partitions.py) and cannot hold a unique event id: the id goes into
# ``event_keys`` first, and the event only if its key was new (and once per id: the first).
_INSERT_STAGED_EVENTS = (
    "WITH moved AS (DELETE FROM staged_events RETURNING *), "
    "fresh AS (INSERT INTO event_keys (event_id, received_at) "
    "SELECT event_id, received_at FROM moved ORDER BY ord "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
    f"INSERT INTO events ({_STAGED}) SELECT {_STAGED} FROM moved m "
    "WHERE m.event_id IN (SELECT event_id FROM fresh) AND NOT EXISTS "
    "(SELECT 1 FROM moved o WHERE o.event_id = m.event_id AND o.ord < m.ord) ORDER BY ord"
)
#: The same, answering the id and ``seq`` of each event inserted (for ``event_items``).
_INSERT_STAGED_EVENTS_RETURNING = _INSERT_STAGED_EVENTS + " RETURNING event_id, seq"


def _insert_events(
    session: Session, rows: list[dict[str, Any]], seqs: dict[str, int] | None = None
) -> int:
    """Insert new event rows in order, skipping event ids already stored; how many went in.
    ``seqs``, if given, gets the ``seq`` of each event that went in (PostgreSQL: from the insert
    itself)."""
    if is_postgresql(session):
        cursor = copy_rows(
            session,
            "staged_events",
            ("ord", *_EVENT_COLUMNS),
            (
                (
                    i,
                    *(r[c] for c in _EVENT_COLUMNS[:6]),
                    require_aware(r["event_time"]),
                    r["type"],
                    r["biz_step"],
                    require_aware(r["received_at"]),
                )
                for i, r in enumerate(rows)
            ),
        )
        with cursor:
            if seqs is None:
                return execute_raw(cursor, _INSERT_STAGED_EVENTS)
            count = execute_raw(cursor, _INSERT_STAGED_EVENTS_RETURNING)
            seqs.update((event_id, seq) for event_id, seq in cursor.fetchall())
            return count
    # ON CONFLICT DO NOTHING: a concurrent capture of the same event keeps the first one.
    insert_events = upsert_insert(session, EventRow).on_conflict_do_nothing(
        index_elements=["event_id"]
    )
    connection = session.connection()
    for chunk in chunks(rows, INSERT_CHUNK):
        connection.execute(insert_events, list(chunk))
    if seqs is not None:
        seqs.update(stored_seqs(session, rows[0]["capture_id"], [r["event_id"] for r in rows]))
    return len(rows)


def _insert_links(session: Session, capture_id: uuid.UUID, events: Sequence[EventRecord]) -> None:
    if is_postgresql(session):
        copy_rows(
            session,
            "capture_events",
            ("capture_id", "position", "event_id"),
            ((capture_id, i, r.event_id) for i, r in enumerate(events)),
        ).close()
        return
    links: list[dict[str, object]] = [
        {"capture_id": capture_id, "position": i, "event_id": r.event_id}
        for i, r in enumerate(events)
    ]
    connection = session.connection()
    for chunk in chunks(links, INSERT_CHUNK):
        connection.execute(insert(CaptureEventRow), list(chunk))


def record_capture(
    session: Session,
    participant: str,
    events: Sequence[EventRecord],
    changes: Sequence[StateChange] = (),
    *,
    now: datetime | None = None,
    known: AbstractSet[str] | None = None,
    error: dict[str, Any] | None = None,
    declarations: Sequence[DeclarationRecord] = (),
    custody_items: Touches | None = None,
    masterdata: Sequence[MasterDataEntry] = (),
) -> CaptureResult:
    """Store a capture, its new events and its custody changes in one transaction, and commit.

    Nothing is visible to other sessions before the commit; any failure rolls everything back
    (a broken constraint surfaces as :class:`~medledger.errors.StoreConflictError`). ``known``: the
    event ids that :func:`known_event_ids` found stored earlier in this same transaction (the
    caller holds :func:`custody_lock`), to save looking them up again; an event stored since by
    someone else is still skipped by the insert itself. ``error``: what a ``proceed`` capture
    refused of its document (:func:`gateway.intake.proceed_errors`), kept with it.
    ``declarations``: the error declarations the document carries (of events stored before or
    by this capture; gateway/store/declarations.py), each stored once. ``custody_items``: what
    each event the ``pharma`` rules applied named (:func:`~gateway.store.event_items.touches`),
    kept in ``event_items`` for the events this capture stores. ``masterdata``: the
    master data records its header carries (gateway/store/masterdata.py), each stored once.
    """
    received = now or utcnow()
    capture_id = uuid.uuid4()
    first: dict[str, EventRecord] = {}
    for record in events:
        first.setdefault(record.event_id, record)
    try:
        if known is None:
            known = known_event_ids(session, first)
        session.connection().execute(
            insert(CaptureRow),
            [
                {
                    "id": capture_id,
                    "participant": participant,
                    "received_at": received,
                    "status": "accepted",
                    "event_count": len(events),
                    "error": error,
                }
            ],
        )
        new_rows: list[dict[str, Any]] = [
            {
                "event_id": r.event_id,
                "event_hash": r.event_hash,
                "salt": r.salt,
                "participant": participant,
                "capture_id": capture_id,
                "raw": r.raw,
                "event_time": r.event_time,
                "type": r.type,
                "biz_step": r.biz_step,
                "batch_id": None,
                "received_at": received,
            }
            for event_id, r in first.items()
            if event_id not in known
        ]
        seqs: dict[str, int] | None = {} if custody_items else None
        stored = _insert_events(session, new_rows, seqs) if new_rows else 0
        if seqs and custody_items:
            insert_event_items(session, seqs, custody_items)
        _insert_links(session, capture_id, events)
        declared = (
            insert_declarations(session, participant, capture_id, declarations, received)
            if declarations
            else 0
        )
        recorded = (
            insert_records(session, participant, capture_id, masterdata, received)
            if masterdata
            else 0
        )
        apply_changes(session, changes)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise StoreConflictError(f"capture not recorded: {exc.orig}") from exc
    except BaseException:
        session.rollback()
        raise
    return CaptureResult(
        capture_id=capture_id,
        event_ids=tuple(r.event_id for r in events),
        stored=stored,
        duplicates=len(events) - stored,
        declaration_ids=tuple(d.declaration_id for d in declarations),
        declarations_stored=declared,
        masterdata_ids=tuple(dict.fromkeys(m.record_id for m in masterdata)),
        masterdata_stored=recorded,
    )


#: Characters kept of each text field of a rejected capture's error, and fields kept: the whole
#: record stays under about 2 KB whatever was sent.
ERROR_FIELD_LIMIT = 1000
ERROR_FIELDS = 6


def bounded_error(error: dict[str, Any]) -> dict[str, Any]:
    """``error`` with every text cut to :data:`ERROR_FIELD_LIMIT` characters (keys to 40) and
    at most :data:`ERROR_FIELDS` fields; values other than text, numbers and None are dropped."""
    out: dict[str, Any] = {}
    for key, value in list(error.items())[:ERROR_FIELDS]:
        if isinstance(value, str):
            value = cut(value, ERROR_FIELD_LIMIT)
        elif not (value is None or isinstance(value, (int, float))):
            continue
        out[cut(str(key), 40)] = value
    return out


def record_rejection(
    session: Session,
    participant: str,
    error: dict[str, Any],
    *,
    event_count: int = 0,
    now: datetime | None = None,
) -> uuid.UUID:
    """Remember a rejected document (its reasons, no events) so its status can be asked for.

    The record is bounded (:func:`bounded_error`): a rejected request stores a few hundred
    characters of what it was refused for, never what it sent (issue 14, finding 8)."""
    error = bounded_error(error)
    row = CaptureRow(
        id=uuid.uuid4(),
        participant=participant,
        received_at=now or utcnow(),
        status="rejected",
        event_count=event_count,
        error=error,
    )
    session.add(row)
    session.commit()
    return row.id


def _stored(row: EventRow, batch: BatchInfo | None) -> StoredEvent:
    return StoredEvent(
        event_id=row.event_id,
        event_hash=row.event_hash,
        salt=row.salt,
        participant=row.participant,
        capture_id=row.capture_id,
        seq=row.seq,
        raw=row.raw,
        event_time=row.event_time,
        type=row.type,
        biz_step=row.biz_step,
        received_at=row.received_at,
        batch=batch,
    )


def get_event(session: Session, event_id: str) -> StoredEvent | None:
    """An event with its salt and, once sealed, its batch (root, transaction, block)."""
    row = session.scalars(select(EventRow).where(EventRow.event_id == event_id)).one_or_none()
    if row is None:
        return None
    batch = get_batch(session, row.batch_id) if row.batch_id is not None else None
    return _stored(row, batch)


def get_capture(session: Session, capture_id: uuid.UUID | str) -> CaptureInfo | None:
    """A capture's status and event ids; ``anchored`` once every one of its events is."""
    cid = capture_id if isinstance(capture_id, uuid.UUID) else uuid.UUID(str(capture_id))
    row = session.get(CaptureRow, cid)
    if row is None:
        return None
    return _capture_info(session, row)


def list_captures(
    session: Session,
    participant: str,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[CaptureInfo]:
    """A participant's captures in the order received (then by id), those after ``after``
    (the last one of the page before) only: at most ``limit``."""
    query = select(CaptureRow).where(CaptureRow.participant == participant)
    if after is not None:
        at, cid = after
        query = query.where(
            or_(
                CaptureRow.received_at > at,
                (CaptureRow.received_at == at) & (CaptureRow.id > cid),
            )
        )
    rows = session.scalars(query.order_by(CaptureRow.received_at, CaptureRow.id).limit(limit)).all()
    return [_capture_info(session, row) for row in rows]


def _capture_info(session: Session, row: CaptureRow) -> CaptureInfo:
    cid = row.id
    event_ids = tuple(
        session.scalars(
            select(CaptureEventRow.event_id)
            .where(CaptureEventRow.capture_id == cid)
            .order_by(CaptureEventRow.position)
        )
    )
    status = row.status
    carries_masterdata = (
        status == "accepted"
        and not event_ids
        and session.scalar(
            select(MasterDataRow.record_hash).where(MasterDataRow.capture_id == cid).limit(1)
        )
        is not None
    )
    if status == "accepted" and (event_ids or carries_masterdata):
        pending = session.scalar(
            select(func.count())
            .select_from(CaptureEventRow)
            .join(EventRow, EventRow.event_id == CaptureEventRow.event_id)
            .outerjoin(BatchRow, BatchRow.id == EventRow.batch_id)
            .where(
                CaptureEventRow.capture_id == cid,
                or_(BatchRow.id.is_(None), BatchRow.state != "anchored"),
            )
        )
        undeclared = session.scalar(
            select(func.count())
            .select_from(ErrorDeclarationRow)
            .outerjoin(BatchRow, BatchRow.id == ErrorDeclarationRow.batch_id)
            .where(
                ErrorDeclarationRow.capture_id == cid,
                or_(BatchRow.id.is_(None), BatchRow.state != "anchored"),
            )
        )
        unrecorded = session.scalar(
            select(func.count())
            .select_from(MasterDataRow)
            .outerjoin(BatchRow, BatchRow.id == MasterDataRow.batch_id)
            .where(
                MasterDataRow.capture_id == cid,
                or_(BatchRow.id.is_(None), BatchRow.state != "anchored"),
            )
        )
        if pending == 0 and undeclared == 0 and unrecorded == 0:
            status = "anchored"
    return CaptureInfo(
        id=row.id,
        participant=row.participant,
        received_at=row.received_at,
        status=status,
        event_ids=event_ids,
        error=row.error,
    )
