"""The indexer's tables: a verified mirror of the chain and what was derived from it.

Every table is prefixed ``ix_`` so the indexer may share a database with the gateway (whose
tables have the same plain names). Every derived row carries the ``block_number`` it came from:
rolling back a reorganisation is "delete what came after the common ancestor", and current
state is kept as **versions** (``valid_from`` .. ``valid_to``, by event sequence number) so that
a rollback re-opens the versions the orphaned blocks had closed. Keys are natural (hashes,
identifiers, block and log positions), never surrogate counters, so an index rebuilt from
scratch is row for row the same as one that lived through a reorganisation.

An event's **sequence number** orders everything: ``block * 10**9 + log_index * 10**5 +
position`` (position in its batch as the gateway listed it; a batch holds at most 100,000
events, a block at most 10,000 logs).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from servicekit.sql.keys import KeyAuditColumns, KeyColumns
from servicekit.sql.types import NAMING_CONVENTION, UtcDateTime

ADDRESS = 42
IDENTIFIER = 512
TX_HASH = 66
#: Characters of an ILMD value kept as text (longer ones: None, see EventIlmdRow).
ILMD_TEXT = 256

SEQ_BLOCK = 10**9
SEQ_LOG = 10**5


def sequence(block_number: int, log_index: int, position: int) -> int:
    """The ordering key of an event (see the module docstring)."""
    return block_number * SEQ_BLOCK + log_index * SEQ_LOG + position


def first_sequence_of_block(block_number: int) -> int:
    return block_number * SEQ_BLOCK


#: Partial indexes on current versions (and ILMD values by kind): PostgreSQL and SQLite both
#: support ``WHERE``.
CURRENT = text("valid_to IS NULL")
ILMD_NUMBER = text("kind = 'number'")
ILMD_TIME = text("kind = 'time'")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime}


class CheckpointRow(Base):
    """Where the follower is: the last block fully applied (one row, ``id`` 1)."""

    __tablename__ = "ix_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class BlockRow(Base):
    """A block the index has read: every block with logs, and each checkpoint block."""

    __tablename__ = "ix_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    parent_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[int] = mapped_column(BigInteger)


class ParticipantChangeRow(Base):
    """One participant-registry log: registered, roles changed, suspended, reinstated."""

    __tablename__ = "ix_participant_changes"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    roles: Mapped[int | None] = mapped_column(BigInteger)
    gln: Mapped[str | None] = mapped_column(String(13))
    tx_hash: Mapped[str] = mapped_column(String(TX_HASH))
    #: kind "prefixes": the GS1 company prefixes set, space-separated
    prefixes: Mapped[str | None] = mapped_column(String(512))


class ParticipantRow(Base):
    """A participant as the registry says now (rebuilt from the changes after a rollback)."""

    __tablename__ = "ix_participants"

    address: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    roles: Mapped[int] = mapped_column(BigInteger)
    gln: Mapped[str] = mapped_column(String(13), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    registered_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)
    #: GS1 company prefixes (``CompanyPrefixesSet``), space-separated; "" none
    company_prefixes: Mapped[str] = mapped_column(String(512), default="", server_default="")


class AnchorRow(Base):
    """An ``Anchored`` log and what loading its batch gave.

    ``status``: ``indexed`` (root recomputed, events loaded), ``rejected`` (the contents do not
    match the chain: see the integrity alert), ``unavailable`` (no contents to be had).
    """

    __tablename__ = "ix_anchors"

    root: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    submitter: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    relayer: Mapped[str] = mapped_column(String(ADDRESS))
    event_count: Mapped[int] = mapped_column(BigInteger)
    metadata_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    tx_hash: Mapped[str] = mapped_column(String(TX_HASH))
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    #: the anchoring transaction's ``gasUsed``, from its receipt (the whole transaction's: a
    #: transaction that anchored several batches gives each the same); None for batches indexed
    #: before the indexer read receipts (migration 0021)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)


class utc_day(FunctionElement[date]):  # noqa: N801 (a SQL function, named like one)
    """The UTC calendar day of a timestamp column, as SQL (an index's expression and the
    queries that use it must read the same): ``(timezone('UTC', t))::date`` on PostgreSQL,
    ``date(t)`` on SQLite (which keeps UTC times as text)."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(timezone('UTC', {compiler.process(element.clauses, **kw)}))::date"


