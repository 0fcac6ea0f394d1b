"""The gateway's tables, as SQLAlchemy 2 typed ORM models.

The migrations in ``migrations/versions/`` (``0001_initial.py`` to ``0015_masterdata.py``)
create exactly this schema; a test compares the two (alembic autogenerate must find no
difference) on SQLite and PostgreSQL.

Conventions: participants are on-chain addresses (``0x`` + 40 hex, checksummed as given);
hashes, salts and roots are raw 32-byte values; transaction hashes are ``0x`` hex strings as
receipts show them; every timestamp is timezone-aware UTC (SQLite keeps no zone, so
:class:`UtcDateTime` puts UTC back on read). Row classes end in ``Row`` so they are not
mistaken for the frozen values the repository functions return.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.sql.keys import KeyAuditColumns, KeyColumns
from servicekit.sql.types import NAMING_CONVENTION, UtcDateTime

ADDRESS = 42  # 0x + 40 hex
IDENTIFIER = 512  # canonical GS1 Digital Link URI
TX_HASH = 66  # 0x + 64 hex

#: A 64-bit autoincrement key; SQLite only autoincrements a column declared INTEGER.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


PARTICIPANT_STATUSES = ("active", "suspended")
RULE_SETS = ("pharma", "epcis")
CAPTURE_STATUSES = ("accepted", "anchored", "rejected")
BATCH_STATES = ("open", "sealed", "sent", "anchored", "failed")
ANCHOR_OUTCOMES = ("vanished", "moved")
ITEM_STATUSES = ("active", "in_transit", "dispensed", "decommissioned", "destroyed")
RECALL_STATES = ("recalled", "released")
MASTERDATA_KINDS = ("location", "product")
NOTIFICATION_KINDS = ("recall", "release", "suspension", "lift")
SUSPENSION_STATES = ("suspended", "lifted", "escalated")
DELIVERY_STATES = ("pending", "delivered", "failed")
KEY_SCOPES = ("participant", "batch-reader")
URL = 2048


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class ParticipantRow(Base):
    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(_in("status", PARTICIPANT_STATUSES), name="status"),
        CheckConstraint(_in("rule_set", RULE_SETS), name="rule_set"),
    )

    address: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[int] = mapped_column(Integer)  # medledger.roles.Role bitmask
    gln: Mapped[str] = mapped_column(String(13), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    keystore_path: Mapped[str | None] = mapped_column(String(1024))  # custodial key file
    rule_set: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    #: GS1 company prefixes, space-separated ("" none): a mirror of the participant registry's
    company_prefixes: Mapped[str] = mapped_column(String(512), default="", server_default="")
    #: ISO 3166-2 subdivision (or ISO 3166-1 country) code, canonical (medledger/regions.py)
    region: Mapped[str | None] = mapped_column(String(6))
    #: Last change of anything above (registration, status, prefixes, region): what
    #: ``GET /participants?updatedSince=`` filters on
    updated_at: Mapped[datetime] = mapped_column(index=True)


class RegistrationRequestRow(Base):
    """A ``POST /participants`` sent with an ``Idempotency-Key``: what it asked (SHA-256 of its
    canonical body) and, once done, the participant and the prefix of the API key it answered
    with (revoked when a retry gets a fresh one)."""

    __tablename__ = "registration_requests"

    requester: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    gln: Mapped[str] = mapped_column(String(13))
    address: Mapped[str | None] = mapped_column(String(ADDRESS))
    key_prefix: Mapped[str | None] = mapped_column(String(32))
    #: When the attempt whose answer carried ``key_prefix`` arrived: an attempt that arrived
    #: before it is stale (its client already retried) and may not replace that key
    answered_arrival: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


class ApiKeyRow(KeyColumns, Base):
    """A participant's API key (servicekit/sql/keys.py: id, prefix, label and the key's times).

    ``scope``: ``participant`` (acts as its participant) or ``batch-reader`` (the regulator's
    read-only key for the indexer: ``GET /batches/{root}`` and ``GET /participants`` only)."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in("scope", KEY_SCOPES), name="scope"),)

    participant: Mapped[str] = mapped_column(
        String(ADDRESS), ForeignKey("participants.address"), index=True
    )
    # sha256$<hex> of the whole token; an argon2id PHC string for keys issued before (replaced
    # by the SHA-256 form on their first use; servicekit/apikeys.py)
    hash: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(
        String(16), default="participant", server_default="participant"
    )


