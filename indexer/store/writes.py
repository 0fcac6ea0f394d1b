"""Writing what one step of the follower derived: bulk inserts, never row-by-row ORM.

Every function takes the step's session; the follower commits once per step, with the
checkpoint, so a crash leaves either all of a step or none of it.

On PostgreSQL the bulk rows (events, their items, item versions) go in with ``COPY`` on the
session's own connection (so they commit or roll back with everything else), and closing the
current versions a batch replaced is one ``UPDATE ... FROM unnest(arrays)``; SQLite keeps
``executemany``. Rows are tuples in the column order of :data:`EVENT_COLUMNS`,
:data:`ITEM_COLUMNS` and :data:`VERSION_COLUMNS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from indexer.alert_kinds import ALERT_KINDS, SEVERITIES
from indexer.chainlogs import BlockHeader
from indexer.projection import Projection
from indexer.store import supply, tallies
from indexer.store.models import (
    AlertRow,
    AnchorRow,
    BlockRow,
    CheckpointRow,
    ErrorDeclarationRow,
    EventIlmdRow,
    EventItemRow,
    EventRow,
    EventTallyRow,
    HoldingVersionRow,
    ItemTallyRow,
    ItemVersionRow,
    LotRow,
    MasterDataRow,
    ParticipantChangeRow,
    ParticipantRow,
    PendingRow,
    RecallChangeRow,
    RecallRow,
    SubscriptionRow,
    TransitObservationRow,
    first_sequence_of_block,
)
from indexer.store.state import packed_keys
from servicekit.sql.helpers import copy_rows, copy_text, driver_errors, is_postgresql

CHECKPOINT_ID = 1

EVENT_COLUMNS = (
    "event_hash",
    "seq",
    "block_number",
    "root",
    "submitter",
    "salt",
    "type",
    "action",
    "biz_step",
    "disposition",
    "event_time",
    "read_point",
    "biz_location",
    "source",
    "destination",
    "raw",
)
ITEM_COLUMNS = ("identifier", "seq", "role", "event_hash", "block_number", "quantity", "uom")
ILMD_COLUMNS = (
    "seq",
    "field",
    "block_number",
    "kind",
    "text_value",
    "number_value",
    "time_value",
)
VERSION_COLUMNS = (
    "identifier",
    "valid_from",
    "valid_to",
    "block_number",
    "event_hash",
    "event_time",
    "status",
    "holder",
    "location",
    "parent",
    "in_transit_to",
    "gtin",
    "lot",
)

Row = tuple[Any, ...]


def _bulk_insert(session: Session, model: Any, columns: Sequence[str], rows: list[Row]) -> None:
    """``COPY`` on PostgreSQL, ``executemany`` of an ``INSERT`` elsewhere."""
    if not rows:
        return
    if is_postgresql(session):
        copy_rows(session, model.__tablename__, columns, rows)
    else:
        session.execute(insert(model), [dict(zip(columns, row, strict=True)) for row in rows])


def alert_key(kind: str, *parts: object) -> str:
    """A stable key: the same alert derived twice is one row."""
    text = json.dumps([kind, *[str(p) for p in parts]], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def get_checkpoint(session: Session) -> CheckpointRow | None:
    return session.get(CheckpointRow, CHECKPOINT_ID)


def set_checkpoint(session: Session, header: BlockHeader) -> None:
    row = session.get(CheckpointRow, CHECKPOINT_ID)
    if row is None:
        session.add(
            CheckpointRow(id=CHECKPOINT_ID, block_number=header.number, block_hash=header.hash)
        )
    else:
        row.block_number = header.number
        row.block_hash = header.hash
    remember_block(session, header)


def remember_block(session: Session, header: BlockHeader) -> None:
    """The block's row, unless it is stored already (one statement, no read first)."""
    values = {
        "number": header.number,
        "hash": header.hash,
        "parent_hash": header.parent_hash,
        "timestamp": header.timestamp,
    }
    table: Any = BlockRow.__table__
    statement: Any = postgresql_insert(table) if is_postgresql(session) else sqlite_insert(table)
    session.execute(statement.values(values).on_conflict_do_nothing())


def add_alert(
    session: Session,
    *,
    kind: str,
    severity: str,
    block_number: int,
    subject: str | None,
    message: str,
    evidence: dict[str, Any],
    key_parts: Sequence[object],
) -> None:
    if kind not in ALERT_KINDS or severity not in SEVERITIES:
        raise ValueError(f"not a kind and severity of indexer.alert_kinds: {kind} {severity}")
    key = alert_key(kind, *key_parts)
    if session.get(AlertRow, key) is None:
        session.add(
            AlertRow(
                key=key,
                kind=kind,
                severity=severity,
                block_number=block_number,
                subject=subject,
                message=message,
                evidence=evidence,
            )
        )