@compiles(utc_day)
def _utc_day(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


class EventRow(Base):
    """One verified event: its facts as columns, and the event itself as anchored."""

    __tablename__ = "ix_events"

    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # Found by ``seq`` (unique): a batch's events are one range of it (its anchor's block and
    # log index), and so are a rollback's. Every index here costs every event loaded.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    submitter: Mapped[str] = mapped_column(String(ADDRESS))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    type: Mapped[str] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(8))
    biz_step: Mapped[str | None] = mapped_column(String(128))
    disposition: Mapped[str | None] = mapped_column(String(128))
    event_time: Mapped[datetime]
    read_point: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    biz_location: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    source: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    destination: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    raw: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # The EPCIS query interface (indexer/queries/events.py): time windows and
        # orderBy=eventTime pages; one site over a time window.
        Index("ix_events_event_time", "event_time", "seq"),
        Index("ix_events_biz_location_time", "biz_location", "event_time"),
        # one site and a day in chain order: the day's events by seq, read until the page is
        # full (the index above holds them by time: every one of them read, then sorted)
        Index("ix_events_site_day", "biz_location", utc_day(text("event_time")), "seq"),
    )


class EventTallyRow(Base):
    """How many events a block indexed, per UTC day of their ``eventTime`` and business step
    (``""``: none): the overview's counts (dashboard/overview.py), kept as events are written
    (indexer/store/tallies.py) and deleted with their block on a rollback, so that the overview
    reads these rows rather than every event."""

    __tablename__ = "ix_event_tallies"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    biz_step: Mapped[str] = mapped_column(String(128), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)


class ItemTallyRow(Base):
    """How a block changed the number of current item versions of each status: +1 for each
    version it left current, -1 for each stored current version it closed. The sum over all
    blocks is the count of current versions by status; deleted with its block on a rollback
    (which re-opens what the block closed and deletes what it wrote)."""

    __tablename__ = "ix_item_tallies"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    delta: Mapped[int] = mapped_column(BigInteger)


class MasterDataRow(Base):
    """A verified master data record (medledger/masterdata): a version of a location or a
    product, a leaf of an anchored batch (kind ``masterdata``). What is true of an element at a
    moment is its version with the latest ``effective_time`` at or before it (then the latest
    ``seq``). Rolled back with its block like every derived row."""

    __tablename__ = "ix_masterdata"
    __table_args__ = (
        Index("ix_ix_masterdata_element", "element_id", "effective_time"),
        Index("ix_ix_masterdata_region", "region"),
    )

    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    declared_by: Mapped[str] = mapped_column(String(ADDRESS))
    kind: Mapped[str] = mapped_column(String(16))  # location, product
    vocabulary_type: Mapped[str] = mapped_column(String(IDENTIFIER))
    #: canonical GLN (``/414/...``) or GTIN class (``/01/<gtin>``) Digital Link URI
    element_id: Mapped[str] = mapped_column(String(IDENTIFIER))
    effective_time: Mapped[datetime]
    name: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    #: a location's ISO 3166-2 subdivision, else its country (None for products)
    region: Mapped[str | None] = mapped_column(String(6))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    raw: Mapped[str] = mapped_column(Text)


class ErrorDeclarationRow(Base):
    """A verified EPCIS error declaration (medledger/epcis/error_declaration.py): a leaf of an
    anchored batch declaring an event erroneous. Rolled back with its block like every derived
    row; the declared event is marked by it when read (trace, /check, /epcs/.../events)."""

    __tablename__ = "ix_error_declarations"

    declaration_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    declared_by: Mapped[str] = mapped_column(String(ADDRESS))
    #: the declared event's hash (an event of another batch, or not indexed (yet))
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    declaration_time: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    corrective_ids: Mapped[list[str]] = mapped_column(JSON)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    raw: Mapped[str] = mapped_column(Text)


