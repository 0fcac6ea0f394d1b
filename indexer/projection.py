"""From verified events to current state: the custody of every pack, case and API lot.

The gateway *enforced* the custody rules when the events were captured; the indexer *records*
what the chain proves, so this projection never refuses an event. It applies each one to the
items it names (and to what they contain: shipping a case moves its packs), and reports what
does not fit as an :class:`Anomaly` (an unknown code, a second commissioning, anything done to
a pack after it was dispensed) for the alert table.

Batches of different participants can land on chain in another order than their events
happened (a distributor's receipt anchored before the manufacturer's shipment). EPCIS event
time is the truth: an event changes an item only if it is not older than the item's current
version; an older one is kept in the item's history (its event rows) but changes nothing.

One :class:`Projector` works on one batch: it reads the current state of everything the batch
names through a :class:`StateReader` (prefetched in a few queries), applies the events in
memory, and returns a :class:`Projection` for the store to write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from gateway.custody import TERMINAL, ItemStatus
from gateway.epcis.normalise import NormalisedEvent, Party, Quantity
from gateway.rules.identifiers import gln_of, gtin_of, lot_of_class
from gateway.rules.roles import Operation, operation_of


@dataclass(frozen=True, slots=True)
class ItemState:
    """One version of an instance's state (``seq``: the event that made it)."""

    identifier: str
    status: str
    holder: str | None
    location: str | None
    parent: str | None
    in_transit_to: str | None
    gtin: str | None
    lot: str | None
    event_time: datetime
    event_hash: bytes
    seq: int


HoldingKey = tuple[str, str, str]  # (class id, holder, in transit to or "")


@dataclass(frozen=True, slots=True)
class HoldingState:
    key: HoldingKey
    quantity: Decimal
    uom: str
    event_hash: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class LotFacts:
    gtin: str
    lot: str
    expiry: date | None
    commissioned_by: str
    first_seq: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something the chain proves happened that custody says should not have.

    ``prior``: the event that made the item's state the event clashed with (the dispensing of
    an ``after-end``, the latest event of an item ``recommissioned``); evidence for the alert.
    """

    kind: str
    subject: str
    message: str
    event_hash: bytes
    seq: int
    prior: bytes | None = None


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who anchored an event and where it sits in the chain."""

    event_hash: bytes
    seq: int
    submitter: str


class StateReader(Protocol):
    """Current state as stored (before this batch)."""

    def items(self, identifiers: Iterable[str]) -> dict[str, ItemState]: ...

    def children(self, parents: Iterable[str]) -> dict[str, list[str]]: ...

    def holding(self, key: HoldingKey) -> HoldingState | None: ...

    def participant_by_gln(self, gln: str) -> str | None: ...

    def lots(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]: ...


@dataclass
class Projection:
    """What one batch changed: new versions (in order per key), new lots, anomalies."""

    item_versions: dict[str, list[ItemState]] = field(default_factory=dict)
    stored_items: set[str] = field(default_factory=set)  # had a stored current version
    #: the stored current state of every identifier looked up (None: it did not exist)
    prior_items: dict[str, ItemState | None] = field(default_factory=dict)
    holding_versions: dict[HoldingKey, list[HoldingState]] = field(default_factory=dict)
    stored_holdings: set[HoldingKey] = field(default_factory=set)
    lots: list[LotFacts] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)


_ENDINGS = {
    Operation.DISPENSE: ItemStatus.DISPENSED,
    Operation.DECOMMISSION: ItemStatus.DECOMMISSIONED,
    Operation.DESTROY: ItemStatus.DESTROYED,
}
_TERMINAL = frozenset(s.value for s in TERMINAL)


def named_identifiers(events: Iterable[NormalisedEvent]) -> set[str]:
    """Every instance identifier the events name."""
    out: set[str] = set()
    for ev in events:
        out.update(ev.epcs, ev.child_epcs, ev.input_epcs, ev.output_epcs)
        if ev.parent_id is not None:
            out.add(ev.parent_id)
    return out


