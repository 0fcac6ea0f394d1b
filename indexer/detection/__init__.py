"""Fraud and risk detection: alerts derived from the index as batches arrive.

:func:`detect` runs from :meth:`indexer.loader.BatchLoader.apply`, right after the custody
projection of a batch is written and in the same transaction, so its alerts (and transit
observations) carry the block of the event that raised them and roll back with it. Each
detector is one module (rules, severities and evidence in ``docs/detection.md``):

- :mod:`~indexer.detection.unknown_codes`: ``unknown-code``, ``unreleased-lot``;
- :mod:`~indexer.detection.authority`: ``unauthorised-commissioning`` (another company's
  product, another participant's lot, past a lot's declared packs);
- :mod:`~indexer.detection.recirculation`: ``after-end`` (dispensed twice, seen after the end);
- :mod:`~indexer.detection.diversion`: ``diversion`` (hospital stock leaving its channel);
- :mod:`~indexer.detection.clones`: ``recommissioned``, ``clone`` (active at two places);
- :mod:`~indexer.detection.transit`: ``unusual-transit``, ``new-route``;
- :mod:`~indexer.detection.balance`: ``mass-balance`` (formula in
  :mod:`~medledger.formats.mass_balance`);
- :mod:`~indexer.detection.timing`: ``event-time`` (an eventTime out of its bounds);
- :mod:`~indexer.detection.recalled`: ``dispensed-after-recall`` (a recalled pack dispensed);
- :mod:`~indexer.detection.expiry`: ``expired-in-stock``, ``expiring-soon`` (a sweep, by date);
- :mod:`~indexer.detection.shortage`: ``shortage`` (days of supply by region), run by the
  loader after :mod:`indexer.store.supply` has counted the write.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from indexer.detection import (
    authority,
    balance,
    clones,
    diversion,
    recalled,
    recirculation,
    timing,
    transit,
    unknown_codes,
)
from indexer.detection.config import DetectionConfig
from indexer.detection.context import BatchView
from indexer.detection.expiry import maybe_sweep, sweep
from indexer.projection import EventContext, Projection
from medledger.epcis.normalise import NormalisedEvent

__all__ = ["DetectionConfig", "detect", "maybe_sweep", "sweep"]


def detect(
    session: Session,
    block_number: int,
    custody: Sequence[tuple[NormalisedEvent, EventContext]],
    projection: Projection,
    config: DetectionConfig,
    registry: dict[str, tuple[int, str]] | None = None,
) -> None:
    """Every event-driven detector over the events one pass applied (a batch's, and the
    held-back events it re-tried or settled) at ``block_number``, its projection written
    (``registry``: the participants, :func:`indexer.store.state.read_registry`, if known).

    An event's effect held back (``projection.held``) is not judged yet: it is, when it is
    re-tried (it fits, nothing to report) or settled (applied as it stands, and judged)."""
    batch = BatchView(session, block_number, custody, projection, config, participants=registry)
    wanted: list[str] = [a.subject for a in projection.anomalies]
    for ev, _ in custody:  # full histories only where a hospital's channel may be left
        if ev.type != "TransformationEvent":
            named = diversion.named(ev.epcs, ev.parent_id, ev.child_epcs)
            wanted.extend(i for i in named if batch.maybe_held_by_hospital(i))
    batch.load_histories(wanted)
    unknown_codes.detect(batch)
    authority.detect(batch)
    recirculation.detect(batch)
    diverted = diversion.detect(batch)
    clones.detect(batch, diverted)
    transit.detect(batch)
    balance.detect(batch)
    timing.detect(batch)
    recalled.detect(batch)