class EventItemRow(Base):
    """An identifier an event names, and in which role.

    Roles: ``epc``, ``quantity``, ``parent``, ``child``, ``child_quantity``, ``input``,
    ``input_quantity``, ``output``, ``output_quantity``. Quantities (Decimal, e.g. kilograms of
    an API lot) only for the ``*quantity`` roles.
    """

    __tablename__ = "ix_event_items"

    identifier: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    # an event's items, and a rollback's, by the event's sequence number
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, index=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    block_number: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(38, 9))
    uom: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        # What transformations made (trace: the transformation of a lot's packs): a small
        # index, so the planner need not scan every item of every event for them.
        Index(
            "ix_event_items_outputs",
            "identifier",
            postgresql_where=text("role = 'output'"),
            sqlite_where=text("role = 'output'"),
        ),
    )


class EventIlmdRow(Base):
    """A field of an event's ``ilmd`` (instance/lot master data: ``cbvmda:lotNumber``...), so
    the EPCIS query interface finds ``EQ_ILMD_*``, its comparisons and ``EXISTS_ILMD_*`` by SQL
    before judging the events it found (indexer/queries/events.py). Written with its event
    (indexer/event_rows.py: ``ilmd_rows``) and rolled back with it, by sequence number.

    The value as the query's comparisons read it (medledger/epcis/query_match.py:
    ``stored_value``): ``kind`` ``text``, ``number`` or ``time``, ``other`` for what compares
    with nothing (objects, lists, booleans, null). ``text_value`` is its text (``str`` of the
    read value; None past :data:`ILMD_TEXT` characters), ``number_value`` a number as a double
    (rounding keeps order, so the SQL conditions, made inclusive, find a superset), and
    ``time_value`` a time in UTC (None if it lies outside the years UTC can hold)."""

    __tablename__ = "ix_event_ilmd"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    field: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    text_value: Mapped[str | None] = mapped_column(String(ILMD_TEXT))
    number_value: Mapped[float | None] = mapped_column(Float)
    time_value: Mapped[datetime | None]

    __table_args__ = (
        # one value's events in chain order: a page of one lot reads no more than it serves
        Index("ix_event_ilmd_text", "field", "text_value", "seq"),
        # numbers and times by kind: the query's conditions say the kind (a text value, the
        # most common, puts no entry in either; migration 0025)
        Index(
            "ix_event_ilmd_number",
            "field",
            "number_value",
            postgresql_where=ILMD_NUMBER,
            sqlite_where=ILMD_NUMBER,
        ),
        Index(
            "ix_event_ilmd_time",
            "field",
            "time_value",
            postgresql_where=ILMD_TIME,
            sqlite_where=ILMD_TIME,
        ),
    )


class LotRow(Base):
    """A batch/lot of a product, first seen when commissioned or produced."""

    __tablename__ = "ix_lots"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(64), primary_key=True)
    expiry: Mapped[date | None] = mapped_column(Date)
    commissioned_by: Mapped[str] = mapped_column(String(ADDRESS))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class ItemVersionRow(Base):
    """The state of one instance (pack, case, pallet) from one event to the next.

    The current state is the version with ``valid_to`` NULL. ``event_hash`` is the event that
    made this version (a case's shipment makes a version of each pack inside it).
    """

    __tablename__ = "ix_item_versions"

    identifier: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    valid_from: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    valid_to: Mapped[int | None] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    event_time: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str | None] = mapped_column(String(ADDRESS))
    location: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    parent: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    in_transit_to: Mapped[str | None] = mapped_column(String(ADDRESS))
    gtin: Mapped[str | None] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # What a block wrote (a rollback; the settling of held-back events): on PostgreSQL a
        # BRIN index, a few pages that cost nothing per row, as versions are written in block
        # order (a B-tree cost every version written, and every version closed, an entry).
        Index("ix_item_versions_block", "block_number", postgresql_using="brin"),
        # The current version of an identifier: the projection's state reads, closing versions
        # and the EPC queries (with only the lot index, a planner with stale statistics scans
        # every current version).
        Index(
            "ix_item_versions_current",
            "identifier",
            postgresql_where=CURRENT,
            sqlite_where=CURRENT,
        ),
        Index(
            "ix_item_versions_current_lot",
            "gtin",
            "lot",
            postgresql_where=CURRENT,
            sqlite_where=CURRENT,
        ),
        Index(
            "ix_item_versions_current_holder",
            "holder",
            "gtin",
            "lot",
            postgresql_where=CURRENT,
            sqlite_where=CURRENT,
        ),
        Index(
            "ix_item_versions_current_parent",
            "parent",
            postgresql_where=CURRENT,
            sqlite_where=CURRENT,
        ),
        # A participant reader's custody chain (indexer/queries/visibility.py): every item
        # version it has held, at any time, in the order written, so that each holder's new
        # entries are appended to its range (by identifier, they went anywhere in it: the
        # whole index was the catch-up's working set; migration 0026).
        Index("ix_item_versions_holder", "holder", "valid_from"),
    )


