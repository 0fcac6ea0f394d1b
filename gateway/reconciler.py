"""The reconciler: anchored batches re-checked against the chain, within a window of blocks.

An anchor recorded in the store is a fact the chain stated once (transaction, block number,
block hash). A reorganisation can take it back. The batcher calls :meth:`Reconciler.run` at a
bounded rate (``interval_seconds``); each run looks at every batch anchored in the last
``window_blocks`` blocks (and any anchored batch whose block hash is not known yet):

- the canonical block at the recorded height still has the recorded hash: nothing changed (the
  same block holds the same ``Anchored`` log), nothing more is asked;
- otherwise the chain is asked again (``getAnchor`` and the ``Anchored`` log of the root):
  - the root is anchored by the batch's participant, elsewhere (the transaction was re-included
    in another block, or another transaction anchored it): **moved**. The old anchor is kept in
    ``anchor_history`` and the chain's facts recorded; if the new block is not yet
    ``confirmations`` deep the batch goes back to ``sent`` (no receipt until it is);
  - the root is not anchored any more: **vanished**. The anchor goes to ``anchor_history``, the
    batch back to ``sealed`` with the same root, and the batcher anchors it again with a new
    transaction (a new receipt); a warning is logged and the gateway's counters
    ``anchors_vanished`` / ``reanchored`` move (docs/operations.md).

One call of the node per distinct block in the window when nothing changed, and at most
``max_lookups`` batches asked about again per run (the rest on the next). See
docs/gateway.md ("Reorganisations") and docs/storage.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session
from web3 import Web3

from chain.ledger import Ledger
from gateway.store.batches import (
    BatchInfo,
    anchored_from_block,
    record_anchor_moved,
    record_anchor_transaction,
    reopen_vanished,
)
from medledger.errors import BatchStateError

log = logging.getLogger("provenance.gateway.reconciler")


def end_reads(session: Session) -> None:
    """End the session's read-only transaction before calling the node (see gateway/batcher)."""
    if session.in_transaction():
        session.commit()


def hex_hash(value: str | bytes) -> str:
    """A block or transaction hash as the store keeps it: ``0x`` + 64 lower-case hex digits."""
    if isinstance(value, str):
        return "0x" + value.lower().removeprefix("0x")
    return "0x" + bytes(value).hex()


@dataclass
class ReconcileReport:
    checked: int = 0
    moved: int = 0
    vanished: int = 0
    unsure: int = 0  # the chain changed while it was read: looked at again next run