# --- participants and recalls ----------------------------------------------------------------


def apply_participant_change(session: Session, change: ParticipantChangeRow) -> None:
    session.add(change)
    _replay_participant(session, change)


def apply_recall_change(session: Session, change: RecallChangeRow) -> None:
    session.add(change)
    _replay_recall(session, change)


# --- batches ---------------------------------------------------------------------------------


def add_anchor(session: Session, anchor: AnchorRow) -> None:
    """The anchor's row, inserted at once (a statement, not the session's unit of work)."""
    table: Any = AnchorRow.__table__
    session.execute(insert(table).values({c.key: getattr(anchor, c.key) for c in table.columns}))


def insert_events(
    session: Session, events: list[Row], items: list[Row], ilmd: list[Row] | None = None
) -> None:
    """Event rows (:data:`EVENT_COLUMNS`), item rows (:data:`ITEM_COLUMNS`) and ILMD rows
    (:data:`ILMD_COLUMNS`)."""
    _bulk_insert(session, EventRow, EVENT_COLUMNS, events)
    _bulk_insert(session, EventItemRow, ITEM_COLUMNS, items)
    _bulk_insert(session, EventIlmdRow, ILMD_COLUMNS, ilmd or [])


def insert_event_lines(connection: Any, events: bytes, items: bytes, ilmd: bytes = b"") -> None:
    """Event, item and ILMD rows as ``COPY`` text (:mod:`indexer.store.copy_text`) on the
    session's driver connection (``servicekit.sql.helpers.driver_connection``; PostgreSQL)."""
    if events:
        copy_text(connection, EventRow.__tablename__, EVENT_COLUMNS, events)
    if items:
        copy_text(connection, EventItemRow.__tablename__, ITEM_COLUMNS, items)
    if ilmd:
        copy_text(connection, EventIlmdRow.__tablename__, ILMD_COLUMNS, ilmd)


def write_projection(session: Session, projection: Projection, block_number: int) -> None:
    """New versions, closing the stored current ones; new lots."""
    item_rows: list[Row] = []
    closes: list[tuple[str, int]] = []
    stored = projection.stored_items
    changes: list[tuple[str | None, str | None]] = []  # (closed, left current) statuses
    for identifier, versions in projection.item_versions.items():
        closed = None
        if identifier in stored:
            closes.append((identifier, versions[0].seq))
            prior = projection.prior_items.get(identifier)
            closed = prior.status if prior is not None else None
        changes.append((closed, versions[-1].status))
        last = len(versions) - 1
        for i, v in enumerate(versions):
            item_rows.append(
                (
                    identifier,
                    v.seq,
                    versions[i + 1].seq if i < last else None,
                    block_number,
                    v.event_hash,
                    v.event_time,
                    v.status,
                    v.holder,
                    v.location,
                    v.parent,
                    v.in_transit_to,
                    v.gtin,
                    v.lot,
                )
            )
    close_versions(session, closes)
    _bulk_insert(session, ItemVersionRow, VERSION_COLUMNS, item_rows)
    tallies.add_items(session, block_number, tallies.item_deltas(changes))

    holding_rows: list[dict[str, Any]] = []
    holding_closes: list[dict[str, Any]] = []
    for key, hversions in projection.holding_versions.items():
        if key in projection.stored_holdings:
            holding_closes.append(
                {
                    "b_class": key[0],
                    "b_holder": key[1],
                    "b_to": key[2],
                    "b_valid_to": hversions[0].seq,
                }
            )
        for i, h in enumerate(hversions):
            holding_rows.append(
                {
                    "class_id": key[0],
                    "holder": key[1],
                    "in_transit_to": key[2],
                    "valid_from": h.seq,
                    "valid_to": hversions[i + 1].seq if i + 1 < len(hversions) else None,
                    "block_number": block_number,
                    "event_hash": h.event_hash,
                    "quantity": h.quantity,
                    "uom": h.uom,
                }
            )
    if holding_closes:
        holdings = HoldingVersionRow.__table__.c
        session.connection().execute(
            update(HoldingVersionRow.__table__)  # type: ignore[arg-type]
            .where(
                holdings.class_id == bindparam("b_class"),
                holdings.holder == bindparam("b_holder"),
                holdings.in_transit_to == bindparam("b_to"),
                holdings.valid_to.is_(None),
            )
            .values(valid_to=bindparam("b_valid_to")),
            holding_closes,
        )
    if holding_rows:
        session.execute(insert(HoldingVersionRow), holding_rows)

    if projection.lots:
        session.execute(
            insert(LotRow),
            [
                {
                    "gtin": lot.gtin,
                    "lot": lot.lot,
                    "expiry": lot.expiry,
                    "commissioned_by": lot.commissioned_by,
                    "first_seq": lot.first_seq,
                    "block_number": block_number,
                }
                for lot in projection.lots
            ],
        )