class HoldingVersionRow(Base):
    """A class-level quantity (kilograms of an API lot) held by, or in transit from, a holder.

    ``in_transit_to`` is "" for what the holder holds, else the receiver's address.
    """

    __tablename__ = "ix_holding_versions"

    class_id: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    holder: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    in_transit_to: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    valid_from: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    valid_to: Mapped[int | None] = mapped_column(BigInteger, index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    quantity: Mapped[Decimal] = mapped_column(Numeric(38, 9))
    uom: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        Index("ix_holding_versions_block", "block_number", postgresql_using="brin"),  # as above
        # the lots a participant reader has held (indexer/queries/visibility.py)
        Index("ix_holding_versions_holder", "holder", "class_id"),
    )


class RecallChangeRow(Base):
    """One recall-registry log: a batch registered, recalled or released; suspended pending
    investigation (with its case number), its suspension lifted or escalated to a recall."""

    __tablename__ = "ix_recall_changes"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[int | None] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(ADDRESS))
    tx_hash: Mapped[str] = mapped_column(String(TX_HASH))
    packs: Mapped[int | None] = mapped_column(BigInteger)  # kind "registered": packs declared
    case_number: Mapped[str | None] = mapped_column(String(32))  # kind "suspended"

    __table_args__ = (Index("ix_recall_changes_lot", "gtin", "lot"),)


class RecallRow(Base):
    """A registered batch's recall state now (rebuilt from the changes after a rollback)."""

    __tablename__ = "ix_recalls"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(64), primary_key=True)
    manufacturer: Mapped[str | None] = mapped_column(String(ADDRESS))
    recalled: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[int | None] = mapped_column(Integer)
    by: Mapped[str | None] = mapped_column(String(ADDRESS))
    changed_block: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(TX_HASH))
    packs: Mapped[int | None] = mapped_column(BigInteger)  # declared by its registrant
    # its suspension pending investigation (the last one's facts stay when it ends)
    suspended: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    suspension_reason_code: Mapped[int | None] = mapped_column(Integer)
    case_number: Mapped[str | None] = mapped_column(String(32))
    suspended_by: Mapped[str | None] = mapped_column(String(ADDRESS))
    suspended_block: Mapped[int | None] = mapped_column(BigInteger)
    suspend_tx: Mapped[str | None] = mapped_column(String(TX_HASH))


class AlertRow(Base):
    """Something a regulator should look at, with its evidence (events, anchors, roots).

    ``key`` is derived from the kind and the evidence, so re-deriving an alert (after a
    restart or a rollback) never duplicates it.
    """

    __tablename__ = "ix_alerts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    subject: Mapped[str | None] = mapped_column(String(IDENTIFIER), index=True)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]


class PendingRow(Base):
    """An event's effect on one item, held back because it does not fit the item's custody yet.

    Participants' batches reach the chain out of capture order (each gateway batcher anchors
    on its own timer), so a receipt can be indexed before the shipment and commissioning it
    follows. Such an event is *pending* for the item (``reason``: ``unknown-code``, the item
    was never commissioned; ``clone``, the item is held or in transit elsewhere) and is tried
    again each time the item changes; it is judged for good (alerts raised, effect applied)
    only once the chain's clock passes ``due`` (its anchor block's time plus the settle
    window). ``block_number``: the block whose batch held it back; ``resolved_block``: the
    block whose processing applied or judged it (``outcome``: ``applied``, ``history``,
    ``settled``). A rollback deletes the first and re-opens the second.
    """

    __tablename__ = "ix_pending"

    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_time: Mapped[datetime]
    due: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    resolved_block: Mapped[int | None] = mapped_column(BigInteger, index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index(
            "ix_pending_open",
            "identifier",
            sqlite_where=text("resolved_block IS NULL"),
            postgresql_where=text("resolved_block IS NULL"),
        ),
    )


