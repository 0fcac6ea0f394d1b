"""Anchoring one batch of events: build its tree, anchor the root, and issue receipts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain.ledger import ZERO_BYTES32, Ledger
from chain.sender import TxResult
from chain.signer import Signer
from medledger.formats.receipt import Receipt
from medledger.merkle import MerkleTree, Value, leaf_hash


@dataclass(frozen=True)
class AnchoredBatch:
    """A batch whose root is on chain: everything needed to issue a receipt for any event."""

    tree: MerkleTree
    tx: TxResult
    submitter: str
    contract: str
    chain_id: int

    @property
    def root(self) -> bytes:
        return self.tree.root

    def receipt_for(
        self, event_hash: bytes, salt: bytes, event: dict[str, Any] | None = None
    ) -> Receipt:
        value = (event_hash, salt)
        return Receipt(
            event_hash=event_hash,
            salt=salt,
            leaf=leaf_hash(event_hash, salt),
            proof=tuple(self.tree.proof_for(value)),
            root=self.tree.root,
            chain_id=self.chain_id,
            contract=self.contract,
            tx_hash=bytes.fromhex(self.tx.tx_hash.removeprefix("0x")),
            block_number=self.tx.block_number,
            anchored_by=self.submitter,
            event=event,
        )


def anchor_batch(
    ledger: Ledger,
    submitter: Signer,
    values: Sequence[Value],
    metadata_hash: bytes = ZERO_BYTES32,
    *,
    confirmations: int = 0,
) -> AnchoredBatch:
    """Build the tree of ``(event_hash, salt)`` values and anchor its root as ``submitter``."""
    tree = MerkleTree.build(values)
    tx = ledger.anchor(
        submitter, tree.root, len(values), metadata_hash, confirmations=confirmations
    )
    return AnchoredBatch(
        tree=tree,
        tx=tx,
        submitter=submitter.address,
        contract=ledger.anchors.address,
        chain_id=ledger.chain.chain_id,
    )
