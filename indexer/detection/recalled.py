"""Recalled packs dispensed: ``dispensed-after-recall``.

``dispensed-after-recall`` (critical): a pack of a lot the recall registry holds recalled is
dispensed by an event whose eventTime is not earlier than the timestamp of the block that
recalled the lot. A recalled pack must go back or be destroyed, never to a patient. The gateway
refuses such a dispensing under the ``pharma`` rules; it reaches the chain from a participant
under the ``epcis`` rules, or another gateway. A dispensing dated before the recall is history
anchored late (the pack left the shelf before anyone knew) and raises nothing; nor does one of a
lot whose recall was lifted. One alert per pack. Evidence: the dispensing (role
``dispensing``) with its anchor, ``holder`` (who dispensed it), ``lot``, and the recall's
``recallBlock``, ``recallTx`` and ``recalledAt``.

Derived in chain order like every detector: the follower applies a block's recall-registry logs
before its anchors, so a re-index raises the same alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from indexer.detection.context import BatchView, operation
from indexer.store.models import BlockRow, RecallRow
from medledger.custody.operations import Operation
from medledger.custody.state import ItemStatus

KIND = "dispensed-after-recall"


def detect(batch: BatchView) -> None:
    recalls: dict[tuple[str, str], dict[str, Any] | None] = {}
    for ev, ctx in batch.custody:
        if operation(ev) != Operation.DISPENSE:
            continue
        for version in batch.changed_at(ctx.seq):
            if version.status != ItemStatus.DISPENSED or not version.gtin or not version.lot:
                continue
            lot = (version.gtin, version.lot)
            if lot not in recalls:
                recalls[lot] = _recall(batch, *lot)
            recall = recalls[lot]
            if recall is None or ev.event_time < recall["at"]:
                continue
            recalled_at = recall["at"].isoformat().replace("+00:00", "Z")
            batch.alert(
                KIND,
                "critical",
                trigger=ctx.event_hash,
                subject=version.identifier,
                message=f"pack {version.identifier} of lot {version.lot} (GTIN {version.gtin}), "
                f"recalled at block {recall['block']} ({recalled_at}), was dispensed by "
                f"{ctx.submitter}",
                events=[("dispensing", ctx.event_hash)],
                holder=ctx.submitter,
                lot=f"https://id.gs1.org/01/{version.gtin}/10/{version.lot}",
                recallBlock=recall["block"],
                recallTx=recall["tx"],
                recalledAt=recalled_at,
            )


def _recall(batch: BatchView, gtin: str, lot: str) -> dict[str, Any] | None:
    """The lot's recall in force at this batch's block (its block, time and transaction)."""
    row = batch.session.get(RecallRow, (gtin, lot))
    if row is None or not row.recalled or row.changed_block > batch.block_number:
        return None
    block = batch.session.get(BlockRow, row.changed_block)
    if block is None:
        return None
    return {
        "block": row.changed_block,
        "tx": row.tx_hash,
        "at": datetime.fromtimestamp(block.timestamp, UTC),
    }
