"""From verified events to current state: the custody of every pack, case and API lot.

The gateway *enforced* the custody rules when the events were captured; the indexer *records*
what the chain proves, so this projection never refuses an event. It applies each one to the
items it names (and to what they contain: shipping a case moves its packs), and reports what
does not fit as an :class:`Anomaly` (an unknown code, a second commissioning, anything done to
a pack after it was dispensed) for the alert table.

Batches of different participants can land on chain in another order than their events
happened (a distributor's receipt anchored before the manufacturer's shipment). EPCIS event
time orders them: an event not older than the item's current version changes it; an older one
that does not fit on top of it (the manufacturer shipping what the distributor already
received) is kept in the item's history (its event rows) but changes nothing. An older one that
*does* fit on top (the pharmacy dispensing what it holds, dated before its receipt) was captured
after the current version and dated back: it is applied on top, at the current version's time,
and if it is older by more than ``behind`` (the gateway's ``time.backdated`` tolerance) it is
reported (``event-time``). An eventTime is trusted no further than the block that anchored it:
one later than the block's timestamp plus a tolerance is reported (``event-time``) and taken at
that bound (:meth:`Projector.bound_times`), so a shipment dated 9999-12-31 cannot hide the
receipt and dispensing that follow it.

An event that does not fit yet is **held back** rather than applied: a receipt, shipment,
dispensing... of a code never commissioned (``unknown-code``), or by a participant while the
item is held or in transit elsewhere (``clone``, the rule of
:func:`~medledger.custody.transition.custody_clash`). Such an
event is pending (:class:`Held`, stored as ``ix_pending``) and is tried again each time the
item changes (:meth:`Projector.retry`, those not older than the item's current version first,
oldest eventTime first: the held events of several participants follow each other in time,
while one dated before the state it lands on fits only last): the shipment and commissioning
it follows usually arrive a few seconds later. Only once the settle window has passed is it
judged for good (:meth:`Projector.settle`): applied as it stands, and the detectors raise
their alerts on it. Re-tried and settled events are applied with a sequence number of the
batch (or block) that applied them (:class:`SeqSlots`), so every item's versions stay in
application order.

What fits and what does not is decided by the custody transition function the gateway enforces
(:func:`medledger.custody.transition.transition`), here in ``RECORD`` mode (``SETTLE`` when
settling); the projector is its recording: it stamps, numbers and keeps the versions, holdings
and lots the transition makes, and turns its findings into anomalies and held-back events.

One :class:`Projector` works on one batch: it reads the current state of everything the batch
names through a :class:`StateReader` (prefetched in a few queries), applies the events in
memory, and returns a :class:`Projection` for the store to write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from medledger.custody.state import ItemState as ItemState  # the indexer's versions too
from medledger.custody.state import ItemStatus
from medledger.custody.timebounds import TimeBounds
from medledger.custody.transition import (
    RECORD_AS,
    Disposition,
    Finding,
    Mode,
    owning_party,
    transition,
)
from medledger.custody.transition import (
    custody_clash as custody_clash,  # the rule the detectors and tests know it by
)
from medledger.epcis.digital_link import gtin_of, lot_of_class
from medledger.epcis.normalise import NormalisedEvent, Party
from medledger.roles import Role

#: position of each field (:meth:`Projector.update` builds thousands of versions per batch;
#: ``_replace`` checks its arguments on every call)
_FIELD_INDEX = {name: i for i, name in enumerate(ItemState._fields)}
_EVENT_TIME, _EVENT_HASH, _SEQ = (_FIELD_INDEX[f] for f in ("event_time", "event_hash", "seq"))

_ACTIVE = ItemStatus.ACTIVE.value
#: (an enum attribute is a slow read on Python 3.11: the hot path reads constants)
_RECORD: Final = Mode.RECORD
_SETTLE: Final = Mode.SETTLE

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
class Held:
    """An event's effect on one item, held back (see the module docstring).

    ``seq``: the event's own sequence number; ``reason``: ``unknown-code`` or ``clone``.
    """

    event_hash: bytes
    identifier: str
    reason: str
    seq: int
    event_time: datetime

    @property
    def key(self) -> tuple[bytes, str]:
        return (self.event_hash, self.identifier)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A stored held-back event: what was held, the event itself and who anchored it."""

    held: Held
    event: NormalisedEvent
    submitter: str


