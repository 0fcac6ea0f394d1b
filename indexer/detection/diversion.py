"""Diversion: a pack leaving its channel (stock supplied to a hospital turning up elsewhere).

Rule. Once a participant with the HOSPITAL role has received a pack (a version of the pack
held, ``active``, by the hospital), the pack may only

- be dispensed, decommissioned, destroyed, observed, packed or unpacked by that hospital;
- be shipped by the hospital back to its supplier (the holder of the version before the
  hospital's receipt), and received back by that supplier, which closes the channel;
- be acted on by the regulator (seizure).

Any other custody event on it, by anyone (the hospital shipping it elsewhere, another
participant receiving, shipping, observing or dispensing it), is ``diversion`` (critical). A
second holder after the hospital other than the supplier (a diverted receipt, already reported)
also ends the check, so a diverted pack is reported where it left the channel, not at every
later step. Events older (eventTime) than the pack's latest state are history and are not
judged. Evidence: the hospital's receipt (role ``hospital-receipt``) and the diverting event
(role ``diversion``), with the hospital, the supplier and the actor.

Roles are those the registry gives now (a participant that lost its hospital role no longer
marks a channel).
"""

from __future__ import annotations

from indexer.detection.context import BatchView, operation
from indexer.projection import event_party
from medledger.custody.operations import Operation
from medledger.epcis.digital_link import gln_of
from medledger.roles import Role

IN_HOSPITAL = frozenset(
    {
        Operation.DISPENSE,
        Operation.DECOMMISSION,
        Operation.DESTROY,
        Operation.OBSERVE,
        Operation.PACK,
        Operation.UNPACK,
    }
)
NOT_JUDGED = frozenset({Operation.COMMISSION_SERIAL, Operation.COMMISSION_LOT, Operation.TRANSFORM})


def named(ev_epcs: tuple[str, ...], parent: str | None, children: tuple[str, ...]) -> list[str]:
    out = list(ev_epcs)
    if parent is not None:
        out.append(parent)
    out.extend(children)
    return list(dict.fromkeys(out))


def detect(batch: BatchView) -> set[tuple[int, str]]:
    """Writes the diversion alerts; returns the (event seq, identifier) pairs reported."""
    reported: set[tuple[int, str]] = set()
    for ev, ctx in batch.custody:
        op = operation(ev)
        if op is None or op in NOT_JUDGED or Role.REGULATOR in batch.roles(ctx.submitter):
            continue
        for identifier in named(ev.epcs, ev.parent_id, ev.child_epcs):
            if batch.held(ctx.event_hash, identifier):
                continue  # judged when it is re-tried or settles
            if not batch.maybe_held_by_hospital(identifier):
                continue  # never with a hospital: no channel to leave
            history = [v for v in batch.history(identifier) if v.seq < ctx.seq]
            if not history or ev.event_time < history[-1].event_time:
                continue
            at = None
            for i in range(len(history) - 1, -1, -1):
                v = history[i]
                if v.status == "active" and Role.HOSPITAL in batch.roles(v.holder):
                    at = i
                    break
            if at is None:
                continue
            hospital = history[at].holder
            supplier = history[at - 1].holder if at > 0 else None
            if any(v.status == "active" and v.holder != hospital for v in history[at + 1 :]):
                continue  # returned to the supplier, or diverted already (and reported)
            if ctx.submitter == hospital:
                if op in IN_HOSPITAL:
                    continue
                to = batch.address_of(gln_of(event_party(ev.destinations)))
                if op in (Operation.SHIP, Operation.RETURN) and to is not None and to == supplier:
                    continue
            elif ctx.submitter == supplier and op is Operation.RECEIVE:
                continue
            reported.add((ctx.seq, identifier))
            batch.alert(
                "diversion",
                "critical",
                trigger=ctx.event_hash,
                subject=identifier,
                message=f"{ev.biz_step or ev.type} of {identifier} by {ctx.submitter}, after "
                f"hospital {hospital} received it (supplied by {supplier})",
                events=[
                    ("hospital-receipt", history[at].event_hash),
                    ("diversion", ctx.event_hash),
                ],
                hospital=hospital,
                supplier=supplier,
                actor=ctx.submitter,
            )
    return reported
