"""Time you can trust: an anchored event whose eventTime is out of its bounds.

``event-time``, raised from the projection's ``event-time`` anomaly (:mod:`indexer.projection`):

- **later than its anchoring block** allows (the block's timestamp plus
  ``event_time_ahead_seconds``): an event cannot have happened after the chain recorded it.
  ``critical``; the projection takes it at that bound, so it hides no later event.
- **earlier than its item's current state** by more than ``event_time_behind_seconds``, while it
  fits only on top of that state (so it was captured after it and dated back: a dispensing dated
  0001-01-01 by the pharmacy that holds the pack). ``warning``; the projection applies it on top.

The gateway refuses both (rules ``time.future`` and, under ``pharma``, ``time.backdated``): such
an event comes from a participant under the ``epcis`` rules, a gateway that did not check, or a
clock far off. Evidence: the event (role ``out-of-time``) and, for a back-dated one, the event
that made the item's state (role ``state``); ``eventTime`` and ``boundary`` in the message.
"""

from __future__ import annotations

from indexer.detection.context import BatchView
from indexer.projection import EVENT_TIME


def detect(batch: BatchView) -> None:
    for anomaly in batch.projection.anomalies:
        if anomaly.kind != EVENT_TIME:
            continue
        future = anomaly.prior is None
        events = [("out-of-time", anomaly.event_hash)]
        if anomaly.prior is not None:
            events.insert(0, ("state", anomaly.prior))
        batch.alert(
            EVENT_TIME,
            "critical" if future else "warning",
            trigger=anomaly.event_hash,
            subject=anomaly.subject or None,
            message=anomaly.message,
            events=events,
            direction="future" if future else "backdated",
        )