class Reconciler:
    """Re-checks anchored batches against the chain; :meth:`due` says when to run again."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        window_blocks: int = 128,
        interval_seconds: float = 5.0,
        confirmations: int = 0,
        max_lookups: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ledger = ledger
        self.max_lookups = max_lookups
        self.window_blocks = window_blocks
        self.interval_seconds = interval_seconds
        self.confirmations = confirmations
        self._clock = clock
        self._next_run = 0.0  # the first pass after a start runs at once

    def due(self) -> bool:
        """Whether a run is due (at most one per ``interval_seconds``); counts it as started."""
        now = self._clock()
        if now < self._next_run:
            return False
        self._next_run = now + self.interval_seconds
        return True

    def run(self, session: Session) -> ReconcileReport:
        report = ReconcileReport()
        end_reads(session)
        head = self._ledger.chain.block_number
        first = max(0, head - self.window_blocks + 1)
        batches = anchored_from_block(session, first)
        end_reads(session)
        canonical: dict[int, str | None] = {}
        lookups = 0
        for batch in batches:
            number, recorded = batch.block_number, batch.block_hash
            if number is not None and recorded is not None:
                if number not in canonical:
                    canonical[number] = self._block_hash(number)
                if canonical[number] == recorded.lower():
                    report.checked += 1
                    continue
            if lookups >= self.max_lookups:
                continue  # the rest on the next run (many anchored before block hashes were kept)
            lookups += 1
            report.checked += 1
            try:
                self._look_again(session, batch, report)
            except BatchStateError:  # another batcher's reconciler changed it meanwhile
                session.rollback()
                report.unsure += 1
        if report.moved or report.vanished:
            log.info(
                "reconciled %s anchored batches: %s moved, %s vanished",
                report.checked,
                report.moved,
                report.vanished,
            )
        return report

    # --- one batch ----------------------------------------------------------------------------

    def _look_again(self, session: Session, batch: BatchInfo, report: ReconcileReport) -> None:
        assert batch.root is not None
        end_reads(session)
        if batch.block_number is not None and self._ledger.chain.block_number < batch.block_number:
            # A chain shorter than the anchor's block: a node behind (restarted, syncing) or a
            # reorganisation still arriving. Judged once the chain is at least that long again.
            report.unsure += 1
            return
        anchor = self._ledger.get_anchor(batch.root)
        if anchor is None or Web3.to_checksum_address(anchor.submitter) != Web3.to_checksum_address(
            batch.participant
        ):
            self._vanished(session, batch, report)
            return
        found = self._ledger.find_anchor_transaction(batch.root, anchor.block_number)
        tx_hash: str | None
        block_hash: str | None
        if found is not None:
            tx_hash, block_hash = found.tx_hash, found.block_hash
        elif anchor.block_number == batch.block_number:
            # the node keeps no log (pruned): the contract's block and that block's hash
            tx_hash, block_hash = batch.tx_hash, self._block_hash(anchor.block_number)
        else:
            report.unsure += 1  # moved, but the log is not readable yet (mid-reorganisation)
            return
        if block_hash is None:
            report.unsure += 1
            return
        if (tx_hash, anchor.block_number) == (batch.tx_hash, batch.block_number) and (
            batch.block_hash is None or batch.block_hash.lower() == block_hash
        ):
            if batch.block_hash is None:  # recorded before block hashes were kept
                record_anchor_transaction(
                    session,
                    batch.id,
                    tx_hash=tx_hash,
                    block_number=anchor.block_number,
                    block_hash=block_hash,
                )
            return
        deep = self._deep_enough(anchor.block_number)
        if (
            record_anchor_moved(
                session,
                batch,
                tx_hash=tx_hash,
                block_number=anchor.block_number,
                block_hash=block_hash,
                deep_enough=deep,
            )
            is None
        ):
            return  # another batcher's reconciler recorded it first
        report.moved += 1
        log.warning(
            "the anchor of batch %s moved: root 0x%s was recorded in block %s (%s) by %s and is "
            "now in block %s (%s) by %s%s; receipts naming the old block no longer verify",
            batch.id,
            batch.root.hex(),
            batch.block_number,
            batch.block_hash,
            batch.tx_hash,
            anchor.block_number,
            block_hash,
            tx_hash,
            "" if deep else f", waiting for {self.confirmations} confirmations",
        )

    def _vanished(self, session: Session, batch: BatchInfo, report: ReconcileReport) -> None:
        assert batch.root is not None
        reason = (
            f"anchor {batch.tx_hash} in block {batch.block_number} ({batch.block_hash}) vanished "
            "from the chain (reorganisation): anchored again"
        )
        if reopen_vanished(session, batch, reason) is None:
            return  # another batcher's reconciler reopened it first
        report.vanished += 1
        log.warning(
            "the anchor of batch %s vanished from the chain: root 0x%s, transaction %s, block %s "
            "(%s); anchoring it again with a new transaction (its receipts no longer verify; "
            "GET /anchors/%s answers 410)",
            batch.id,
            batch.root.hex(),
            batch.tx_hash,
            batch.block_number,
            batch.block_hash,
            batch.tx_hash,
        )

    # --- chain facts --------------------------------------------------------------------------

    def _block_hash(self, number: int) -> str | None:
        """The canonical block's hash at ``number``; None past the head (a shorter chain)."""
        try:
            block = self._ledger.chain.w3.eth.get_block(number)
        except Exception:  # noqa: BLE001 - BlockNotFound, or a node that answers null
            return None
        value = block.get("hash") if block else None
        return None if value is None else hex_hash(value)

    def _deep_enough(self, block_number: int) -> bool:
        if not self.confirmations:
            return True
        return self._ledger.chain.block_number >= block_number + self.confirmations
