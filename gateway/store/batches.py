"""Batch lifecycle: sealed -> sent -> anchored (or failed), one commit per transition.

Sealing assigns a participant's unbatched events, in ``seq`` order, and its unbatched error
declarations (gateway/store/declarations.py), oldest first, to a new batch when it has
``max_events`` leaves or its oldest waited ``max_age_seconds``; nothing chain-related happens
here. A batch's leaves are its events in ``seq`` order, then its declarations by received time
and digest, then its master data records (gateway/store/masterdata.py) likewise; its
``event_count`` (the count anchored on chain) counts them all. The batcher then builds the
tree and stores the root (:func:`set_root`), sends the anchor transaction (:func:`mark_sent`),
and records inclusion (:func:`mark_anchored`). Because each step commits on its own, a restart
finds every batch in the state it reached and resumes: ``sealed`` is (re)built and sent,
``sent`` is checked by its transaction hash. See ``docs/storage.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medledger.epcis.error_declaration import KIND_DECLARATION, KIND_EVENT, declaration_id
from medledger.errors import BatchStateError, RecordNotFoundError, StoreConflictError
from medledger.masterdata.record import KIND_MASTERDATA, masterdata_id
from servicekit.sql.helpers import key_chunks, member_of, utcnow

from .leases import accounts_with_unbatched_leaves
from .models import (
    BATCH_STATES,
    AccountNonceRow,
    AnchorHistoryRow,
    BatchRow,
    ErrorDeclarationRow,
    EventRow,
    MasterDataRow,
)

log = logging.getLogger("provenance.gateway.anchoring")


@dataclass(frozen=True)
class BatchInfo:
    id: int
    participant: str
    state: str  # open | sealed | sent | anchored | failed
    root: bytes | None
    event_count: int
    tx_hash: str | None
    nonce: int | None
    block_number: int | None
    block_hash: str | None
    sealed_at: datetime | None
    sent_at: datetime | None
    anchored_at: datetime | None
    attempts: int
    last_error: str | None

    @classmethod
    def of(cls, row: BatchRow) -> BatchInfo:
        return cls(
            id=row.id,
            participant=row.participant,
            state=row.state,
            root=row.root,
            event_count=row.event_count,
            tx_hash=row.tx_hash,
            nonce=row.nonce,
            block_number=row.block_number,
            block_hash=row.block_hash,
            sealed_at=row.sealed_at,
            sent_at=row.sent_at,
            anchored_at=row.anchored_at,
            attempts=row.attempts,
            last_error=row.last_error,
        )


@dataclass(frozen=True)
class BatchEvent:
    """One leaf of a batch: an event, or an error declaration (``kind``; then ``event_id`` is
    the declaration's id, ``event_hash`` its digest and ``raw`` the stored declaration)."""

    event_id: str
    event_hash: bytes
    salt: bytes
    raw: str
    kind: str = KIND_EVENT


@dataclass(frozen=True)
class BatchContents:
    batch: BatchInfo
    events: tuple[BatchEvent, ...]  # in seq order


def _row(session: Session, batch_id: int) -> BatchRow:
    row = session.get(BatchRow, batch_id, with_for_update=True)
    if row is None:
        raise RecordNotFoundError("batch", batch_id)
    return row


def _require(row: BatchRow, transition: str, allowed: tuple[str, ...]) -> None:
    if row.state not in allowed:
        raise BatchStateError(row.id, row.state, transition, allowed)


def _commit(session: Session, row: BatchRow) -> BatchInfo:
    info = BatchInfo.of(row)
    session.commit()
    return info


def seal_batches(
    session: Session,
    *,
    max_events: int,
    max_age_seconds: float,
    now: datetime | None = None,
    participants: Collection[str] | None = None,
    backlog_max_events: int | None = None,
) -> list[BatchInfo]:
    """Seal every batch that is due, per participant; commit after each participant.
    ``participants``: the accounts to look at (the batcher passes those it holds with leaves
    waiting); default: every account with leaves not yet in a batch.

    A batch is due when ``max_events`` leaves wait or the oldest waited ``max_age_seconds``.
    With ``backlog_max_events``, more than ``max_events`` waiting (capture outpaced anchoring:
    each anchor costs the batcher a few round trips to the node and the database, whatever its
    size) are sealed in batches of up to that many, so a backlog is anchored in fewer
    transactions and shrinks instead of growing; without it, batches hold ``max_events``."""
    if max_events < 1:
        raise ValueError(f"max_events must be at least 1, got {max_events}")
    backlog_size = max(max_events, backlog_max_events or max_events)
    now = now or utcnow()
    cutoff = now - timedelta(seconds=max_age_seconds)
    due = set(participants) if participants is not None else accounts_with_unbatched_leaves(session)
    sealed: list[BatchInfo] = []
    for participant in sorted(due):
        try:
            events = session.execute(
                select(EventRow.seq, EventRow.received_at)
                .where(EventRow.batch_id.is_(None), EventRow.participant == participant)
                .order_by(EventRow.seq)
                .with_for_update(skip_locked=True)  # PostgreSQL: two sealers never share events
            ).all()
            declarations = session.execute(
                select(ErrorDeclarationRow.declaration_hash, ErrorDeclarationRow.received_at)
                .where(
                    ErrorDeclarationRow.batch_id.is_(None),
                    ErrorDeclarationRow.declared_by == participant,
                )
                .order_by(ErrorDeclarationRow.received_at, ErrorDeclarationRow.declaration_hash)
                .with_for_update(skip_locked=True)
            ).all()
            records = session.execute(
                select(MasterDataRow.record_hash, MasterDataRow.received_at)
                .where(MasterDataRow.batch_id.is_(None), MasterDataRow.declared_by == participant)
                .order_by(MasterDataRow.received_at, MasterDataRow.record_hash)
                .with_for_update(skip_locked=True)
            ).all()
            # (received_at, kind, key): the oldest leaves first, an event before a declaration
            # received at the same moment (the declaration may be of that very event), master
            # data records last
            pending: list[tuple[datetime, int, Any]] = sorted(
                [(e.received_at, 0, e.seq) for e in events]
                + [(d.received_at, 1, d.declaration_hash) for d in declarations]
                + [(m.received_at, 2, m.record_hash) for m in records],
                key=lambda p: (p[0], p[1]),
            )
            size = min(backlog_size, len(pending)) if len(pending) > max_events else max_events
            start = 0
            while start < len(pending):
                take = pending[start : start + size]
                if len(take) < max_events and min(t[0] for t in take) > cutoff:
                    break  # neither full nor old enough yet
                row = BatchRow(
                    participant=participant,
                    state="sealed",
                    event_count=len(take),
                    sealed_at=now,
                    attempts=0,
                )
                session.add(row)
                session.flush()
                seqs = [t[2] for t in take if t[1] == 0]
                # the time bounds let PostgreSQL visit only the month partitions of these events
                received = [t[0] for t in take if t[1] == 0]
                for chunk in key_chunks(session, seqs):
                    session.execute(
                        update(EventRow)
                        .where(
                            member_of(session, EventRow.seq, chunk),
                            EventRow.received_at.between(min(received), max(received)),
                        )
                        .values(batch_id=row.id)
                    )
                hashes = [t[2] for t in take if t[1] == 1]
                for chunk in key_chunks(session, hashes):
                    session.execute(
                        update(ErrorDeclarationRow)
                        .where(member_of(session, ErrorDeclarationRow.declaration_hash, chunk))
                        .values(batch_id=row.id)
                    )
                for chunk in key_chunks(session, [t[2] for t in take if t[1] == 2]):
                    session.execute(
                        update(MasterDataRow)
                        .where(member_of(session, MasterDataRow.record_hash, chunk))
                        .values(batch_id=row.id)
                    )
                sealed.append(BatchInfo.of(row))
                start += len(take)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return sealed


def get_batch(session: Session, batch_id: int) -> BatchInfo | None:
    row = session.get(BatchRow, batch_id)
    return None if row is None else BatchInfo.of(row)


def batches_in_state(
    session: Session, state: str, *, participant: str | None = None
) -> list[BatchInfo]:
    """Batches in ``state``, oldest first (what a restarted batcher resumes)."""
    if state not in BATCH_STATES:
        raise ValueError(f"unknown batch state {state!r}; known: {', '.join(BATCH_STATES)}")
    query = select(BatchRow).where(BatchRow.state == state).order_by(BatchRow.id)
    if participant is not None:
        query = query.where(BatchRow.participant == participant)
    return [BatchInfo.of(r) for r in session.scalars(query)]


def batch_values(session: Session, batch_id: int) -> list[tuple[bytes, bytes]]:
    """The batch's Merkle leaf values: ``(event_hash, salt)`` of its events in seq order, then
    ``(declaration_hash, salt)`` of its error declarations (received time, then digest)."""
    events = [
        (h, s)
        for h, s in session.execute(
            select(EventRow.event_hash, EventRow.salt)
            .where(EventRow.batch_id == batch_id)
            .order_by(EventRow.seq)
        )
    ]
    declarations = [
        (h, s)
        for h, s in session.execute(
            select(ErrorDeclarationRow.declaration_hash, ErrorDeclarationRow.salt)
            .where(ErrorDeclarationRow.batch_id == batch_id)
            .order_by(ErrorDeclarationRow.received_at, ErrorDeclarationRow.declaration_hash)
        )
    ]
    return (
        events
        + declarations
        + [
            (h, s)
            for h, s in session.execute(
                select(MasterDataRow.record_hash, MasterDataRow.salt)
                .where(MasterDataRow.batch_id == batch_id)
                .order_by(MasterDataRow.received_at, MasterDataRow.record_hash)
            )
        ]
    )


def set_root(session: Session, batch_id: int, root: bytes) -> BatchInfo:
    """Store the Merkle root the batcher built for a sealed batch; commit."""
    if len(root) != 32:
        raise ValueError(f"root must be 32 bytes, got {len(root)}")
    try:
        row = _row(session, batch_id)
        _require(row, "set its root", ("sealed",))
        if row.root is not None and row.root != root:
            raise StoreConflictError(
                f"batch {batch_id} already has root 0x{row.root.hex()}, not 0x{root.hex()}"
            )
        row.root = root
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


def mark_sent(session: Session, batch_id: int, *, tx_hash: str, nonce: int) -> BatchInfo:
    """The anchor transaction was sent (or re-sent, replacing the previous hash); commit."""
    try:
        row = _row(session, batch_id)
        _require(row, "mark it sent", ("sealed", "sent"))
        if row.root is None:
            raise StoreConflictError(f"batch {batch_id} has no root: set_root before sending")
        row.state = "sent"
        row.tx_hash = tx_hash
        row.nonce = nonce
        row.sent_at = utcnow()
        row.attempts += 1
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


def mark_anchored(
    session: Session,
    batch_id: int,
    *,
    block_number: int,
    root: bytes | None = None,
    tx_hash: str | None = None,
    block_hash: str | None = None,
) -> BatchInfo:
    """The root is on chain in ``block_number``; commit. Repeating it (same block) is a no-op.

    Allowed from ``sealed`` too (the transaction went out but the process stopped before
    ``mark_sent``; the chain then says the root is already anchored) and from ``failed``.
    ``tx_hash`` and ``block_hash`` None keep the stored ones (:func:`record_anchor_transaction`
    sets them exactly). A batch anchored again after its anchor vanished marks those history
    rows re-anchored.
    """
    try:
        row = _row(session, batch_id)
        if row.state == "anchored" and row.block_number == block_number:
            if tx_hash is not None:
                row.tx_hash = tx_hash
            if block_hash is not None:
                row.block_hash = block_hash
            return _commit(session, row)
        _require(row, "mark it anchored", ("sealed", "sent", "failed"))
        if root is not None:
            if row.root is not None and row.root != root:
                raise StoreConflictError(
                    f"batch {batch_id}: anchored root 0x{root.hex()} differs from"
                    f" stored root 0x{row.root.hex()}"
                )
            row.root = root
        if row.root is None:
            raise StoreConflictError(f"batch {batch_id} has no root to be anchored")
        row.state = "anchored"
        row.block_number = block_number
        row.anchored_at = utcnow()
        if tx_hash is not None:
            row.tx_hash = tx_hash
        if block_hash is not None:
            row.block_hash = block_hash
        row.last_error = None
        session.execute(
            update(AnchorHistoryRow)
            .where(
                AnchorHistoryRow.batch_id == batch_id,
                AnchorHistoryRow.outcome == "vanished",
                AnchorHistoryRow.reanchored_at.is_(None),
            )
            .values(reanchored_at=row.anchored_at)
        )
        info = _commit(session, row)
    except BaseException:
        session.rollback()
        raise
    _log_anchored(info)
    return info


def _log_anchored(info: BatchInfo) -> None:
    """One line per anchored batch (``provenance up`` shows it; the services log it)."""
    root = f"0x{info.root.hex()}" if info.root is not None else "-"
    log.info(
        "batch %d anchored: %d events of %s in block %s (root %s, tx %s)",
        info.id,
        info.event_count,
        info.participant,
        info.block_number,
        root,
        info.tx_hash or "-",
        extra={
            "batch": info.id,
            "events": info.event_count,
            "participant": info.participant,
            "block": info.block_number,
            "root": root,
            "tx_hash": info.tx_hash,
        },
    )


def record_anchor_transaction(
    session: Session,
    batch_id: int,
    *,
    tx_hash: str | None,
    block_number: int,
    block_hash: str | None = None,
) -> BatchInfo:
    """Store what the chain's logs say anchored an anchored batch's root; commit.

    ``tx_hash`` None clears a hash known not to be the anchor (a reverted transaction's), and
    ``block_hash`` None one not known.
    """
    try:
        row = _row(session, batch_id)
        _require(row, "record its anchor transaction", ("anchored",))
        row.tx_hash = tx_hash
        row.block_number = block_number
        row.block_hash = block_hash
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


def anchored_without_transaction(session: Session) -> list[BatchInfo]:
    """Anchored batches whose anchoring transaction is not known (recovered after a crash)."""
    query = (
        select(BatchRow)
        .where(BatchRow.state == "anchored", BatchRow.tx_hash.is_(None))
        .order_by(BatchRow.id)
    )
    return [BatchInfo.of(r) for r in session.scalars(query)]


def anchored_from_block(session: Session, first_block: int) -> list[BatchInfo]:
    """Anchored batches in ``first_block`` or later, or with no block hash (recorded before
    it was kept): what the reconciler re-checks. Oldest block first."""
    query = (
        select(BatchRow)
        .where(
            BatchRow.state == "anchored",
            (BatchRow.block_number >= first_block) | BatchRow.block_hash.is_(None),
        )
        .order_by(BatchRow.block_number, BatchRow.id)
    )
    return [BatchInfo.of(r) for r in session.scalars(query)]


def _remember_anchor(session: Session, row: BatchRow, outcome: str) -> None:
    assert row.root is not None
    session.add(
        AnchorHistoryRow(
            batch_id=row.id,
            root=row.root,
            tx_hash=row.tx_hash,
            block_number=row.block_number,
            block_hash=row.block_hash,
            anchored_at=row.anchored_at,
            outcome=outcome,
            ended_at=utcnow(),
        )
    )


def _unchanged(row: BatchRow, seen: BatchInfo) -> bool:
    """Whether the row still holds the anchor ``seen`` (another batcher's reconciler may have
    handled it since: a batcher needs no lease on an account to re-check its anchors)."""
    return (row.state, row.tx_hash, row.block_number, row.block_hash) == (
        "anchored",
        seen.tx_hash,
        seen.block_number,
        seen.block_hash,
    )


def record_anchor_moved(
    session: Session,
    seen: BatchInfo,
    *,
    tx_hash: str | None,
    block_number: int,
    block_hash: str | None,
    deep_enough: bool = True,
) -> BatchInfo | None:
    """The root is still anchored by the batch's participant, but not where ``seen`` recorded
    it (another block, or another transaction): keep the old anchor as history (``moved``) and
    record the chain's; commit. Not ``deep_enough`` for the batcher's confirmations, the batch
    goes back to ``sent`` with the anchoring transaction, which settles it when it is. None
    (nothing written) if the batch no longer holds the anchor ``seen``."""
    try:
        row = _row(session, seen.id)
        if not _unchanged(row, seen):
            session.rollback()
            return None
        _remember_anchor(session, row, "moved")
        row.tx_hash = tx_hash
        row.block_number = block_number
        row.block_hash = block_hash
        if not deep_enough and tx_hash is not None:
            row.state = "sent"
            row.block_number = None
            row.block_hash = None
            row.anchored_at = None
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


def reopen_vanished(session: Session, seen: BatchInfo, reason: str) -> BatchInfo | None:
    """The batch's root is no longer anchored on chain: keep the anchor ``seen`` as history
    (``vanished``) and put the batch back to ``sealed`` (same root) to be anchored again by a
    new transaction; commit. None (nothing written) if the batch no longer holds that anchor."""
    try:
        row = _row(session, seen.id)
        if not _unchanged(row, seen):
            session.rollback()
            return None
        _remember_anchor(session, row, "vanished")
        row.state = "sealed"
        row.tx_hash = None
        row.nonce = None
        row.block_number = None
        row.block_hash = None
        row.anchored_at = None
        row.last_error = reason
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


@dataclass(frozen=True)
class PastAnchor:
    """An anchor a batch had before a reorganisation (a row of ``anchor_history``)."""

    batch_id: int
    root: bytes
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    anchored_at: datetime | None
    outcome: str  # vanished | moved
    ended_at: datetime
    reanchored_at: datetime | None

    @classmethod
    def of(cls, row: AnchorHistoryRow) -> PastAnchor:
        return cls(
            batch_id=row.batch_id,
            root=row.root,
            tx_hash=row.tx_hash,
            block_number=row.block_number,
            block_hash=row.block_hash,
            anchored_at=row.anchored_at,
            outcome=row.outcome,
            ended_at=row.ended_at,
            reanchored_at=row.reanchored_at,
        )


@dataclass(frozen=True)
class AnchorLookup:
    """What the store knows of a transaction hash: the batch it anchors now (``current``), and
    the past anchors it was (``past``; the batch is then the one they belonged to)."""

    batch: BatchInfo
    current: bool
    past: tuple[PastAnchor, ...]


def lookup_anchor(session: Session, tx_hash: str) -> AnchorLookup | None:
    """The batch a transaction hash anchors or anchored; None if the store never knew it."""
    tx_hash = tx_hash.lower()
    row = session.scalars(
        select(BatchRow)
        .where(BatchRow.tx_hash == tx_hash, BatchRow.state == "anchored")
        .order_by(BatchRow.id)
        .limit(1)
    ).one_or_none()
    if row is not None:
        history = session.scalars(
            select(AnchorHistoryRow)
            .where(AnchorHistoryRow.batch_id == row.id)
            .order_by(AnchorHistoryRow.id)
        )
        return AnchorLookup(
            batch=BatchInfo.of(row), current=True, past=tuple(PastAnchor.of(h) for h in history)
        )
    history_rows = list(
        session.scalars(
            select(AnchorHistoryRow)
            .where(AnchorHistoryRow.tx_hash == tx_hash)
            .order_by(AnchorHistoryRow.id)
        )
    )
    if not history_rows:
        return None
    batch = session.get(BatchRow, history_rows[-1].batch_id)
    if batch is None:  # the history's foreign key keeps its batch: cannot happen
        return None
    return AnchorLookup(
        batch=BatchInfo.of(batch),
        current=False,
        past=tuple(PastAnchor.of(h) for h in history_rows),
    )


def anchor_history_counts(session: Session) -> dict[str, int]:
    """How many anchors vanished, how many of those batches were anchored again, how many
    moved: the reconciler's counters (monotonic: history rows are never deleted)."""
    vanished, reanchored, moved = session.execute(
        select(
            func.coalesce(func.sum(case((AnchorHistoryRow.outcome == "vanished", 1), else_=0)), 0),
            func.count(AnchorHistoryRow.reanchored_at),
            func.coalesce(func.sum(case((AnchorHistoryRow.outcome == "moved", 1), else_=0)), 0),
        )
    ).one()
    return {"vanished": int(vanished), "reanchored": int(reanchored), "moved": int(moved)}


def mark_failed(session: Session, batch_id: int, error: str) -> BatchInfo:
    """Give up on a batch for now (kept with its events; :func:`reopen` retries it); commit."""
    try:
        row = _row(session, batch_id)
        _require(row, "mark it failed", ("sealed", "sent", "failed"))
        row.state = "failed"
        row.last_error = error
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


def reopen(session: Session, batch_id: int) -> BatchInfo:
    """Put a failed batch back to ``sealed`` so the batcher sends it again; commit."""
    try:
        row = _row(session, batch_id)
        _require(row, "reopen it", ("failed",))
        row.state = "sealed"
        return _commit(session, row)
    except BaseException:
        session.rollback()
        raise


def get_batch_by_root(session: Session, root: bytes) -> BatchContents | None:
    """A batch and its leaves with their salts (events, then error declarations, then master
    data records), for the indexer and auditors."""
    row = session.scalars(select(BatchRow).where(BatchRow.root == root)).one_or_none()
    if row is None:
        return None
    events = (
        tuple(
            BatchEvent(event_id=e, event_hash=h, salt=s, raw=r)
            for e, h, s, r in session.execute(
                select(EventRow.event_id, EventRow.event_hash, EventRow.salt, EventRow.raw)
                .where(EventRow.batch_id == row.id)
                .order_by(EventRow.seq)
            )
        )
        + tuple(
            BatchEvent(
                event_id=declaration_id(h), event_hash=h, salt=s, raw=r, kind=KIND_DECLARATION
            )
            for h, s, r in session.execute(
                select(
                    ErrorDeclarationRow.declaration_hash,
                    ErrorDeclarationRow.salt,
                    ErrorDeclarationRow.raw,
                )
                .where(ErrorDeclarationRow.batch_id == row.id)
                .order_by(ErrorDeclarationRow.received_at, ErrorDeclarationRow.declaration_hash)
            )
        )
        + tuple(
            BatchEvent(event_id=masterdata_id(h), event_hash=h, salt=s, raw=r, kind=KIND_MASTERDATA)
            for h, s, r in session.execute(
                select(MasterDataRow.record_hash, MasterDataRow.salt, MasterDataRow.raw)
                .where(MasterDataRow.batch_id == row.id)
                .order_by(MasterDataRow.received_at, MasterDataRow.record_hash)
            )
        )
    )
    return BatchContents(batch=BatchInfo.of(row), events=events)


def unanchored_event_count(session: Session) -> int:
    """Events acknowledged but not yet anchored: the backlog behind the 503 back-pressure."""
    unbatched = (
        (
            session.scalar(
                select(func.count()).select_from(EventRow).where(EventRow.batch_id.is_(None))
            )
            or 0
        )
        + (
            session.scalar(
                select(func.count())
                .select_from(ErrorDeclarationRow)
                .where(ErrorDeclarationRow.batch_id.is_(None))
            )
            or 0
        )
        + (
            session.scalar(
                select(func.count())
                .select_from(MasterDataRow)
                .where(MasterDataRow.batch_id.is_(None))
            )
            or 0
        )
    )
    in_batches = session.scalar(
        select(func.coalesce(func.sum(BatchRow.event_count), 0)).where(BatchRow.state != "anchored")
    )
    return int(unbatched or 0) + int(in_batches or 0)


# --- nonces ------------------------------------------------------------------------------------


def next_nonce(session: Session, address: str) -> int | None:
    """The next nonce the store would give ``address``, or None if it never sent."""
    row = session.get(AccountNonceRow, address)
    return None if row is None else row.next_nonce


def reserve_nonce(session: Session, address: str, chain_next: int = 0) -> int:
    """Take the next nonce for ``address`` (never below the chain's pending count); commit.

    The stored counter survives restarts, so a transaction sent just before a crash is never
    followed by another with the same nonce.
    """
    try:
        row = session.get(AccountNonceRow, address, with_for_update=True)
        if row is None:
            try:
                with session.begin_nested():  # two writers may make the first row at once
                    session.add(
                        AccountNonceRow(address=address, next_nonce=chain_next, updated_at=utcnow())
                    )
            except IntegrityError:
                pass  # the other writer's row: locked and used below
            row = session.get(
                AccountNonceRow, address, with_for_update=True, populate_existing=True
            )
            assert row is not None
        nonce = max(row.next_nonce, chain_next)
        row.next_nonce = nonce + 1
        row.updated_at = utcnow()
        session.commit()
        return nonce
    except BaseException:
        session.rollback()
        raise


def set_next_nonce(session: Session, address: str, value: int) -> None:
    """Resynchronise with the node (it said the nonce was wrong); commit."""
    try:
        row = session.get(AccountNonceRow, address, with_for_update=True)
        if row is None:
            session.add(AccountNonceRow(address=address, next_nonce=value, updated_at=utcnow()))
        else:
            row.next_nonce = value
            row.updated_at = utcnow()
        session.commit()
    except BaseException:
        session.rollback()
        raise
