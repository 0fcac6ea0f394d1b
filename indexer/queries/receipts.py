"""Receipts from the index: a second source of receipts, independent of the gateway.

A batch whose anchor is ``indexed`` and whose every event is in ``ix_events`` (as many rows as
the anchor's ``event_count``) can be rebuilt: its tree is :meth:`medledger.merkle.MerkleTree.build`
of the batch's ``(event_hash, salt)`` values, and the rebuilt root must be the anchored one. A
receipt
(:class:`medledger.formats.receipt.Receipt`, version 1, event embedded from the indexed raw JSON)
can then be issued for any of its events; it is byte for byte the gateway's (same leaf, proof,
root, transaction, block and submitter), and :mod:`provenance.verify` checks it the same way.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from chain.deployment import Deployment
from indexer.store.models import AnchorRow, EventRow, sequence
from medledger.epcis.event_id import EventId
from medledger.errors import NotFoundError
from medledger.formats.receipt import Receipt
from medledger.merkle import MerkleTree

#: Trees kept in memory, by root (a root commits to its values, so a cached tree never goes
#: stale; whether the batch is still indexed is asked of the database every time).
TREE_CACHE_SIZE = 32

_trees: OrderedDict[bytes, MerkleTree] = OrderedDict()
_trees_lock = threading.Lock()


def event_hash_of(value: str, *, pointer: str = "eventID") -> bytes:
    """The event hash of an event id: ``ni:///sha-256;<hex>?ver=CBV2.0``, or its 64 hex digits
    (a ``0x`` prefix allowed), spaces around it ignored. Anything else is a
    :class:`ValidationError`."""
    return EventId.parse(value.strip(), rule="query.eventID", pointer=pointer).digest


def _of_batch(anchor: AnchorRow) -> ColumnElement[bool]:
    """The batch's events: one range of sequence numbers (its anchor's block and log index)."""
    return and_(
        EventRow.root == anchor.root,
        EventRow.seq >= sequence(anchor.block_number, anchor.log_index, 0),
        EventRow.seq < sequence(anchor.block_number, anchor.log_index + 1, 0),
    )


def batch_tree(session: Session, root: bytes) -> tuple[AnchorRow, MerkleTree]:
    """The anchor of ``root`` and its rebuilt tree; :class:`NotFoundError` unless the batch is
    indexed with every one of its events."""
    anchor = session.get(AnchorRow, root)
    if anchor is None or anchor.status != "indexed":
        state = "not anchored" if anchor is None else anchor.status
        raise NotFoundError(f"batch 0x{root.hex()} is not indexed ({state})")
    with _trees_lock:
        tree = _trees.get(root)
        if tree is not None:
            _trees.move_to_end(root)
    # the count is checked every time: a cached tree proves nothing about what is indexed now
    values: list[tuple[bytes, bytes]] = []
    if tree is None:
        values = [
            (bytes(h), bytes(s))
            for h, s in session.execute(
                select(EventRow.event_hash, EventRow.salt).where(_of_batch(anchor))
            )
        ]
        count = len(values)
    else:
        count = session.scalar(select(func.count()).where(_of_batch(anchor))) or 0
    if count != anchor.event_count:
        raise NotFoundError(
            f"batch 0x{root.hex()} is not fully indexed: {count} of its "
            f"{anchor.event_count} events are in the index"
        )
    if tree is None:
        tree = MerkleTree.build(values)
        if tree.root != root:
            raise NotFoundError(
                f"batch 0x{root.hex()}: the indexed events give root 0x{tree.root.hex()}, so the "
                "index cannot prove them"
            )
        with _trees_lock:
            _trees[root] = tree
            while len(_trees) > TREE_CACHE_SIZE:
                _trees.popitem(last=False)
    return anchor, tree


def receipt_for(session: Session, event_hash: bytes, deployment: Deployment) -> Receipt:
    """The receipt of an indexed event (raises :class:`NotFoundError` when the event is not in
    the index or its batch is not fully indexed)."""
    event = session.get(EventRow, event_hash)
    if event is None:
        raise NotFoundError(f"event 0x{event_hash.hex()} is not in the index")
    anchor, tree = batch_tree(session, bytes(event.root))
    value = (bytes(event.event_hash), bytes(event.salt))
    return Receipt(
        event_hash=value[0],
        salt=value[1],
        leaf=tree.tree[tree.leaf_index(value)],
        proof=tuple(tree.proof_for(value)),
        root=tree.root,
        chain_id=deployment.chain_id,
        contract=deployment.anchor_registry,
        tx_hash=bytes.fromhex(anchor.tx_hash.removeprefix("0x")),
        block_number=anchor.block_number,
        anchored_by=anchor.submitter,
        event=json.loads(event.raw),
    )


def receipt_json(session: Session, event_id: str, deployment: Deployment) -> dict[str, Any]:
    """``GET /events/{eventID}/receipt``: the receipt as JSON (version 1, event embedded)."""
    return receipt_for(session, event_hash_of(event_id), deployment).to_json()