class KeyAuditRow(KeyAuditColumns, Base):
    """Every API-key operation: issued, rotated, revoked (who, when, which key, whose)."""

    __tablename__ = "key_audit"


class CaptureRow(Base):
    __tablename__ = "captures"
    __table_args__ = (
        CheckConstraint(_in("status", CAPTURE_STATUSES), name="status"),
        # GET /capture pages a participant's captures in the order received, then by id (the
        # keyset of its nextPageToken); the index also serves what asked by participant only
        Index("ix_captures_participant_received_at_id", "participant", "received_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    received_at: Mapped[datetime]
    # 'anchored' is derived when read (every event in an anchored batch); stored: accepted|rejected
    status: Mapped[str] = mapped_column(String(16))
    event_count: Mapped[int] = mapped_column(Integer)
    error: Mapped[dict[str, Any] | None]


class CaptureEventRow(Base):
    """Which events a capture names, in document order (also the ones it sent again)."""

    __tablename__ = "capture_events"

    capture_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("captures.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), ForeignKey("events.event_id"), index=True)


class BatchRow(Base):
    __tablename__ = "batches"
    __table_args__ = (CheckConstraint(_in("state", BATCH_STATES), name="state"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    root: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    event_count: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str | None] = mapped_column(String(TX_HASH))
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    #: the hash of the block the chain's ``Anchored`` log is in (what the reconciler re-checks)
    block_hash: Mapped[str | None] = mapped_column(String(TX_HASH))
    sealed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    anchored_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class AnchorHistoryRow(Base):
    """An anchor a batch once had and the chain no longer shows where it was recorded.

    ``vanished``: the root is no longer anchored (a reorganisation dropped the transaction); the
    batch went back to ``sealed`` and is anchored again by a new transaction (``reanchored_at``
    is set when it is). ``moved``: the root is anchored, but in another block or by another
    transaction than the one recorded (re-included after a reorganisation); the batch's facts
    were updated. Receipts naming the old transaction or block are recognisable from these rows
    (``GET /anchors/{tx_hash}``, docs/gateway.md)."""

    __tablename__ = "anchor_history"
    __table_args__ = (CheckConstraint(_in("outcome", ANCHOR_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    tx_hash: Mapped[str | None] = mapped_column(String(TX_HASH), index=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(TX_HASH))
    anchored_at: Mapped[datetime | None]  # when the batch was recorded anchored there
    outcome: Mapped[str] = mapped_column(String(16))
    ended_at: Mapped[datetime]  # when the reconciler found it gone
    reanchored_at: Mapped[datetime | None]  # vanished: when the batch was anchored again


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        # Unbatched events of a participant in order (sealing), and a batch's events (proofs).
        Index("ix_events_batch_participant_seq", "batch_id", "participant", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)  # ni:///sha-256;...
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    capture_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("captures.id"))
    raw: Mapped[str] = mapped_column(Text)  # the event as received, JSON
    event_time: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    biz_step: Mapped[str | None] = mapped_column(String(255))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    received_at: Mapped[datetime]


class ErrorDeclarationRow(Base):
    """An EPCIS error declaration of a stored event (medledger/epcis/error_declaration.py),
    anchored as its own leaf ``(declaration_hash, salt)`` in a batch of its declarer, after
    that batch's events."""

    __tablename__ = "error_declarations"
    __table_args__ = (
        # Unbatched declarations of a declarer (sealing), and a batch's declarations (proofs).
        Index("ix_error_declarations_batch_declared_by", "batch_id", "declared_by"),
    )

    declaration_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), ForeignKey("events.event_id"), index=True)
    declared_by: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    declaration_time: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    corrective_ids: Mapped[list[str]] = mapped_column(JSON)
    raw: Mapped[str] = mapped_column(Text)  # the stored declaration document, JSON
    capture_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("captures.id"))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    received_at: Mapped[datetime]


class EventItemRow(Base):
    """An identifier (instance or class) an event named when the ``pharma`` rules applied it:
    every event that made an item's custody, in capture order (``events.seq``), so that an event
    declared erroneous can be undone by replaying the others (gateway/store/undo.py).
    ``packing``: named as a parent or a child (what moves with what)."""

    __tablename__ = "event_items"

    identifier: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    packing: Mapped[bool]


class MasterDataRow(Base):
    """One master data record (medledger/masterdata/record.py): a version of a location or a
    product, anchored as its own leaf ``(record_hash, salt)`` in a batch of its declarer, after
    that batch's events and error declarations."""

    __tablename__ = "masterdata_records"
    __table_args__ = (
        CheckConstraint(_in("kind", MASTERDATA_KINDS), name="kind"),
        # Unbatched records of a declarer (sealing), and a batch's records (proofs).
        Index("ix_masterdata_records_batch_declared_by", "batch_id", "declared_by"),
        # The versions of one element, by effective time.
        Index("ix_masterdata_records_element", "element_id", "effective_time"),
    )

    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    vocabulary_type: Mapped[str] = mapped_column(String(IDENTIFIER))
    element_id: Mapped[str] = mapped_column(String(IDENTIFIER))
    effective_time: Mapped[datetime]
    declared_by: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    raw: Mapped[str] = mapped_column(Text)  # the stored record document, JSON
    #: the capture whose header carried it; None when imported (POST /masterdata)
    capture_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("captures.id"))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    received_at: Mapped[datetime]


class ItemRow(Base):
    """Custody state of one instance (pack, case, pallet): ``medledger.custody.state.ItemState``."""

    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
        Index("ix_items_gtin_lot", "gtin", "lot"),  # a lot's packs (declaring a claimed lot)
    )

    identifier: Mapped[str] = mapped_column(String(IDENTIFIER), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(ADDRESS))
    location: Mapped[str | None] = mapped_column(String(IDENTIFIER))
    parent: Mapped[str | None] = mapped_column(String(IDENTIFIER), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(64))
    in_transit_to: Mapped[str | None] = mapped_column(String(ADDRESS))
    commissioned_by: Mapped[str | None] = mapped_column(String(ADDRESS))
    #: the latest eventTime of the events that made this state (rule ``time.backdated``)
    event_time: Mapped[datetime | None]


class QuantityRow(Base):
    """A class-level quantity (kilograms of an API lot) held by, or on its way from, a holder.

    Readers sum the rows of a key, so a second row for one key (two writers inserting it at once)
    changes nothing; the CHECK refuses over-consumption as a last line of defence.
    """

    __tablename__ = "quantities"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="not_negative"),
        Index("ix_quantities_class_id_holder", "class_id", "holder"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    class_id: Mapped[str] = mapped_column(String(IDENTIFIER))
    holder: Mapped[str] = mapped_column(String(ADDRESS))
    in_transit_to: Mapped[str | None] = mapped_column(String(ADDRESS))
    uom: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))


