"""Every kind of alert the indexer raises, and the severities: one list that ``GET /alerts``
and ``provenance alerts`` validate their filters against (an unknown kind is 422 / exit 2, not
an empty answer a script reads as "all clear"), and that :func:`indexer.store.writes.add_alert`
refuses to step outside of. Rules and evidence per kind: ``docs/detection.md``.
"""

from __future__ import annotations

from typing import Literal, get_args

AlertKind = Literal[
    # loading a batch (indexer.loader)
    "integrity",
    "batch-unavailable",
    "anchored-twice",
    "unreadable-event",
    # detection, as batches arrive (indexer.detection, indexer.projection)
    "unknown-code",
    "unreleased-lot",
    "unauthorised-commissioning",
    "after-end",
    "recommissioned",
    "clone",
    "diversion",
    "mass-balance",
    "unusual-transit",
    "new-route",
    "event-time",
    "dispensed-after-recall",
    # supply by region, as custody is written (indexer.detection.shortage)
    "shortage",
    # the expiry sweep (indexer.detection.expiry)
    "expired-in-stock",
    "expiring-soon",
    # reports from people (indexer.adverse_reports)
    "adverse-reactions",
]
Severity = Literal["info", "warning", "critical"]

ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
SEVERITIES: tuple[str, ...] = get_args(Severity)
