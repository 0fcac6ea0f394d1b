"""Clones: the same serial active at two places at once.

``recommissioned`` (critical): a code already commissioned is commissioned again (the
projection's anomaly), e.g. a counterfeiter printing a genuine serial elsewhere. Evidence: the
first commissioning (role ``first-commissioning``) and the second (``commissioned-again``).

``clone`` (critical): an event acts on a pack, case or pallet somewhere it is not. Precisely,
with the item's state just before the event (by application order) and the event not older
(eventTime) than that state (:func:`medledger.custody.transition.custody_clash`):

- a shipment, packing, unpacking, dispensing, decommissioning, destruction or observation by a
  participant that is not the holder of the item while it is ``active`` (held in stock by
  someone else), or while it is in transit between two others;
- a receipt by a participant of an item held or in transit elsewhere: the item is neither in
  transit to the receiver nor held by the receiver or by the source the receipt names (a
  receipt naming the holder as its source is a shipment not indexed yet, not a clone).

The regulator is exempt (seizure, inspection), so is what :mod:`~indexer.detection.diversion`
reports already. Such an event is first held back by the projection (batches arrive out of
capture order: the events that explain it may come later) and is judged here only when it
settles, ``PROVENANCE_INDEXER_SETTLE_SECONDS`` after its anchor, still not fitting.

Evidence: the event that made the state (role ``custody``: where the item
is) and the clashing event (role ``clone``), with the holder, its location and the actor.
"""

from __future__ import annotations

from indexer.detection.context import BatchView, operation
from indexer.detection.diversion import NOT_JUDGED, named
from medledger.custody.transition import custody_clash, owning_party
from medledger.epcis.digital_link import gln_of
from medledger.roles import Role


def detect(batch: BatchView, skip: set[tuple[int, str]]) -> None:
    for anomaly in batch.projection.anomalies:
        if anomaly.kind != "recommissioned":
            continue
        history = batch.history(anomaly.subject)
        first = history[0] if history else None
        batch.alert(
            "recommissioned",
            "critical",
            trigger=anomaly.event_hash,
            subject=anomaly.subject,
            message=anomaly.message,
            events=[
                *([("first-commissioning", first.event_hash)] if first else []),
                ("commissioned-again", anomaly.event_hash),
            ],
            firstHolder=first.holder if first else None,
            firstLocation=first.location if first else None,
        )
    for ev, ctx in batch.custody:
        op = operation(ev)
        if op is None or op in NOT_JUDGED or Role.REGULATOR in batch.roles(ctx.submitter):
            continue
        actor = ctx.submitter
        source = batch.address_of(gln_of(owning_party(ev.sources))) if ev.sources else None
        for identifier in named(ev.epcs, ev.parent_id, ev.child_epcs):
            if (ctx.seq, identifier) in skip or batch.held(ctx.event_hash, identifier):
                continue
            state = batch.before(identifier, ctx.seq)
            if state is None or ev.event_time < state.event_time:
                continue  # unknown-code; history anchored late
            if not custody_clash(op, state, actor, source):
                continue
            batch.alert(
                "clone",
                "critical",
                trigger=ctx.event_hash,
                subject=identifier,
                message=f"{ev.biz_step or ev.type} of {identifier} by {actor} at "
                f"{ev.biz_location or ev.read_point}, while it is {state.status} with "
                f"{state.holder} at {state.location}",
                events=[("custody", state.event_hash), ("clone", ctx.event_hash)],
                holder=state.holder,
                location=state.location,
                status=state.status,
                actor=actor,
                actorLocation=ev.biz_location or ev.read_point,
            )
