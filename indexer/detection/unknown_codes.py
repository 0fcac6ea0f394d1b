"""Unknown codes, and lots their manufacturer never released.

``unknown-code`` (warning): an event names a pack, case or lot that was never commissioned
(the projection's anomaly). Evidence: the event.

``unreleased-lot`` (info, only with ``PROVENANCE_INDEXER_UNRELEASED_LOT_ALERTS=true``): a pack
of a lot that no manufacturer registered on-chain (``registerBatch``, the recall registry's
``BatchRegistered``: "released") is received by someone other than the participant that
commissioned it, i.e. it left its manufacturer. One alert per lot, raised by the first such
receipt. Off by default: lots are released only when their manufacturer declares them
(``POST /lots`` on the gateway, which sends ``registerBatch``), which networks that do not issue
codes through the gateway may never do; turn it on where manufacturers release every lot.
"""

from __future__ import annotations

from sqlalchemy import select, tuple_

from indexer.detection.context import BatchView, operation
from indexer.store.models import LotRow, RecallRow
from indexer.store.state import chunks
from medledger.custody.operations import Operation


def detect(batch: BatchView) -> None:
    for anomaly in batch.projection.anomalies:
        if anomaly.kind == "unknown-code":
            batch.alert(
                "unknown-code",
                "warning",
                trigger=anomaly.event_hash,
                subject=anomaly.subject,
                message=anomaly.message,
                events=[("unknown-code", anomaly.event_hash)],
            )
    if batch.config.unreleased_lot_alerts:
        _unreleased(batch)


def _unreleased(batch: BatchView) -> None:
    received: dict[tuple[str, str], tuple[bytes, str, str]] = {}  # lot: (event, receiver, pack)
    for ev, ctx in batch.custody:
        if operation(ev) is not Operation.RECEIVE:
            continue
        for v in batch.changed_at(ctx.seq):
            if v.gtin and v.lot:
                received.setdefault((v.gtin, v.lot), (ctx.event_hash, ctx.submitter, v.identifier))
    if not received:
        return
    makers: dict[tuple[str, str], str] = {}
    registered: set[tuple[str, str]] = set()
    for part in chunks(sorted(received)):
        for gtin, lot, by in batch.session.execute(
            select(LotRow.gtin, LotRow.lot, LotRow.commissioned_by).where(
                tuple_(LotRow.gtin, LotRow.lot).in_(part)
            )
        ):
            makers[(gtin, lot)] = by
        for gtin, lot in batch.session.execute(
            select(RecallRow.gtin, RecallRow.lot).where(
                tuple_(RecallRow.gtin, RecallRow.lot).in_(part),
                RecallRow.manufacturer.is_not(None),
            )
        ):
            registered.add((gtin, lot))
    for (gtin, lot), (event_hash, receiver, identifier) in sorted(received.items()):
        if (gtin, lot) in registered or makers.get((gtin, lot)) in (None, receiver):
            continue
        batch.alert(
            "unreleased-lot",
            "info",
            trigger=event_hash,
            subject=f"https://id.gs1.org/01/{gtin}/10/{lot}",
            message=f"lot {lot} of GTIN {gtin} circulates (received by {receiver}) but was never "
            "registered on-chain by its manufacturer",
            events=[("receipt", event_hash)],
            key=f"{gtin}/{lot}",
            gtin=gtin,
            lot=lot,
            manufacturer=makers[(gtin, lot)],
            receiver=receiver,
            pack=identifier,
        )