def last_sequence(session: Session, block_number: int, below: int) -> int:
    """The largest sequence number of a version written by block ``block_number`` (below
    ``below``), or the block's first sequence number minus one."""
    found = session.scalar(
        select(func.max(ItemVersionRow.valid_from)).where(
            ItemVersionRow.block_number == block_number, ItemVersionRow.valid_from < below
        )
    )
    return int(found) if found is not None else first_sequence_of_block(block_number) - 1


def close_versions(session: Session, closes: list[tuple[str, int]]) -> None:
    """Set ``valid_to`` of the current version of each ``(identifier, valid_to)``."""
    if not closes:
        return
    identifiers = [c[0] for c in closes]
    packed = packed_keys(identifiers)
    if is_postgresql(session) and packed is not None:
        # two text parameters (see state.packed_keys), unnested side by side
        statement = (
            "UPDATE ix_item_versions AS v SET valid_to = c.valid_to "
            "FROM unnest(string_to_array(%s, E'\\n'), string_to_array(%s, ',')::bigint[]) "
            "AS c(identifier, valid_to) "
            "WHERE v.identifier = c.identifier AND v.valid_to IS NULL"
        )
        connection = session.connection().connection.driver_connection
        tos = ",".join(str(c[1]) for c in closes)
        with driver_errors(statement), connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(statement, (packed[0], tos))
        return
    items = ItemVersionRow.__table__.c
    session.connection().execute(
        update(ItemVersionRow.__table__)  # type: ignore[arg-type]
        .where(items.identifier == bindparam("b_identifier"), items.valid_to.is_(None))
        .values(valid_to=bindparam("b_valid_to")),
        [{"b_identifier": i, "b_valid_to": to} for i, to in closes],
    )


def refresh_statistics(session: Session) -> None:
    """``ANALYZE`` the tables bulk loading grows (PostgreSQL; SQLite plans without)."""
    if is_postgresql(session):
        session.execute(text("ANALYZE ix_events, ix_event_items, ix_event_ilmd, ix_item_versions"))


def indexed_events_estimate(session: Session) -> int:
    """The planner's estimate of the indexed events (PostgreSQL; 0 elsewhere or if unknown)."""
    if not is_postgresql(session):
        return 0
    estimate = session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'ix_events'"))
    return max(int(estimate or 0), 0)