class SeqSlots:
    """Sequence numbers for events applied after their own turn (re-tried or settled): the
    positions after the last event of the batch (or block) that applies them."""

    def __init__(self, first: int, limit: int) -> None:
        self._next = first
        self._limit = limit

    def take(self) -> int | None:
        """The next free sequence number, or None when the slot is full."""
        if self._next >= self._limit:
            return None
        self._next += 1
        return self._next - 1


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

    def roles(self, address: str) -> int: ...

    def pending(self, identifiers: Iterable[str]) -> list[PendingEvent]: ...


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
    #: newly held back (event, item) pairs; and stored ones resolved: (key, outcome)
    held: list[Held] = field(default_factory=list)
    resolved: list[tuple[tuple[bytes, str], str]] = field(default_factory=list)
    #: held-back events applied in this pass (re-tried or settled), in order, for detection
    replayed: list[tuple[NormalisedEvent, EventContext]] = field(default_factory=list)

    @property
    def held_keys(self) -> set[tuple[bytes, str]]:
        """(event, item) pairs held back now: detectors do not judge them yet."""
        return {h.key for h in self.held}


#: the gateway's default ``time.backdated`` tolerance
DEFAULT_BEHIND = timedelta(minutes=5)
#: anomaly kind of an eventTime out of its bounds (``indexer.detection.timing``)
EVENT_TIME = "event-time"


def named_identifiers(events: Iterable[NormalisedEvent]) -> set[str]:
    """Every instance identifier the events name."""
    out: set[str] = set()
    for ev in events:
        out.update(ev.epcs, ev.child_epcs, ev.input_epcs, ev.output_epcs)
        if ev.parent_id is not None:
            out.add(ev.parent_id)
    return out