class RecalledLotRow(Base):
    __tablename__ = "recalled_lots"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(64), primary_key=True)
    recalled_at: Mapped[datetime]


class SuspendedLotRow(Base):
    """A lot suspended pending investigation: the pharma rules refuse its dispensing (and its
    shipping where ``stops_shipping``). Written and removed with its ``suspensions`` row."""

    __tablename__ = "suspended_lots"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(64), primary_key=True)
    stops_shipping: Mapped[bool]
    suspended_at: Mapped[datetime]


class AccountNonceRow(Base):
    """The next nonce of each sending account, so a restart never reuses one."""

    __tablename__ = "account_nonces"

    address: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class AnchoringLeaseRow(Base):
    """Which batcher anchors for an account, until when (migration 0006; gateway/leases.py).

    One batcher per account at a time, whatever the number of gateway processes: a batcher
    seals, sends and settles an account's batches only while it holds the account's lease.
    """

    __tablename__ = "anchoring_leases"

    account: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))  # host:pid:random
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class RecallRow(Base):
    """A recall the gateway sent (or found) on-chain; released recalls are kept as history."""

    __tablename__ = "recalls"
    __table_args__ = (
        CheckConstraint(_in("state", RECALL_STATES), name="state"),
        Index("ix_recalls_gtin_lot", "gtin", "lot"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[int] = mapped_column(Integer)
    recalled_by: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    recalled_at: Mapped[datetime]
    recall_tx: Mapped[str | None] = mapped_column(String(TX_HASH))  # null: found recalled
    released_by: Mapped[str | None] = mapped_column(
        String(ADDRESS), ForeignKey("participants.address")
    )
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(Text)
    release_reason_code: Mapped[int | None] = mapped_column(Integer)
    release_tx: Mapped[str | None] = mapped_column(String(TX_HASH))


class SuspensionRow(Base):
    """A suspension the gateway sent (or found) on-chain; lifted and escalated ones are kept."""

    __tablename__ = "suspensions"
    __table_args__ = (
        CheckConstraint(_in("state", SUSPENSION_STATES), name="state"),
        Index("ix_suspensions_gtin_lot", "gtin", "lot"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    case_number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[int] = mapped_column(Integer)
    stops_shipping: Mapped[bool]
    suspended_by: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    suspended_at: Mapped[datetime]
    suspend_tx: Mapped[str | None] = mapped_column(String(TX_HASH))  # null: found suspended
    closed_by: Mapped[str | None] = mapped_column(
        String(ADDRESS), ForeignKey("participants.address")
    )
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    close_reason_code: Mapped[int | None] = mapped_column(Integer)
    close_tx: Mapped[str | None] = mapped_column(String(TX_HASH))
    recall_id: Mapped[int | None] = mapped_column(ForeignKey("recalls.id"))  # escalated to


class NotificationRow(Base):
    """One participant's notice of a recall or release, or of a suspension or its lifting,
    with what it held of the lot then. An escalated suspension's recall notices carry both."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="kind"),
        Index("ix_notifications_participant_id", "participant", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    kind: Mapped[str] = mapped_column(String(16))
    recall_id: Mapped[int | None] = mapped_column(ForeignKey("recalls.id"))
    suspension_id: Mapped[int | None] = mapped_column(ForeignKey("suspensions.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[int] = mapped_column(Integer)
    holding: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class WebhookRow(Base):
    """A participant's webhook: where its notifications are POSTed, and the HMAC secret."""

    __tablename__ = "webhooks"

    participant: Mapped[str] = mapped_column(
        String(ADDRESS), ForeignKey("participants.address"), primary_key=True
    )
    url: Mapped[str] = mapped_column(String(URL))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class DeliveryRow(Base):
    """The webhook outbox: one row per notification to deliver, written with the notification."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), primary_key=True)
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last attempt
    last_error: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(URL))  # where the last attempt went
    delivered_at: Mapped[datetime | None]


class CodeLotRow(Base):
    """A lot declared for code issuance (docs/codes.md): its pack count and how many codes went
    out. The CHECK keeps ``issued`` within ``packs`` even if a caller skipped its own check."""

    __tablename__ = "code_lots"
    __table_args__ = (
        CheckConstraint("packs > 0", name="packs_positive"),
        CheckConstraint("issued >= 0 AND issued <= packs", name="issued_within_packs"),
    )

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    expiry: Mapped[date] = mapped_column(Date)
    packs: Mapped[int] = mapped_column(Integer)
    issued: Mapped[int] = mapped_column(Integer)
    released_by: Mapped[str] = mapped_column(String(ADDRESS))  # the registrant on-chain
    register_tx: Mapped[str | None] = mapped_column(String(TX_HASH))  # null: found registered
    declared_at: Mapped[datetime]


class LotClaimRow(Base):
    """A lot nobody declared, owned by the participant that commissioned into it first (the
    pharma rules' commissioning authority, docs/rules.md)."""

    __tablename__ = "lot_claims"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    claimed_at: Mapped[datetime]


class CodeRow(Base):
    """One issued serial: unique per GTIN, commissioned by the event ``event_id``."""

    __tablename__ = "codes"
    __table_args__ = (
        UniqueConstraint("gtin", "serial", name="uq_codes_gtin_serial"),
        Index("ix_codes_gtin_lot_id", "gtin", "lot", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    lot: Mapped[str] = mapped_column(String(64))
    participant: Mapped[str] = mapped_column(String(ADDRESS), ForeignKey("participants.address"))
    # not a foreign key: the event row is written by the same commit, after this one
    event_id: Mapped[str] = mapped_column(String(255))
    issued_at: Mapped[datetime]