def insert_declarations(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert verified error declarations not indexed before (a declaration anchored again in
    another batch keeps its first row); the rows that went in."""
    if not rows:
        return []
    known = set(
        session.scalars(
            select(ErrorDeclarationRow.declaration_hash).where(
                ErrorDeclarationRow.declaration_hash.in_([r["declaration_hash"] for r in rows])
            )
        )
    )
    new: dict[bytes, dict[str, Any]] = {}
    for row in rows:
        if row["declaration_hash"] not in known:
            new.setdefault(row["declaration_hash"], row)
    if new:
        session.execute(insert(ErrorDeclarationRow), list(new.values()))
    return list(new.values())


def insert_masterdata(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert verified master data records not indexed before (a record anchored again keeps
    its first row); how many went in."""
    if not rows:
        return 0
    known = set(
        session.scalars(
            select(MasterDataRow.record_hash).where(
                MasterDataRow.record_hash.in_([r["record_hash"] for r in rows])
            )
        )
    )
    new: dict[bytes, dict[str, Any]] = {}
    for row in rows:
        if row["record_hash"] not in known:
            new.setdefault(row["record_hash"], row)
    if new:
        session.execute(insert(MasterDataRow), list(new.values()))
    return len(new)


# --- rollback --------------------------------------------------------------------------------


def rollback_to(session: Session, ancestor: BlockHeader, first_block_seq: int) -> None:
    """Undo everything derived from blocks after ``ancestor``; ``first_block_seq`` is the
    first sequence number of block ``ancestor.number + 1``."""
    n = ancestor.number
    # the versions the orphaned blocks closed: those of the identifiers they wrote versions of
    # (found by block number: no index on valid_to to maintain on every write)
    orphaned = select(ItemVersionRow.identifier).where(ItemVersionRow.block_number > n)
    session.execute(
        update(ItemVersionRow)
        .where(
            ItemVersionRow.identifier.in_(orphaned.scalar_subquery()),
            ItemVersionRow.valid_to >= first_block_seq,
        )
        .values(valid_to=None)
    )
    # items an orphaned error declaration left with no current version (indexer.store.undo:
    # an item only the erroneous event brought in): named by the events declared there
    declared = select(ErrorDeclarationRow.event_hash).where(ErrorDeclarationRow.block_number > n)
    named = select(EventItemRow.identifier).where(
        EventItemRow.event_hash.in_(declared.scalar_subquery())
    )
    session.execute(
        update(ItemVersionRow)
        .where(
            ItemVersionRow.identifier.in_(named.scalar_subquery()),
            ItemVersionRow.valid_to >= first_block_seq,
        )
        .values(valid_to=None)
    )
    for by_seq in (EventItemRow, EventIlmdRow, EventRow):  # by sequence number, not block
        session.execute(delete(by_seq).where(by_seq.seq >= first_block_seq))
    for table in (
        LotRow,
        ItemVersionRow,
        HoldingVersionRow,
        AnchorRow,
        AlertRow,
        ParticipantChangeRow,
        RecallChangeRow,
        PendingRow,
        TransitObservationRow,  # a held-back receipt's: written in the block that applied it
        ErrorDeclarationRow,
        MasterDataRow,
        EventTallyRow,  # the overview's counts (indexer/store/tallies.py)
        ItemTallyRow,
    ):
        session.execute(delete(table).where(table.block_number > n))
    session.execute(
        update(PendingRow)
        .where(PendingRow.resolved_block > n)
        .values(resolved_block=None, outcome=None)
    )
    session.execute(delete(BlockRow).where(BlockRow.number > n))
    session.execute(
        update(HoldingVersionRow)
        .where(HoldingVersionRow.valid_to >= first_block_seq)
        .values(valid_to=None)
    )
    _rebuild_participants(session)
    _rebuild_recalls(session)
    supply.rollback(session, n)
    # subscriptions that delivered (or were about to) past the ancestor start again from it:
    # the new branch's events are delivered (indexer/subscriptions/delivery.py)
    session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.cursor >= first_block_seq)
        .values(cursor=first_block_seq - 1)
    )
    session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.batch_end >= first_block_seq)
        .values(batch_end=None, attempts=0, next_attempt_at=None)
    )
    set_checkpoint(session, ancestor)


def _rebuild_participants(session: Session) -> None:
    session.execute(delete(ParticipantRow))
    session.flush()
    changes = session.scalars(
        select(ParticipantChangeRow).order_by(
            ParticipantChangeRow.block_number, ParticipantChangeRow.log_index
        )
    ).all()
    session.expunge_all()
    for change in changes:
        _replay_participant(session, change)


def _replay_participant(session: Session, change: ParticipantChangeRow) -> None:
    row = session.get(ParticipantRow, change.address)
    if change.kind == "registered":
        if row is None:
            session.add(
                ParticipantRow(
                    address=change.address,
                    roles=change.roles or 0,
                    gln=change.gln or "",
                    active=True,
                    registered_block=change.block_number,
                    updated_block=change.block_number,
                )
            )
            session.flush()
        return
    if row is None:
        return
    if change.kind == "roles" and change.roles is not None:
        row.roles = change.roles
    elif change.kind == "prefixes":
        row.company_prefixes = change.prefixes or ""
    elif change.kind == "suspended":
        row.active = False
    elif change.kind == "reinstated":
        row.active = True
    row.updated_block = change.block_number
    session.flush()


def _rebuild_recalls(session: Session) -> None:
    session.execute(delete(RecallRow))
    session.flush()
    changes = session.scalars(
        select(RecallChangeRow).order_by(RecallChangeRow.block_number, RecallChangeRow.log_index)
    ).all()
    session.expunge_all()
    for change in changes:
        _replay_recall(session, change)


def _replay_recall(session: Session, change: RecallChangeRow) -> None:
    row = session.get(RecallRow, (change.gtin, change.lot))
    if row is None:
        row = RecallRow(
            gtin=change.gtin,
            lot=change.lot,
            manufacturer=None,
            recalled=False,
            reason_code=None,
            by=None,
            changed_block=change.block_number,
            tx_hash=change.tx_hash,
            suspended=False,
        )
        session.add(row)
    if change.kind == "registered":
        row.manufacturer = change.by
        row.packs = change.packs
    elif change.kind == "suspended":
        row.suspended = True
        row.suspension_reason_code = change.reason_code
        row.case_number = change.case_number
        row.suspended_by = change.by
        row.suspended_block = change.block_number
        row.suspend_tx = change.tx_hash
    elif change.kind in ("lifted", "escalated"):
        row.suspended = False
    else:
        row.recalled = change.kind == "recalled"
        row.reason_code = change.reason_code
        row.by = change.by
    row.changed_block = change.block_number
    row.tx_hash = change.tx_hash
    session.flush()