class Projector:
    """Applies one batch's events, in order, over the stored state."""

    def __init__(
        self,
        reader: StateReader,
        events: Sequence[NormalisedEvent],
        *,
        with_pending: bool = True,
        behind: timedelta = DEFAULT_BEHIND,
    ) -> None:
        """``with_pending``: load the stored held-back events of the items (False when the
        index holds none, to save the query); ``behind``: how much older than an item's current
        version an event applied on top of it may be before it is reported."""
        self.reader = reader
        self._behind = behind
        self._bounds = TimeBounds(behind=behind)
        #: events dated later than their block allows (:meth:`bound_times`): they change their
        #: items without moving the items' time forward
        self._undated: set[bytes] = set()
        self.out = Projection()
        self._items: dict[str, ItemState | None] = {}
        self._kids: dict[str, list[str]] = {}
        self._kids_read: set[str] = set()  # parents whose whole contents were read
        self._holdings: dict[HoldingKey, HoldingState | None] = {}
        self._lots_seen: set[tuple[str, str]] = set()
        #: the event being applied (:meth:`apply`), which stamps every version it makes
        self._ctx = EventContext(b"", 0, "")
        self._event_time = datetime.min
        self._force = False  # settling: apply what does not fit (and let detectors judge it)
        self._retrying: PendingEvent | None = None
        self._new_held: set[tuple[bytes, str]] = set()
        self._held_again = False
        self._changes: dict[str, int] = {}  # identifier: versions put in this pass
        self._pending: dict[tuple[bytes, str], PendingEvent] = {}
        self._prefetch(events)
        if with_pending:
            for p in reader.pending(self._items):
                self._pending[p.held.key] = p

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
            # only parents with children get a list (absent: empty, read whole all the same)
            self._kids.update((p, list(ks)) for p, ks in kids.items() if p in frontier)
            self._kids_read.update(frontier)
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

    def known_state(
        self,
    ) -> tuple[dict[str, ItemState | None], dict[str, list[str]], set[str], set[tuple[str, str]]]:
        """What the projector knows after its events: the state of every identifier it read
        or changed (None: no current version), contents per parent, the parents whose whole
        contents it read (the others' lists hold only what it put in them) and the lots known
        to exist."""
        return self._items, self._kids, self._kids_read, self._lots_seen

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
        self._changes[state.identifier] = self._changes.get(state.identifier, 0) + 1
        versions = self.out.item_versions.setdefault(state.identifier, [])
        if versions and versions[-1].seq == state.seq:
            versions[-1] = state  # one version per identifier per event
        else:
            versions.append(state)

    def move(self, key: HoldingKey, delta: Decimal, uom: str | None) -> None:
        ctx = self._ctx
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

    def bound_times(
        self, custody: Sequence[tuple[NormalisedEvent, EventContext]], not_after: datetime
    ) -> list[tuple[NormalisedEvent, EventContext]]:
        """The batch's events, each eventTime no later than ``not_after`` (its block's
        timestamp plus the tolerance): a later one is reported (``event-time``) and taken at
        ``not_after`` (its order among held-back events, the detectors' view of it); the
        versions it makes keep the time of the state it lands on, so the events that follow it
        are judged by their own times, not by the one it claimed."""
        out: list[tuple[NormalisedEvent, EventContext]] = []
        for ev, ctx in custody:
            if ev.event_time > not_after:
                self._undated.add(ctx.event_hash)
                named = sorted(named_identifiers([ev])) or [q.class_id for q in ev.quantities]
                self.anomaly(
                    ctx,
                    EVENT_TIME,
                    named[0] if named else "",
                    f"{ev.biz_step or ev.type} dated {_iso(ev.event_time)}, later than its "
                    f"anchoring block allows ({_iso(not_after)}): taken at that bound",
                )
                ev = replace(ev, event_time=not_after)
            out.append((ev, ctx))
        return out

    def apply(self, ev: NormalisedEvent, ctx: EventContext) -> None:
        """Record ``ev``: :func:`~medledger.custody.transition.transition` in ``RECORD`` mode
        (``SETTLE`` when settling), with this projector as its recording; its findings become
        anomalies or held-back events (:data:`~medledger.custody.transition.RECORD_AS`)."""
        self._ctx, self._event_time = ctx, ev.event_time
        mode: Literal[Mode.RECORD, Mode.SETTLE] = _SETTLE if self._force else _RECORD
        findings = transition(self, ev, ctx.submitter, mode=mode, bounds=self._bounds).findings
        for finding in findings:
            self._record(ev, ctx, finding)

    def _record(self, ev: NormalisedEvent, ctx: EventContext, finding: Finding) -> None:
        disposition = finding.disposition
        if disposition is Disposition.HOLD:
            assert finding.identifier is not None
            self._hold(ev, ctx, finding.identifier, RECORD_AS[finding.rule])
        elif disposition is Disposition.SKIP_ALERT or disposition is Disposition.ALERT:
            self.anomaly(
                ctx,
                RECORD_AS[finding.rule],
                finding.identifier or "",
                finding.message,
                finding.prior,
            )

    # --- the recording (medledger.custody.transition.Recording) ----------------------------

    def children(self, parent: str) -> Sequence[str]:
        return self._kids.get(parent, ())

    def address_by_gln(self, gln: str) -> str | None:
        return self.reader.participant_by_gln(gln)

    def regulator(self, address: str) -> bool:
        return bool(Role.REGULATOR & self.reader.roles(address))

    def update(self, state: ItemState, **changes: Any) -> None:
        ctx = self._ctx
        values = list(state)
        for name, value in changes.items():
            values[_FIELD_INDEX[name]] = value
        # never back in time: an event dated before the version it is applied on (the
        # transition's ``older``) takes that version's time, so the next event is judged
        # against the latest; one dated beyond its block (bound_times) does not move it forward
        if ctx.event_hash not in self._undated:
            values[_EVENT_TIME] = max(self._event_time, state.event_time)
        values[_EVENT_HASH] = ctx.event_hash
        values[_SEQ] = ctx.seq
        self.put(ItemState._make(values))

    def create(
        self, identifier: str, holder: str, location: str | None, gtin: str | None, lot: str | None
    ) -> None:
        ctx = self._ctx
        self.put(
            ItemState(
                identifier,
                _ACTIVE,
                holder,
                location,
                None,
                gtin,
                lot,
                None,
                self._event_time,
                ctx.event_hash,
                ctx.seq,
            )
        )

    def new_lot(self, gtin: str, lot: str, expiry: date | None) -> None:
        if (gtin, lot) in self._lots_seen:
            return
        self._lots_seen.add((gtin, lot))
        self.out.lots.append(LotFacts(gtin, lot, expiry, self._ctx.submitter, self._ctx.seq))

    def _hold(self, ev: NormalisedEvent, ctx: EventContext, identifier: str, reason: str) -> None:
        key = (ctx.event_hash, identifier)
        if self._retrying is not None and self._retrying.held.key == key:
            self._held_again = True  # stays pending as stored
            return
        if key in self._pending or key in self._new_held:
            return
        # a packing's child re-tried with its parent keeps the packing's own sequence number
        seq = ctx.seq if self._retrying is None else self._retrying.held.seq
        self._new_held.add(key)
        self.out.held.append(Held(ctx.event_hash, identifier, reason, seq, ev.event_time))

    # --- held-back events ------------------------------------------------------------------

    def retry(self, slots: SeqSlots) -> None:
        """Try again every stored held-back event of an item this pass changed, oldest
        (eventTime) first, until none more fits."""
        tried: dict[tuple[bytes, str], int] = {}
        while True:
            ready = sorted(
                (
                    p
                    for key, p in self._pending.items()
                    if self._changes.get(key[1], 0) > tried.get(key, 0)
                ),
                key=self._retry_order,
            )
            if not ready:
                return
            for p in ready:
                tried[p.held.key] = self._changes.get(p.held.identifier, 0)
                if not self._replay(p, slots, force=False):
                    return  # the slot is full: the rest waits for a later pass
                if p.held.key not in self._pending:
                    break  # something changed: look again, oldest first

    def _retry_order(self, p: PendingEvent) -> tuple[bool, datetime, int, str]:
        """Events not older than the item's current version first, oldest first; then the
        older ones (each fits, if at all, only on top of what the others made). One event
        held for several items is tried item by item, by identifier: never in the order the
        store returned them (each try takes the next sequence number)."""
        state = self._items.get(p.held.identifier)
        older = state is not None and p.held.event_time < state.event_time
        return (older, p.held.event_time, p.held.seq, p.held.identifier)

    def settle(self, due: Sequence[PendingEvent], slots: SeqSlots) -> None:
        """Judge held-back events whose settle window has passed: apply each as it stands
        (oldest first); what does not fit is left for the detectors to report."""
        for p in sorted(due, key=lambda p: (p.held.event_time, p.held.seq, p.held.identifier)):
            if p.held.key not in self._pending:
                continue  # re-tried and applied in this pass
            if not self._replay(p, slots, force=True):
                return

    def _replay(self, p: PendingEvent, slots: SeqSlots, *, force: bool) -> bool:
        seq = slots.take()
        if seq is None:
            return False
        ctx = EventContext(p.held.event_hash, seq, p.submitter)
        ev = restricted(p.event, p.held.identifier)
        if ev.event_time > p.held.event_time:  # held at the bound of its block (bound_times)
            ev = replace(ev, event_time=p.held.event_time)
            self._undated.add(p.held.event_hash)
        self._retrying, self._held_again, self._force = p, False, force
        changes = sum(self._changes.values())
        try:
            self.apply(ev, ctx)
        finally:
            self._retrying, self._force = None, False
        if self._held_again:
            return True  # still does not fit: stays pending
        del self._pending[p.held.key]
        applied = sum(self._changes.values()) > changes
        outcome = "settled" if force else "applied" if applied else "history"
        self.out.resolved.append((p.held.key, outcome))
        self.out.replayed.append((ev, ctx))
        return True


def restricted(ev: NormalisedEvent, identifier: str) -> NormalisedEvent:
    """``ev`` acting on ``identifier`` alone (and, for the parent of a packing, its
    children), with no quantities and no outputs: how a held-back event is re-applied."""
    if ev.parent_id == identifier:
        kept_children = ev.child_epcs
    else:
        kept_children = tuple(c for c in ev.child_epcs if c == identifier)
    return replace(
        ev,
        epcs=tuple(e for e in ev.epcs if e == identifier),
        child_epcs=kept_children,
        input_epcs=tuple(e for e in ev.input_epcs if e == identifier),
        output_epcs=(),
        quantities=(),
        input_quantities=(),
        output_quantities=(),
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event_party(parties: Sequence[Party]) -> str | None:
    """The owning party of a source or destination list (the one custody follows)."""
    return owning_party(parties)
