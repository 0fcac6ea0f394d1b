"""Re-circulation: a pack that comes back after its life ended.

``after-end`` (critical): a pack dispensed, decommissioned or destroyed is dispensed,
decommissioned or destroyed again, or is seen in custody afterwards (shipped, received,
packed, unpacked, observed). Raised from the projection's ``after-end`` anomaly. An event that
is *older* (EPCIS eventTime) than the ending and is not itself an ending is history anchored
late, not re-circulation, and raises nothing. Evidence: the ending event (role ``ended``) and
the event after it (role ``after-end``), each with its anchor.
"""

from __future__ import annotations

from indexer.detection.context import BatchView, operation
from medledger.custody.operations import Operation

ENDINGS = frozenset({Operation.DISPENSE, Operation.DECOMMISSION, Operation.DESTROY})


def detect(batch: BatchView) -> None:
    events = {ctx.seq: ev for ev, ctx in batch.custody}
    for anomaly in batch.projection.anomalies:
        if anomaly.kind != "after-end" or anomaly.prior is None:
            continue
        ev = events.get(anomaly.seq)
        ended = batch.before(anomaly.subject, anomaly.seq)
        if ev is None or ended is None:
            continue
        twice = operation(ev) in ENDINGS
        if not twice and ev.event_time < ended.event_time:
            continue
        batch.alert(
            "after-end",
            "critical",
            trigger=anomaly.event_hash,
            subject=anomaly.subject,
            message=anomaly.message,
            events=[("ended", anomaly.prior), ("after-end", anomaly.event_hash)],
            endedStatus=ended.status,
            endedBy=ended.holder,
            endedTwice=twice,
        )