def _owning(parties: Sequence[Party]) -> str | None:
    for party in parties:
        if party.type == "owning_party":
            return party.id
    return parties[0].id if parties else None


class Projector:
    """Applies one batch's events, in order, over the stored state."""

    def __init__(self, reader: StateReader, events: Sequence[NormalisedEvent]) -> None:
        self.reader = reader
        self.out = Projection()
        self._items: dict[str, ItemState | None] = {}
        self._kids: dict[str, list[str]] = {}
        self._holdings: dict[HoldingKey, HoldingState | None] = {}
        self._lots_seen: set[tuple[str, str]] = set()
        self._prefetch(events)

    # --- reading ---------------------------------------------------------------------------

    def _prefetch(self, events: Sequence[NormalisedEvent]) -> None:
        wanted = named_identifiers(events)
        stored = self.reader.items(wanted)
        self.out.stored_items.update(stored)
        for identifier in wanted:
            self._items[identifier] = self.out.prior_items[identifier] = stored.get(identifier)
        frontier = set(wanted)
        while frontier:  # contents of contents: a pallet's cases' packs
            kids = self.reader.children(frontier)
            self._kids.update({p: list(kids.get(p, ())) for p in frontier})
            new = {k for ks in kids.values() for k in ks if k not in self._items}
            stored = self.reader.items(new)
            self.out.stored_items.update(stored)
            for identifier in new:
                self._items[identifier] = self.out.prior_items[identifier] = stored.get(identifier)
            frontier = new
        lot_keys: set[tuple[str, str]] = set()
        for ev in events:
            if ev.lot:
                lot_keys.update((g, ev.lot) for g in map(gtin_of, ev.epcs + ev.output_epcs) if g)
            for q in ev.quantities + ev.output_quantities:
                key = lot_of_class(q.class_id)
                if key:
                    lot_keys.add(key)
        self._lots_seen = self.reader.lots(lot_keys)

    def item(self, identifier: str) -> ItemState | None:
        if identifier not in self._items:
            stored = self.reader.items([identifier]).get(identifier)
            if stored is not None:
                self.out.stored_items.add(identifier)
            self._items[identifier] = self.out.prior_items[identifier] = stored
        return self._items[identifier]

    def contents(self, identifier: str) -> list[str]:
        """Everything inside ``identifier``, depth first."""
        out: list[str] = []
        stack = list(self._kids.get(identifier, ()))
        while stack:
            child = stack.pop()
            out.append(child)
            stack.extend(self._kids.get(child, ()))
        return out

    def holding(self, key: HoldingKey) -> HoldingState | None:
        if key not in self._holdings:
            stored = self.reader.holding(key)
            if stored is not None:
                self.out.stored_holdings.add(key)
            self._holdings[key] = stored
        return self._holdings[key]

    # --- writing ---------------------------------------------------------------------------

    def put(self, state: ItemState) -> None:
        old = self._items.get(state.identifier)
        if old is not None and old.parent != state.parent:
            if old.parent in self._kids and state.identifier in self._kids[old.parent]:
                self._kids[old.parent].remove(state.identifier)
        if state.parent is not None and (old is None or old.parent != state.parent):
            self._kids.setdefault(state.parent, []).append(state.identifier)
        self._items[state.identifier] = state
        versions = self.out.item_versions.setdefault(state.identifier, [])
        if versions and versions[-1].seq == state.seq:
            versions[-1] = state  # one version per identifier per event
        else:
            versions.append(state)

    def move(self, ctx: EventContext, key: HoldingKey, delta: Decimal, uom: str | None) -> None:
        current = self.holding(key)
        quantity = (current.quantity if current else Decimal(0)) + delta
        state = HoldingState(
            key, quantity, uom or (current.uom if current else ""), ctx.event_hash, ctx.seq
        )
        self._holdings[key] = state
        versions = self.out.holding_versions.setdefault(key, [])
        if versions and versions[-1].seq == ctx.seq:
            versions[-1] = state
        else:
            versions.append(state)

    def anomaly(
        self,
        ctx: EventContext,
        kind: str,
        subject: str,
        message: str,
        prior: bytes | None = None,
    ) -> None:
        self.out.anomalies.append(Anomaly(kind, subject, message, ctx.event_hash, ctx.seq, prior))

    # --- events ----------------------------------------------------------------------------

    def apply(self, ev: NormalisedEvent, ctx: EventContext) -> None:
        operation = operation_of(ev.type, ev.action, ev.biz_step)
        if ev.type == "ObjectEvent" and ev.action == "ADD" and operation is None:
            operation = Operation.COMMISSION_SERIAL  # ADD without bizStep: it begins to exist
        if operation is None:
            return
        where = ev.biz_location or ev.read_point
        if operation is Operation.COMMISSION_SERIAL:
            self.commission(ev, ctx, ev.epcs, ev.quantities, where)
        elif operation is Operation.TRANSFORM:
            self.transform(ev, ctx, where)
        elif operation is Operation.PACK:
            self.pack(ev, ctx)
        elif operation is Operation.UNPACK:
            self.unpack(ev, ctx)
        elif operation is Operation.SHIP:
            self.ship(ev, ctx)
        elif operation is Operation.RECEIVE:
            self.receive(ev, ctx, where)
        elif operation in _ENDINGS:
            self.end(ev, ctx, _ENDINGS[operation])
        elif operation is Operation.OBSERVE:
            for epc in ev.epcs:  # changes nothing, but may not fit custody
                self._current(ev, ctx, epc)

    def _current(self, ev: NormalisedEvent, ctx: EventContext, identifier: str) -> ItemState | None:
        """The item an event acts on, if it may change it; reports what does not fit."""
        state = self.item(identifier)
        if state is None:
            self.anomaly(
                ctx,
                "unknown-code",
                identifier,
                f"{ev.biz_step or ev.type} of {identifier}, which was never commissioned",
            )
            return None
        if state.status in _TERMINAL:
            self.anomaly(
                ctx,
                "after-end",
                identifier,
                f"{ev.biz_step or ev.type} of {identifier} after it was {state.status}",
                state.event_hash,
            )
            return None
        if ev.event_time < state.event_time:
            return None  # older than what we know: history only
        return state

    def _version(
        self, state: ItemState, ev: NormalisedEvent, ctx: EventContext, **changes: Any
    ) -> ItemState:
        return replace(
            state, event_time=ev.event_time, event_hash=ctx.event_hash, seq=ctx.seq, **changes
        )

    def commission(
        self,
        ev: NormalisedEvent,
        ctx: EventContext,
        epcs: Sequence[str],
        quantities: Sequence[Quantity],
        where: str | None,
    ) -> None:
        for epc in epcs:
            existing = self.item(epc)
            if existing is not None:
                self.anomaly(
                    ctx,
                    "recommissioned",
                    epc,
                    f"{epc} commissioned again (first by {existing.holder})",
                    existing.event_hash,
                )
                continue
            gtin = gtin_of(epc)
            self.put(
                ItemState(
                    epc,
                    ItemStatus.ACTIVE.value,
                    ctx.submitter,
                    where,
                    None,
                    None,
                    gtin,
                    ev.lot,
                    ev.event_time,
                    ctx.event_hash,
                    ctx.seq,
                )
            )
            if gtin and ev.lot:
                self.new_lot(ctx, gtin, ev.lot, ev.expiry)
        for q in quantities:
            if q.quantity is not None:
                self.move(ctx, (q.class_id, ctx.submitter, ""), q.quantity, q.uom)
            lot = lot_of_class(q.class_id)
            if lot:
                self.new_lot(ctx, lot[0], lot[1], ev.expiry)

    def new_lot(self, ctx: EventContext, gtin: str, lot: str, expiry: date | None) -> None:
        if (gtin, lot) in self._lots_seen:
            return
        self._lots_seen.add((gtin, lot))
        self.out.lots.append(LotFacts(gtin, lot, expiry, ctx.submitter, ctx.seq))

    def transform(self, ev: NormalisedEvent, ctx: EventContext, where: str | None) -> None:
        for q in ev.input_quantities:
            if q.quantity is not None:
                self.move(ctx, (q.class_id, ctx.submitter, ""), -q.quantity, q.uom)
        for epc in ev.input_epcs:
            state = self._current(ev, ctx, epc)
            if state is not None:
                self.put(
                    self._version(
                        state, ev, ctx, status=ItemStatus.DECOMMISSIONED.value, parent=None
                    )
                )
        self.commission(ev, ctx, ev.output_epcs, ev.output_quantities, where)

    def pack(self, ev: NormalisedEvent, ctx: EventContext) -> None:
        if ev.parent_id is None:
            return
        if self._current(ev, ctx, ev.parent_id) is None:
            return
        for child in ev.child_epcs:
            state = self._current(ev, ctx, child)
            if state is not None:
                self.put(self._version(state, ev, ctx, parent=ev.parent_id))

    def unpack(self, ev: NormalisedEvent, ctx: EventContext) -> None:
        if ev.parent_id is None:
            return
        listed = ev.child_epcs or tuple(self._kids.get(ev.parent_id, ()))
        for child in listed:
            state = self._current(ev, ctx, child)
            if state is not None and state.parent == ev.parent_id:
                self.put(self._version(state, ev, ctx, parent=None))

    def _with_contents(self, ev: NormalisedEvent, ctx: EventContext, epc: str) -> list[ItemState]:
        top = self._current(ev, ctx, epc)
        if top is None:
            return []
        out = [top]
        for inner in self.contents(epc):
            state = self.item(inner)
            if state is not None and state.status not in _TERMINAL:
                out.append(state)
        return out

    def ship(self, ev: NormalisedEvent, ctx: EventContext) -> None:
        party = _owning(ev.destinations)
        gln = gln_of(party)
        to = self.reader.participant_by_gln(gln) if gln else None
        for epc in ev.epcs:
            for state in self._with_contents(ev, ctx, epc):
                self.put(
                    self._version(
                        state, ev, ctx, status=ItemStatus.IN_TRANSIT.value, in_transit_to=to
                    )
                )
        for q in ev.quantities:
            if q.quantity is not None:
                self.move(ctx, (q.class_id, ctx.submitter, ""), -q.quantity, q.uom)
                self.move(ctx, (q.class_id, ctx.submitter, to or ""), q.quantity, q.uom)

    def receive(self, ev: NormalisedEvent, ctx: EventContext, where: str | None) -> None:
        for epc in ev.epcs:
            for state in self._with_contents(ev, ctx, epc):
                self.put(
                    self._version(
                        state,
                        ev,
                        ctx,
                        status=ItemStatus.ACTIVE.value,
                        holder=ctx.submitter,
                        location=where,
                        in_transit_to=None,
                    )
                )
        if not ev.quantities:
            return
        gln = gln_of(_owning(ev.sources))
        sender = self.reader.participant_by_gln(gln) if gln else None
        for q in ev.quantities:
            if q.quantity is None:
                continue
            if sender is not None:
                self.move(ctx, (q.class_id, sender, ctx.submitter), -q.quantity, q.uom)
            self.move(ctx, (q.class_id, ctx.submitter, ""), q.quantity, q.uom)

    def end(self, ev: NormalisedEvent, ctx: EventContext, status: ItemStatus) -> None:
        for epc in ev.epcs:
            for state in self._with_contents(ev, ctx, epc):
                parent = None if state.identifier == epc else state.parent
                self.put(
                    self._version(
                        state, ev, ctx, status=status.value, parent=parent, in_transit_to=None
                    )
                )
        for q in ev.quantities:
            if q.quantity is not None:
                self.move(ctx, (q.class_id, ctx.submitter, ""), -q.quantity, q.uom)


def event_party(parties: Sequence[Party]) -> str | None:
    """The owning party of a source or destination list (the one custody follows)."""
    return _owning(parties)