class TransitObservationRow(Base):
    """One receipt's time in transit on a lane (shipper location, receiver location, GTIN).

    Derived by :mod:`indexer.detection.transit`; lane statistics are aggregated from these rows
    in the query. ``block_number`` is the block that applied the receipt (a held-back receipt's
    is a later block than its event row's): a rollback deletes the rows of the blocks it undoes,
    and deleting the receipt's ``ix_events`` row deletes them too.
    """

    __tablename__ = "ix_transit_observations"

    event_hash: Mapped[bytes] = mapped_column(
        LargeBinary(32), ForeignKey("ix_events.event_hash", ondelete="CASCADE"), primary_key=True
    )
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    origin: Mapped[str] = mapped_column(String(IDENTIFIER))
    destination: Mapped[str] = mapped_column(String(IDENTIFIER))
    seq: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    shipping_event_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    seconds: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_transit_observations_lane", "origin", "destination", "gtin", "seq"),
    )


class ParticipantProfileRow(Base):
    """What a person reads beside a participant's address: its name, GLN and region, as the
    gateway's participant list gives them (``GET /participants``; indexer/profiles.py).

    *Not* derived from the chain (names are not facts the chain proves): a rollback leaves it
    alone, and a rebuilt index fills it again from the gateway. The registry's own GLN and roles
    (``ix_participants``) stay the authority; ``gln`` here is what the gateway said."""

    __tablename__ = "ix_participant_profiles"

    address: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    gln: Mapped[str | None] = mapped_column(String(13))
    #: ISO 3166-2 subdivision (or country) code, canonical (medledger/regions.py); None unknown
    region: Mapped[str | None] = mapped_column(String(8), index=True)
    #: the gateway's ``updatedAt`` (None when the gateway does not say)
    updated_at: Mapped[datetime | None]
    #: when the indexer last wrote the row
    fetched_at: Mapped[datetime]


class ApiKeyRow(KeyColumns, Base):
    """A reader's API key (servicekit/sql/keys.py: id, prefix, label and the key's times):
    ``secret_hash`` is the SHA-256 of the token (argon2id for keys issued before, until their
    first use; servicekit/apikeys.py). ``name`` is who holds it; ``role`` what it may read; an
    inspector's key carries its ``region`` (ISO 3166-2, medledger/regions.py), a participant's
    its ``participant`` address (checksummed, as the index stores addresses)."""

    __tablename__ = "ix_api_keys"
    __table_args__ = (
        CheckConstraint(
            "role IN ('regulator', 'auditor', 'inspector', 'participant', 'pharmacovigilance')",
            name="role",
        ),
        CheckConstraint("role <> 'inspector' OR region IS NOT NULL", name="inspector_region"),
        CheckConstraint(
            "role <> 'participant' OR participant IS NOT NULL", name="participant_address"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # `pharmacovigilance` is 17 characters
    region: Mapped[str | None] = mapped_column(String(8))
    participant: Mapped[str | None] = mapped_column(String(ADDRESS))
    secret_hash: Mapped[str] = mapped_column(String(200))


class KeyAuditRow(KeyAuditColumns, Base):
    """Every reader-key operation: issued, rotated, revoked (who, when, which key, whose)."""

    __tablename__ = "ix_key_audit"


class WebSessionRow(Base):
    """A signed-in web session of the dashboard (not chain-derived: outside the rollback). The
    browser holds the token; only its SHA-256 is kept. It lives while its reader key does, for
    at most ``dashboard.sessions.ABSOLUTE`` and ``IDLE`` between requests, until signed out."""

    __tablename__ = "ix_web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ix_api_keys.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


#: The triage states of an alert (dashboard/triage.py moves between them).
TRIAGE_STATES = ("open", "acknowledged", "assigned", "resolved")


class AlertTriageRow(Base):
    """Where a regulator's triage of an alert stands (not chain-derived: outside the rollback).

    Keyed by the alert's natural ``key`` (``ix_alerts.key``: derived from its kind and evidence),
    not tied to the alert's row: a rollback deletes the alert, a re-index raises it again with
    the same key, and its triage is still here. An alert with no row is ``open``."""

    __tablename__ = "ix_alert_triage"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'acknowledged', 'assigned', 'resolved')", name="state"),
    )

    alert_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: the acting reader key's holder (``ix_api_keys.name``)
    updated_by: Mapped[str] = mapped_column(String(200))


