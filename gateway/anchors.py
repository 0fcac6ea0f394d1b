"""Whether an anchor a receipt names is still the anchor: ``GET /anchors/{tx_hash}``.

A receipt names the transaction and the block that anchored its batch's root. A reorganisation
can take that anchor away (the batch is then anchored again by a new transaction, with new
receipts) or move it to another block (the same transaction re-included). The reconciler
(gateway/reconciler.py) keeps every such old anchor in ``anchor_history``; this module answers
from it:

- **200**: the transaction is the batch's current anchor (and, with ``block``, in that block);
- **410** ``anchor-replaced``: it was the batch's anchor (in that block) and no longer is; the
  problem names the old anchor and points to the current one (``current``), or says the batch
  is being anchored again (``current`` absent, ``batchState``);
- **409** ``not-anchored``: re-included in a block that has not yet the confirmations asked for;
- **404**: the gateway never recorded that transaction as an anchor (or the reader may not see
  the batch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.store.batches import AnchorLookup, BatchInfo, PastAnchor
from medledger.errors import (
    AnchorReplacedError,
    NotAnchoredYetError,
    NotFoundError,
    ValidationError,
)
from medledger.errors import echo as _echo

_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class CurrentAnchor:
    """A batch's anchor as the chain has it now, and the anchors it had before (oldest first)."""

    batch: BatchInfo
    previous: tuple[PastAnchor, ...]


def parse_tx_hash(text: str) -> str:
    """``0x`` + 64 hex digits, lower-cased as the store keeps it; 422 otherwise."""
    if not _TX_HASH.match(text):
        raise ValidationError(
            f"a transaction hash is 0x and 64 hex digits, got {_echo(text)}",
            rule="request.tx-hash",
        )
    return text.lower()


def anchor_link(tx_hash: str, block_number: int | None) -> str:
    return f"/anchors/{tx_hash}" + ("" if block_number is None else f"?block={block_number}")


def current_anchor(
    found: AnchorLookup, tx_hash: str, block_number: int | None = None
) -> CurrentAnchor:
    """The anchor ``tx_hash`` (in ``block_number``, if given) is, if it is current; else
    :class:`AnchorReplacedError` (410), :class:`NotAnchoredYetError` (409) or
    :class:`NotFoundError` (404), as the module docstring says."""
    batch = found.batch
    if found.current and block_number in (None, batch.block_number):
        return CurrentAnchor(batch=batch, previous=found.past)
    if not found.current and batch.tx_hash == tx_hash and batch.state == "sent":
        raise NotAnchoredYetError(
            f"transaction {tx_hash} anchors root 0x{(batch.root or b'').hex()} again in a block "
            "that does not have the confirmations asked for yet; ask again shortly"
        )
    past = [
        p for p in found.past if p.tx_hash == tx_hash and block_number in (None, p.block_number)
    ]
    if not past:
        raise NotFoundError(f"no anchor {tx_hash} in block {block_number}")
    raise replaced(past[-1], batch)


def replaced(old: PastAnchor, batch: BatchInfo) -> AnchorReplacedError:
    """The 410 for ``old``, pointing to ``batch``'s current anchor if it has one."""
    root = "0x" + old.root.hex()
    details: dict[str, Any] = {
        "txHash": old.tx_hash,
        "blockNumber": old.block_number,
        "blockHash": old.block_hash,
        "root": root,
        "participant": batch.participant,
        "outcome": old.outcome,
        "endedAt": old.ended_at.isoformat(),
        "batch": f"/batches/{root}",
        "batchState": batch.state,
        "receipts": "/events/{eventID}/receipt",
    }
    if batch.state == "anchored" and batch.tx_hash is not None:
        details["current"] = anchor_link(batch.tx_hash, batch.block_number)
        details["currentTxHash"] = batch.tx_hash
        details["currentBlockNumber"] = batch.block_number
        now = f"now anchored by {batch.tx_hash} in block {batch.block_number}"
    else:
        now = "being anchored again"
    gone = "vanished from the chain" if old.outcome == "vanished" else "moved"
    return AnchorReplacedError(
        f"the anchor of root {root} by {old.tx_hash} in block {old.block_number} {gone} "
        f"(a reorganisation); the batch is {now}: receipts naming the old anchor no longer "
        "verify, its events' receipts are issued anew",
        details=details,
    )
