"""Reading what was captured and anchored: events, receipts, batches and anchors; served only
once it verifies (gateway/integrity.py), else 409 and the integrity alarm."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chain.client import Chain
from chain.ledger import Ledger
from gateway import integrity
from gateway.anchors import CurrentAnchor, current_anchor, parse_tx_hash
from gateway.batcher import recover_anchor_transaction
from gateway.services.participants import may_read
from gateway.store.batches import (
    BatchContents,
    BatchInfo,
    batch_values,
    get_batch_by_root,
    lookup_anchor,
)
from gateway.store.capture import StoredEvent, get_event
from gateway.store.declarations import StoredDeclaration, get_declaration, latest_declaration
from gateway.store.masterdata import StoredMasterData, get_record
from gateway.store.participants import ParticipantRecord
from medledger.epcis.error_declaration import (
    KIND_DECLARATION,
    parse_declaration_id,
    standard_object,
)
from medledger.epcis.event_id import DIGEST_SIZE, EventId
from medledger.errors import (
    IntegrityViolationError,
    MerkleError,
    NotAnchoredYetError,
    NotFoundError,
    ValidationError,
    echo,
)
from medledger.formats.receipt import Receipt
from medledger.masterdata.record import KIND_MASTERDATA, parse_masterdata_id
from medledger.merkle import MerkleTree

#: Sealed batches' trees kept for receipts (a few recent).
TREES_KEPT = 64


class ReceiptsService:
    """Events, receipts, batches and anchors, for their submitter, the regulator and auditors."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        chain: Chain,
        integrity_alarm: integrity.IntegrityAlarm,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.chain = chain
        self.integrity_alarm = integrity_alarm
        self._trees: dict[int, MerkleTree] = {}

    def event(self, reader: ParticipantRecord, event_id: str) -> StoredEvent:
        with self.sessions() as session:
            found = get_event(session, _full_event_id(event_id))
        if found is None or not may_read(reader, found.participant):
            raise NotFoundError(f"no event {event_id}")
        return found

    def event_document(self, reader: ParticipantRecord, event_id: str) -> dict[str, Any]:
        """The event as captured, once it re-hashes to its id (else 409, see
        :meth:`_verified_event`); declared erroneous, with the standard ``errorDeclaration`` of
        the declaration received last (not hashed: the event still hashes to its id)."""
        stored = self.event(reader, event_id)
        self._verified_event(stored)
        document: dict[str, Any] = json.loads(stored.raw)
        if "errorDeclaration" not in document:
            with self.sessions() as session:
                declared = latest_declaration(session, stored.event_id)
            if declared is not None:
                document["errorDeclaration"] = standard_object(
                    declared.declaration_time, declared.reason, declared.corrective_ids
                )
        return document

    def receipt(self, reader: ParticipantRecord, event_id: str) -> Receipt:
        stored = self.event(reader, event_id)
        batch = self._anchored_batch(f"event {stored.event_id}", stored.batch)
        assert batch.root is not None and batch.tx_hash is not None
        leaf, proof = self._verified_proof(stored, batch, batch.root)
        return self._receipt(stored.event_hash, stored.salt, leaf, proof, batch).with_embedded(
            event=json.loads(stored.raw)
        )

    def declaration(self, reader: ParticipantRecord, declaration: str) -> StoredDeclaration:
        """A stored error declaration, for its declarer, the regulator and auditors (and the
        declared event's submitter, whose event it is about)."""
        try:
            digest = parse_declaration_id(declaration)
        except ValidationError:
            raise NotFoundError(f"no error declaration {declaration}") from None
        with self.sessions() as session:
            found = get_declaration(session, digest)
            submitter = get_event(session, found.event_id) if found is not None else None
        if found is None or not (
            may_read(reader, found.declared_by)
            or (submitter is not None and may_read(reader, submitter.participant))
        ):
            raise NotFoundError(f"no error declaration {declaration}")
        return found

    def declaration_document(self, reader: ParticipantRecord, declaration: str) -> Any:
        """The stored declaration, once it re-digests to its id (else 409)."""
        stored = self.declaration(reader, declaration)
        self._verified_declaration(stored)
        return json.loads(stored.raw)

    def declaration_receipt(self, reader: ParticipantRecord, declaration: str) -> Receipt:
        """The receipt (kind ``errorDeclaration``) of an anchored error declaration."""
        stored = self.declaration(reader, declaration)
        batch = self._anchored_batch(f"error declaration {stored.declaration_id}", stored.batch)
        assert batch.root is not None
        self._verified_declaration(stored, batch.root)
        name = stored.declaration_id
        with self.integrity_alarm.watch():
            tree = self._tree_of(batch, batch.root, name)
            leaf, proof = integrity.proven_leaf(
                tree, name, (stored.declaration_hash, stored.salt), batch.root
            )
        self.integrity_alarm.passed((name,), batch.root)
        return self._receipt(
            stored.declaration_hash, stored.salt, leaf, proof, batch
        ).with_embedded(declaration=json.loads(stored.raw))

    def masterdata(self, reader: ParticipantRecord, record: str) -> StoredMasterData:
        """A stored master data record, for its declarer, the regulator and auditors."""
        try:
            digest = parse_masterdata_id(record)
        except ValidationError:
            raise NotFoundError(f"no master data record {record}") from None
        with self.sessions() as session:
            found = get_record(session, digest)
        if found is None or not may_read(reader, found.declared_by):
            raise NotFoundError(f"no master data record {record}")
        return found

    def masterdata_document(self, reader: ParticipantRecord, record: str) -> Any:
        """The stored record, once it re-digests to its id (else 409)."""
        stored = self.masterdata(reader, record)
        self._verified_record(stored)
        return json.loads(stored.raw)

    def masterdata_receipt(self, reader: ParticipantRecord, record: str) -> Receipt:
        """The receipt (kind ``masterdata``) of an anchored master data record."""
        stored = self.masterdata(reader, record)
        batch = self._anchored_batch(f"master data record {stored.record_id}", stored.batch)
        assert batch.root is not None
        self._verified_record(stored, batch.root)
        name = stored.record_id
        with self.integrity_alarm.watch():
            tree = self._tree_of(batch, batch.root, name)
            leaf, proof = integrity.proven_leaf(
                tree, name, (stored.record_hash, stored.salt), batch.root
            )
        self.integrity_alarm.passed((name,), batch.root)
        return self._receipt(stored.record_hash, stored.salt, leaf, proof, batch).with_embedded(
            masterdata=json.loads(stored.raw)
        )

    def _verified_record(self, stored: StoredMasterData, root: bytes | None = None) -> None:
        name = stored.record_id
        with self.integrity_alarm.watch():
            integrity.check_event(
                name, stored.raw, stored.record_hash, root=root, kind=KIND_MASTERDATA
            )
        self.integrity_alarm.passed((name,))

    def _verified_declaration(self, stored: StoredDeclaration, root: bytes | None = None) -> None:
        name = stored.declaration_id
        with self.integrity_alarm.watch():
            integrity.check_event(
                name, stored.raw, stored.declaration_hash, root=root, kind=KIND_DECLARATION
            )
        self.integrity_alarm.passed((name,))

    def _anchored_batch(self, what: str, batch: BatchInfo | None) -> BatchInfo:
        """The anchored batch of an event or declaration, with its transaction (409 if not)."""
        if batch is None or batch.state != "anchored" or batch.root is None:
            raise NotAnchoredYetError(f"{what} is not anchored yet")
        if batch.tx_hash is None:  # anchored, but the crash recovery did not record by what
            with self.sessions() as session:
                healed = recover_anchor_transaction(session, self.ledger, batch)
            if healed is None or healed.tx_hash is None:
                raise NotAnchoredYetError(
                    f"{what}: the transaction anchoring its batch is not found yet"
                )
            batch = healed
        if batch.root is None or batch.tx_hash is None:
            raise NotAnchoredYetError(f"{what} is not anchored yet")
        return batch

    def _receipt(
        self, value: bytes, salt: bytes, leaf: bytes, proof: tuple[bytes, ...], batch: BatchInfo
    ) -> Receipt:
        assert batch.root is not None and batch.tx_hash is not None
        return Receipt(
            event_hash=value,
            salt=salt,
            leaf=leaf,
            proof=proof,
            root=batch.root,
            chain_id=self.chain.chain_id,
            contract=self.ledger.anchors.address,
            tx_hash=bytes.fromhex(batch.tx_hash.removeprefix("0x")),
            block_number=int(batch.block_number or 0),
            anchored_by=batch.participant,
        )

    def _verified_event(self, stored: StoredEvent, root: bytes | None = None) -> None:
        """The stored event re-hashes to its stored hash, or 409 and the integrity alarm."""
        with self.integrity_alarm.watch():
            integrity.check_event(stored.event_id, stored.raw, stored.event_hash, root=root)
        self.integrity_alarm.passed((stored.event_id,))

    def _verified_proof(
        self, stored: StoredEvent, batch: BatchInfo, root: bytes
    ) -> tuple[bytes, tuple[bytes, ...]]:
        """The leaf and proof of an anchored event, served only if the event re-hashes to its
        stored hash and its leaf is proven under the anchored root (gateway/integrity.py);
        otherwise 409 and the integrity alarm."""
        self._verified_event(stored, root)
        with self.integrity_alarm.watch():
            tree = self._tree_of(batch, root, stored.event_id)
            proven = integrity.proven_leaf(
                tree, stored.event_id, (stored.event_hash, stored.salt), root
            )
        self.integrity_alarm.passed((stored.event_id,), root)
        return proven

    def _tree_of(self, batch: BatchInfo, root: bytes, event_id: str) -> MerkleTree:
        """A sealed batch never changes, so its tree is built once and kept (a few recent):
        only a tree with the anchored root (else 409 ``integrity.root-mismatch``)."""
        cached = self._trees.get(batch.id)
        if cached is None:
            with self.sessions() as session:
                values = batch_values(session, batch.id)
            try:
                cached = MerkleTree.build(values)
            except MerkleError as exc:  # a stored hash or salt is not 32 bytes
                raise IntegrityViolationError(
                    f"batch 0x{root.hex()}: its stored events make no tree: {exc}",
                    rule=integrity.ROOT_MISMATCH,
                    event_ids=(event_id,),
                    root=root,
                ) from exc
            integrity.check_tree(cached, root, (event_id,))
            if len(self._trees) >= TREES_KEPT:
                self._trees.pop(next(iter(self._trees)))
            self._trees[batch.id] = cached
        return cached

    def batch(self, reader: ParticipantRecord, root_hex: str) -> BatchContents:
        try:
            root = bytes.fromhex(root_hex.removeprefix("0x"))
        except ValueError as exc:
            raise ValidationError(
                f"root must be 32 bytes of hex, got {echo(root_hex)}", rule="request.root"
            ) from exc
        if len(root) != 32:
            raise ValidationError(
                f"root must be 32 bytes of hex, got {echo(root_hex)}", rule="request.root"
            )
        with self.sessions() as session:
            contents = get_batch_by_root(session, root)
        if contents is None or not may_read(reader, contents.batch.participant):
            raise NotFoundError(f"no batch with root {root_hex}")
        with self.integrity_alarm.watch():
            integrity.check_batch(root, contents.events)
        self.integrity_alarm.passed([e.event_id for e in contents.events], root)
        return contents

    def anchor(
        self, reader: ParticipantRecord, tx_hash: str, block_number: int | None = None
    ) -> CurrentAnchor:
        """Whether ``tx_hash`` (in ``block_number``) is a batch's current anchor: 200, or 410
        pointing to the anchor that replaced it after a reorganisation (gateway/anchors.py)."""
        tx_hash = parse_tx_hash(tx_hash)
        with self.sessions() as session:
            found = lookup_anchor(session, tx_hash)
        if found is None or not may_read(reader, found.batch.participant):
            raise NotFoundError(f"the gateway recorded no anchor {tx_hash}")
        return current_anchor(found, tx_hash, block_number)


def _full_event_id(event_id: str) -> str:
    """The stored form (the URI) of an id given as its URI or its 64 hex digits; anything else
    is looked up as it is (and not found: 404)."""
    if len(event_id) == 2 * DIGEST_SIZE:
        with suppress(ValidationError):
            return EventId.parse(event_id).uri
    return event_id