class AlertTriageLogRow(Base):
    """Every triage action, appended and never changed: who (the reader key's holder and id),
    when, what (``action``), the state it left the alert in, and the assignee or note given."""

    __tablename__ = "ix_alert_triage_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    #: the reader key that acted (no foreign key: the log outlives anything done to keys)
    key_id: Mapped[int] = mapped_column(Integer)


class DashboardActionRow(Base):
    """Every recall, release, suspension, lift and escalation a regulator sent from the
    dashboard, once the gateway accepted it (not chain-derived: outside the rollback), appended
    and never changed: who pressed it (the reader key's holder and id, the dashboard's
    session; the gateway sees one regulator key for every dashboard user), when, the lot,
    the reason and case number given, and the gateway's recall or suspension id."""

    __tablename__ = "ix_dashboard_actions"
    __table_args__ = (Index("ix_dashboard_actions_lot", "gtin", "lot", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(16))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    case_number: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    #: the reader key that acted (no foreign key: the log outlives anything done to keys)
    key_id: Mapped[int] = mapped_column(Integer)
    #: the gateway's recall or suspension id
    reference: Mapped[str | None] = mapped_column(String(64))


class NamedQueryRow(Base):
    """A named EPCIS query (``POST /queries``; not chain-derived: outside the rollback), kept per
    reader: ``owner`` names who made it (``role:participant-or-region:key holder name``, so a
    rotated key keeps its queries), ``role``, ``participant`` and ``region`` what that reader
    sees (visibility is applied for the owner whenever the query is answered or delivered).
    ``definition`` is the query as given (the binding's query-schema JSON); ``params`` the
    name, value pairs it stands for (medledger/epcis/query_body.py), parsed again when run."""

    __tablename__ = "ix_named_queries"
    __table_args__ = (Index("ix_ix_named_queries_owner_name", "owner", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    participant: Mapped[str | None] = mapped_column(String(ADDRESS))
    region: Mapped[str | None] = mapped_column(String(8))
    definition: Mapped[str] = mapped_column(Text)
    params: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SubscriptionRow(Base):
    """A webhook subscription to a named query (not chain-derived, but its ``cursor`` follows
    the chain: a rollback moves it back to the common ancestor, indexer/store/writes.py).

    ``cursor``: the sequence number up to which every matching event was delivered (committed
    with the delivery's acknowledgement); ``batch_end``: the end of the batch being delivered
    (set before the first attempt, so every retry, also after a restart, sends the same events
    under the same ``Idempotency-Key``)."""

    __tablename__ = "ix_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    query_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ix_named_queries.id", ondelete="CASCADE"), index=True
    )
    dest: Mapped[str] = mapped_column(Text)
    signature_token: Mapped[str | None] = mapped_column(Text)
    report_if_empty: Mapped[bool] = mapped_column(Boolean)
    initial_record_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cursor: Mapped[int] = mapped_column(BigInteger)
    batch_end: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: a scheduled subscription's ``schedule`` as given (JSON; None: a stream), when it runs
    #: next, and the end of the run under way (the deliverable point when it started)
    schedule: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    run_end: Mapped[int | None] = mapped_column(BigInteger)


#: Where a price complaint stands (dashboard/complaints_page.py moves it; docs/indexer.md).
COMPLAINT_STATES = ("received", "investigating", "upheld", "rejected", "closed")


class PriceComplaintRow(Base):
    """A citizen's complaint that a pharmacy charged more than a product's regulated maximum
    retail price (issue 22): not chain-derived, outside the rollback. ``reference`` is what the
    complainant follows it by (random, unguessable); the receipt photo is stored re-encoded,
    without its metadata; ``contact`` is the only personal data, seen by the regulator only.
    ``max_price`` and ``currency`` are what master data said when the complaint came in."""

    __tablename__ = "ix_price_complaints"
    __table_args__ = (
        CheckConstraint(
            "status IN ('received', 'investigating', 'upheld', 'rejected', 'closed')",
            name="status",
        ),
        Index("ix_ix_price_complaints_status_received", "status", "received_at"),
    )

    reference: Mapped[str] = mapped_column(String(16), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    product_name: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    pharmacy: Mapped[str] = mapped_column(String(300))
    price_paid: Mapped[str] = mapped_column(String(24))
    max_price: Mapped[str | None] = mapped_column(String(24))
    currency: Mapped[str | None] = mapped_column(String(3))
    receipt: Mapped[bytes] = mapped_column(LargeBinary)
    receipt_type: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: the reader key holder who changed the status last (None: never changed)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class AdverseReportRow(Base):
    """An adverse-reaction report (issue 22): a pack's code, what happened, optionally how to
    reach the reporter; from the public page or a pharmacy's or hospital's participant key. Not
    chain-derived (outside the rollback) and never on chain. Personal data is minimised: no
    name, no address, no client IP; ``description`` and ``contact`` are read by
    pharmacovigilance keys only, everyone else sees counts per lot."""

    __tablename__ = "ix_adverse_reports"
    __table_args__ = (Index("ix_ix_adverse_reports_lot", "gtin", "lot"),)

    reference: Mapped[str] = mapped_column(String(16), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14))
    #: from the code (AI 10), else the pack's in the index; None: neither says
    lot: Mapped[str | None] = mapped_column(String(64))
    #: the pack's canonical Digital Link URI
    identifier: Mapped[str] = mapped_column(String(IDENTIFIER))
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))
    #: ``public`` or ``participant`` (then ``reporter`` is the participant's address)
    source: Mapped[str] = mapped_column(String(16))
    reporter: Mapped[str | None] = mapped_column(String(ADDRESS))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SupplyPlaceRow(Base):
    """Where a holder's packs count for supply (indexer/store/supply.py): a (holder, location)
    pair's region and whether it is a dispensing or distributing place (a pharmacy, hospital,
    distributor or wholesaler), fixed when the pair first holds a pack so that adding and
    taking away always touch the same region. ``location`` is ``""`` where none is known."""

    __tablename__ = "ix_supply_places"

    holder: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    location: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    region: Mapped[str] = mapped_column(String(8))  # "" : no master data or registration says
    counted: Mapped[bool] = mapped_column(Boolean)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class SupplyChangeRow(Base):
    """What one block changed of a region's supply of a GTIN on one day (eventTime's UTC day):
    packs on hand gained or lost, and packs dispensed. The log a rollback subtracts from the
    totals (:class:`SupplyStockRow`, :class:`SupplyDayRow`) before it deletes it."""

    __tablename__ = "ix_supply_changes"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stock_delta: Mapped[int] = mapped_column(BigInteger)
    dispensed: Mapped[int] = mapped_column(BigInteger)

    #: the supply clock (the latest day changed) is read after every write
    __table_args__ = (Index("ix_supply_changes_day", "day"),)


class SupplyStockRow(Base):
    """Packs on hand (active) at the counted places of a region, by GTIN (no row: none)."""

    __tablename__ = "ix_supply_stock"

    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger)


class SupplyDayRow(Base):
    """Packs dispensed at the counted places of a region, by GTIN and UTC day (no row: none)."""

    __tablename__ = "ix_supply_days"

    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dispensed: Mapped[int] = mapped_column(BigInteger)


class ShortageRow(Base):
    """A shortage of a GTIN in a region (indexer/detection/shortage.py): opened by the block
    whose events took its days of supply under the threshold, cleared by the block that took
    them back over it. The ``shortage`` alert is raised while it is open (``alert``: the row
    written to ``ix_alerts``, kept here so that a rollback of the clearing block raises it
    again); a rollback deletes shortages opened after the ancestor and re-opens the cleared."""

    __tablename__ = "ix_shortages"

    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    opened_block: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    opened_day: Mapped[date] = mapped_column(Date)
    cleared_block: Mapped[int | None] = mapped_column(BigInteger, index=True)
    cleared_day: Mapped[date | None] = mapped_column(Date)
    alert_key: Mapped[str] = mapped_column(String(64))
    alert: Mapped[dict[str, Any]]
