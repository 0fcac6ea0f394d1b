"""Custody as one transition function: what one event does to the custody of what it names.

:func:`transition` takes an event, who submitted it and a view of the current custody, and in
one of three modes applies the event's changes to that view and says what does not fit
(:class:`Finding`):

- ``ENFORCE`` (the gateway, :func:`enforce`): the ``pharma`` rules. The first finding refuses
  the event, and with it the whole document (a 422 with the finding's message, JSON pointer
  and rule id); the view is an overlay the caller throws away then.
- ``RECORD`` (the indexer's projection): what the chain proves happened is never refused. An
  event acting on a code never commissioned, or on an item held or in transit elsewhere
  (:func:`custody_clash`), is held back (``HOLD``) until the item changes; one acting on an
  ended item, or commissioning a code a second time, changes nothing and is reported
  (``SKIP_ALERT``); one older than the item's current state is applied on top of it (reported
  beyond the ``time.backdated`` tolerance: ``ALERT``) or, if it does not fit there, kept as
  history (``HISTORY``). :data:`RECORD_AS` names the alert or hold of each rule.
- ``SETTLE``: ``RECORD`` once the settle window of a held-back event has passed: it is applied
  as it stands (an unknown code is reported), and the detectors judge it.

The two sides see custody differently, and the differences are kept, deliberately: the gateway
checks roles, locations, parties, quantities and recalls before anything is stored, the
indexer records what the chain proves. docs/design/domain-redesign-plan.md §2 lists them (the
regulator, receipts, endings, unknown parties, owning-party fallback, late packing ...); the
tests in ``tests/medledger/custody/test_transition.py`` and ``tests/indexer/test_projection.py``
pin each one.

Both sides hold one :class:`~medledger.custody.state.ItemState`; their views differ: the
gateway's is a :class:`~medledger.custody.overlay.InMemoryCustody` over its store and its actor
a :class:`~medledger.custody.state.Participant` (roles, GLN, company prefixes); the indexer's is
its :class:`Recording` (the projection, which numbers and stamps every version it is given) and
its actor an address. In ``ENFORCE`` the changes applied are also returned
(:attr:`Transition.changes`); in ``RECORD`` and ``SETTLE`` the recording keeps them (it reads
thousands of versions per batch: a second list would only cost).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Protocol, overload

from medledger.custody.operations import ALLOWED, Operation, allowed, operation_of, role_names
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.state import (
    TERMINAL,
    CommissionIntoLot,
    CustodyView,
    ItemState,
    ItemStatus,
    MoveQuantity,
    Participant,
    StateChange,
)
from medledger.custody.timebounds import (
    DEFAULT_TIME_BOUNDS,
    TimeBounds,
    named_items,
    require_not_behind,
)
from medledger.custody.violations import RuleViolation
from medledger.epcis.digital_link import gln_of, gtin_of, is_serial, lot_of_class
from medledger.epcis.normalise import NormalisedEvent, Party, Quantity
from medledger.roles import Role


class Mode(Enum):
    ENFORCE = "enforce"
    RECORD = "record"
    SETTLE = "settle"  # RECORD for a held-back event whose settle window has passed


class Disposition(Enum):
    """What becomes of an event's effect on an item that does not fit."""

    REFUSE = "refuse"  # ENFORCE: the document is refused
    HOLD = "hold"  # held back, tried again when the item changes
    SKIP_ALERT = "skip-alert"  # changes nothing, reported
    ALERT = "alert"  # applied, and reported
    HISTORY = "history"  # changes nothing, not reported: kept in the item's history


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an event does that custody says it should not.

    ``rule``: a rule id (:data:`~medledger.custody.violations.RULES`, or ``custody.clash``,
    the indexer's looser test of custody); ``identifier``: the item (None where the rule is
    about the event); ``message``: the refusal (``event <i>: ... [rule]``) or the alert's text;
    ``prior``: the event that made the state the event clashed with (an alert's evidence).
    """

    rule: str
    identifier: str | None
    pointer: str
    message: str
    disposition: Disposition
    prior: bytes | None = None
    event_index: int | None = None

    def violation(self) -> RuleViolation:
        """The refusal, as the gateway answers it (422: message, pointer, rule id)."""
        return RuleViolation(
            self.message, rule=self.rule, pointer=self.pointer, event_index=self.event_index
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """What an event changed (``ENFORCE``: the changes applied) and what did not fit."""

    changes: tuple[StateChange, ...]
    findings: tuple[Finding, ...]

    @property
    def refusal(self) -> Finding | None:
        """The finding that refuses the event (``ENFORCE``), if any."""
        for finding in self.findings:
            if finding.disposition is Disposition.REFUSE:
                return finding
        return None


_NOTHING = Transition((), ())

#: The rule the indexer's :func:`custody_clash` breaks (no gateway rule: the gateway's
#: ``custody.not-held`` and ``custody.not-shipped-to-submitter`` ask more).
CLASH = "custody.clash"

#: What the indexer records a finding as: the alert kind of a reported one (``SKIP_ALERT``,
#: ``ALERT``), the reason of a held-back one (``HOLD``).
RECORD_AS: dict[str, str] = {
    "custody.not-commissioned": "unknown-code",
    "custody.terminal": "after-end",
    "commission.duplicate": "recommissioned",
    "time.backdated": "event-time",
    CLASH: "clone",
}

ENDINGS = {
    Operation.DISPENSE: ItemStatus.DISPENSED,
    Operation.DECOMMISSION: ItemStatus.DECOMMISSIONED,
    Operation.DESTROY: ItemStatus.DESTROYED,
}
_TERMINAL_TEXT = frozenset(s.value for s in TERMINAL)
#: operations :func:`custody_clash` does not judge (they begin a life)
NOT_JUDGED = frozenset({Operation.COMMISSION_SERIAL, Operation.COMMISSION_LOT, Operation.TRANSFORM})


# Enum members read as module constants in the indexer's hot path (an enum attribute costs
# about 0.2 µs a read on Python 3.11; the projection records ~100,000 events per batch run).
_ENFORCE, _SETTLE = Mode.ENFORCE, Mode.SETTLE
_RECEIVE, _OBSERVE = Operation.RECEIVE, Operation.OBSERVE
_ACTIVE, _IN_TRANSIT = ItemStatus.ACTIVE.value, ItemStatus.IN_TRANSIT.value
_DECOMMISSIONED = ItemStatus.DECOMMISSIONED.value
_REGULATOR = int(Role.REGULATOR)
_ENDED = {operation: status.value for operation, status in ENDINGS.items()}


def recorded_operation(ev: NormalisedEvent) -> Operation | None:
    """The operation the indexer records ``ev`` as: the gateway's (:func:`operation_of`),
    and an ObjectEvent ADD with any other bizStep is a commissioning (it begins to exist)."""
    found = operation_of(ev.type, ev.action, ev.biz_step)
    if found is None and ev.type == "ObjectEvent" and ev.action == "ADD":
        return Operation.COMMISSION_SERIAL
    return found


def owning_party(parties: Sequence[Party]) -> str | None:
    """The party custody follows in a source or destination list, as the indexer reads it:
    the owning_party, else the first one named (the gateway requires an owning_party)."""
    for party in parties:
        if party.type == "owning_party":
            return party.id
    return parties[0].id if parties else None


def custody_clash(operation: Operation, state: ItemState, actor: str, source: str | None) -> bool:
    """Whether ``actor`` acting on an item in ``state`` clashes with its custody (the item is
    somewhere else): the rule the indexer holds back on and reports as ``clone``.

    - a receipt, unless the item is held by the receiver or by the source the receipt names
      (a shipment not indexed yet), or is in transit to the receiver (or to no one known);
    - anything else (shipping, packing, dispensing, observing...), if the item is ``active``
      (in stock) with someone else, or in transit between two others.

    Commissioning and transformation are not judged, nor are ended items (``after-end``).
    """
    if operation in NOT_JUDGED or state.status in _TERMINAL_TEXT:
        return False
    if operation is _RECEIVE:
        return state.holder not in (actor, source) and (
            state.status == "active" or state.in_transit_to not in (None, actor)
        )
    if state.status == "in_transit":
        return actor not in (state.holder, state.in_transit_to)
    return state.status == "active" and state.holder != actor


# --- the transition function --------------------------------------------------------------------


@overload
def transition(
    view: InMemoryCustody,
    event: NormalisedEvent,
    actor: Participant,
    *,
    mode: Literal[Mode.ENFORCE],
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Transition: ...


@overload
def transition(
    view: Recording,
    event: NormalisedEvent,
    actor: str,
    *,
    mode: Literal[Mode.RECORD, Mode.SETTLE],
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Transition: ...


def transition(
    view: Any,
    event: NormalisedEvent,
    actor: Any,
    *,
    mode: Mode,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Transition:
    """Apply ``event``, submitted by ``actor``, to ``view`` in ``mode`` (see the module
    docstring); ``bounds.behind``: how much older than an item's current state an event may
    be (``time.backdated``; ``bounds.ahead`` is the gateway's, checked before the rules)."""
    if mode is _ENFORCE:
        return _Enforcer(actor, view, bounds).event(event)
    return _Recorder(view, event, actor, mode is _SETTLE, bounds.behind).run()


def enforce(
    events: Sequence[NormalisedEvent],
    submitter: Participant,
    view: CustodyView,
    *,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> list[StateChange]:
    """Check ``events`` (one document, in order) submitted by ``submitter`` against ``view``:
    :func:`transition` in ``ENFORCE`` mode over an overlay of ``view``, so event 5 sees the
    effects of events 0..4.

    Returns the net state changes of the whole document (one ``PutItem`` per item touched, net
    ``MoveQuantity`` per class, holder and destination). Raises
    :class:`~medledger.custody.violations.RuleViolation` at the first event that breaks a rule.
    """
    if not submitter.active:
        raise RuleViolation(
            f"participant {submitter.address} is suspended and may not submit events",
            rule="participant.suspended",
            pointer="/",
        )
    overlay = InMemoryCustody(base=view)
    for event in events:
        refusal = transition(overlay, event, submitter, mode=Mode.ENFORCE, bounds=bounds).refusal
        if refusal is not None:
            raise refusal.violation()
    return overlay.net_changes()


# --- RECORD and SETTLE: the indexer's projection ------------------------------------------------


class Recording(Protocol):
    """The indexer's side of :func:`transition`: the state it reads and the changes it keeps,
    each stamped with the event being recorded (its hash, sequence number and time)."""

    def item(self, identifier: str) -> ItemState | None: ...

    def contents(self, identifier: str) -> list[str]:
        """Everything inside ``identifier``, depth first."""
        ...

    def children(self, parent: str) -> Sequence[str]:
        """What is packed in ``parent`` directly (as far as known)."""
        ...

    def address_by_gln(self, gln: str) -> str | None: ...

    def regulator(self, address: str) -> bool: ...

    def update(self, state: ItemState, **changes: Any) -> None:
        """Put a new version of ``state`` with ``changes``."""
        ...

    def create(
        self, identifier: str, holder: str, location: str | None, gtin: str | None, lot: str | None
    ) -> None:
        """Put the first version of a commissioned ``identifier`` (active, with ``holder``)."""
        ...

    def move(self, key: tuple[str, str, str], delta: Decimal, uom: str | None) -> None:
        """Change the quantity of (class id, holder, in transit to or "")."""
        ...

    def new_lot(self, gtin: str, lot: str, expiry: date | None) -> None: ...


class _Recorder:
    """One event recorded (``RECORD`` or ``SETTLE``): the indexer's custody decisions."""

    __slots__ = ("view", "ev", "actor", "force", "behind", "operation", "findings")

    def __init__(
        self, view: Recording, ev: NormalisedEvent, actor: str, force: bool, behind: timedelta
    ) -> None:
        self.view = view
        self.ev = ev
        self.actor = actor
        self.force = force
        self.behind = behind
        self.operation: Operation | None = None
        self.findings: list[Finding] | None = None

    def run(self) -> Transition:
        ev = self.ev
        operation = self.operation = recorded_operation(ev)
        if operation is None:
            return _NOTHING
        _RECORDED[operation](self)
        if self.findings is None:
            return _NOTHING
        return Transition((), tuple(self.findings))

    def found(
        self,
        rule: str,
        identifier: str,
        message: str,
        disposition: Disposition,
        prior: bytes | None = None,
    ) -> None:
        finding = Finding(rule, identifier, "", message, disposition, prior, self.ev.index)
        if self.findings is None:
            self.findings = [finding]
        else:
            self.findings.append(finding)

    # --- the decisions ---------------------------------------------------------------------

    def current(self, identifier: str) -> ItemState | None:
        """The item the event acts on, if it may change it; holds back or reports what does
        not fit (see the module docstring)."""
        ev = self.ev
        state = self.view.item(identifier)
        if state is None:
            self.found(
                "custody.not-commissioned",
                identifier,
                f"{ev.biz_step or ev.type} of {identifier}, which was never commissioned",
                Disposition.SKIP_ALERT if self.force else Disposition.HOLD,
            )
            return None
        if state.status in _TERMINAL_TEXT:
            self.found(
                "custody.terminal",
                identifier,
                f"{ev.biz_step or ev.type} of {identifier} after it was {state.status}",
                Disposition.SKIP_ALERT,
                state.event_hash,
            )
            return None
        if ev.event_time < state.event_time:
            return self.older(state)
        if not self.force and self.clashes(state):
            self.found(CLASH, identifier, "", Disposition.HOLD)
            return None
        return state

    def older(self, state: ItemState) -> ItemState | None:
        """An event older than the item's current version: history if it does not fit on
        top of it (captured before it, anchored after it); else dated back, applied on top
        (the recording keeps the current version's time) and, beyond ``behind``, reported."""
        ev = self.ev
        operation = self.operation
        if self.clashes(state) or operation is _OBSERVE or operation in NOT_JUDGED:
            self.found("time.backdated", state.identifier, "", Disposition.HISTORY)
            return None  # history only (or changes nothing, or begins a life)
        if state.event_time - ev.event_time > self.behind:
            self.found(
                "time.backdated",
                state.identifier,
                f"{ev.biz_step or ev.type} of {state.identifier} dated {_iso(ev.event_time)}, "
                f"earlier than its current state ({_iso(state.event_time)}) by more than "
                f"{self.behind.total_seconds():g} s: applied on top of it",
                Disposition.ALERT,
                state.event_hash,
            )
        return state

    def clashes(self, state: ItemState) -> bool:
        operation = self.operation
        if operation is None:
            return False
        source = None
        ev = self.ev
        if operation is _RECEIVE and ev.sources:
            gln = gln_of(owning_party(ev.sources))
            source = self.view.address_by_gln(gln) if gln else None
        if not custody_clash(operation, state, self.actor, source):
            return False
        return not self.view.regulator(self.actor)  # seizure, inspection

    # --- the operations --------------------------------------------------------------------

    def observe(self) -> None:
        for epc in self.ev.epcs:  # changes nothing, but may not fit custody
            self.current(epc)

    def commission_serial(self) -> None:
        ev = self.ev
        self.commission(ev.epcs, ev.quantities, ev.biz_location or ev.read_point)

    def commission(
        self, epcs: Sequence[str], quantities: Sequence[Quantity], where: str | None
    ) -> None:
        view, ev, actor = self.view, self.ev, self.actor
        for epc in epcs:
            existing = view.item(epc)
            if existing is not None:
                self.found(
                    "commission.duplicate",
                    epc,
                    f"{epc} commissioned again (first by {existing.holder})",
                    Disposition.SKIP_ALERT,
                    existing.event_hash,
                )
                continue
            gtin = gtin_of(epc)
            view.create(epc, actor, where, gtin, ev.lot)
            if gtin and ev.lot:
                view.new_lot(gtin, ev.lot, ev.expiry)
        for q in quantities:
            if q.quantity is not None:
                view.move((q.class_id, actor, ""), q.quantity, q.uom)
            lot = lot_of_class(q.class_id)
            if lot:
                view.new_lot(lot[0], lot[1], ev.expiry)

    def transform(self) -> None:
        view, ev = self.view, self.ev
        where = ev.biz_location or ev.read_point
        for q in ev.input_quantities:
            if q.quantity is not None:
                view.move((q.class_id, self.actor, ""), -q.quantity, q.uom)
        for epc in ev.input_epcs:
            state = self.current(epc)
            if state is not None:
                view.update(state, status=_DECOMMISSIONED, parent=None)
        self.commission(ev.output_epcs, ev.output_quantities, where)

    def pack(self) -> None:
        view, ev = self.view, self.ev
        if ev.parent_id is None:
            return
        parent = view.item(ev.parent_id)
        # A packing recorded after the parent moved on (a receipt of the case anchored before
        # the packer's batch): the children still went into it, and are where it is now.
        late = (
            parent is not None
            and parent.status not in _TERMINAL_TEXT
            and ev.event_time < parent.event_time
        )
        if not late and self.current(ev.parent_id) is None:
            return
        for child in ev.child_epcs:
            state = self.current(child)
            if state is None:
                continue
            if late and parent is not None:
                view.update(
                    state,
                    parent=ev.parent_id,
                    status=parent.status,
                    holder=parent.holder,
                    location=parent.location,
                    in_transit_to=parent.in_transit_to,
                )
            else:
                view.update(state, parent=ev.parent_id)

    def unpack(self) -> None:
        view, ev = self.view, self.ev
        if ev.parent_id is None:
            return
        listed = ev.child_epcs or tuple(view.children(ev.parent_id))
        for child in listed:
            state = self.current(child)
            if state is not None and state.parent == ev.parent_id:
                view.update(state, parent=None)

    def with_contents(self, epc: str) -> list[ItemState]:
        """The item and what is inside it, but what inside it has ended."""
        top = self.current(epc)
        if top is None:
            return []
        out = [top]
        view = self.view
        for inner in view.contents(epc):
            state = view.item(inner)
            if state is not None and state.status not in _TERMINAL_TEXT:
                out.append(state)
        return out

    def ship(self) -> None:
        view, ev, actor = self.view, self.ev, self.actor
        gln = gln_of(owning_party(ev.destinations))
        to = view.address_by_gln(gln) if gln else None  # unknown: in transit to no one
        for epc in ev.epcs:
            for state in self.with_contents(epc):
                view.update(state, status=_IN_TRANSIT, in_transit_to=to)
        for q in ev.quantities:
            if q.quantity is not None:
                view.move((q.class_id, actor, ""), -q.quantity, q.uom)
                view.move((q.class_id, actor, to or ""), q.quantity, q.uom)

    def receive(self) -> None:
        view, ev, actor = self.view, self.ev, self.actor
        where = ev.biz_location or ev.read_point
        for epc in ev.epcs:
            for state in self.with_contents(epc):
                view.update(
                    state,
                    status=_ACTIVE,
                    holder=actor,
                    location=where,
                    in_transit_to=None,
                )
        if not ev.quantities:
            return
        gln = gln_of(owning_party(ev.sources))
        sender = view.address_by_gln(gln) if gln else None
        for q in ev.quantities:
            if q.quantity is None:
                continue
            if sender is not None:  # unknown: credited, nothing debited
                view.move((q.class_id, sender, actor), -q.quantity, q.uom)
            view.move((q.class_id, actor, ""), q.quantity, q.uom)

    def end(self) -> None:
        """Dispensed, decommissioned or destroyed: by whoever did it, where it was done (a
        pharmacy dispensing a pack whose receipt is not recorded yet still had it)."""
        view, ev, actor = self.view, self.ev, self.actor
        assert self.operation is not None
        status = _ENDED[self.operation]
        where = ev.biz_location or ev.read_point
        for epc in ev.epcs:
            for state in self.with_contents(epc):
                parent = None if state.identifier == epc else state.parent
                view.update(
                    state,
                    status=status,
                    parent=parent,
                    in_transit_to=None,
                    holder=actor,
                    location=where or state.location,
                )
        for q in ev.quantities:
            if q.quantity is not None:
                view.move((q.class_id, actor, ""), -q.quantity, q.uom)


_RECORDED: dict[Operation, Callable[[_Recorder], None]] = {
    Operation.COMMISSION_SERIAL: _Recorder.commission_serial,
    Operation.TRANSFORM: _Recorder.transform,
    Operation.PACK: _Recorder.pack,
    Operation.UNPACK: _Recorder.unpack,
    Operation.SHIP: _Recorder.ship,
    Operation.RECEIVE: _Recorder.receive,
    Operation.DISPENSE: _Recorder.end,
    Operation.DECOMMISSION: _Recorder.end,
    Operation.DESTROY: _Recorder.end,
    Operation.OBSERVE: _Recorder.observe,
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- ENFORCE: the gateway's pharma rules --------------------------------------------------------


class _Enforcer:
    """One event under the ``pharma`` rules, over an overlay it applies the changes to."""

    def __init__(
        self,
        submitter: Participant,
        overlay: InMemoryCustody,
        bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
    ) -> None:
        self.bounds = bounds
        self.me = submitter.address
        self.submitter = submitter
        self.regulator = bool(submitter.roles & _REGULATOR)
        self.v = overlay

    # --- per event -------------------------------------------------------------------------------

    def event(self, ev: NormalisedEvent) -> Transition:
        journal: list[StateChange] = []
        self.v.journal = journal
        try:
            self.check(ev)
        except RuleViolation as refused:
            finding = Finding(
                refused.rule or "",
                None,
                refused.pointer or "",
                str(refused),
                Disposition.REFUSE,
                event_index=refused.event_index,
            )
            return Transition(tuple(journal), (finding,))
        finally:
            self.v.journal = None
        return Transition(tuple(journal), ())

    def check(self, ev: NormalisedEvent) -> None:
        op = operation_of(ev.type, ev.action, ev.biz_step)
        if op is None:
            raise _violation(
                ev,
                "event.unsupported",
                ev.pointer("bizStep" if ev.biz_step is None else "type"),
                f"the pharma rules accept no {ev.type} with action {ev.action} and bizStep "
                f"{ev.biz_step!r}",
            )
        if op is not Operation.COMMISSION_SERIAL:  # commissioning: checked per identifier kind
            self.require_role(ev, op)
        self.require_own_location(ev)
        self.require_in_time(ev)
        _HANDLERS[op](self, ev, op)

    def require_in_time(self, ev: NormalisedEvent) -> None:
        """Not older than the current state of the items it names (``time.backdated``); what
        the event puts carries its time (``ItemState.event_time``)."""
        require_not_behind(ev, map(self.v.item, named_items(ev)), self.bounds.behind)
        self.v.event_time = ev.event_time

    def require_role(self, ev: NormalisedEvent, op: Operation) -> None:
        if allowed(self.submitter.roles, op):
            return
        mine = role_names(self.submitter.roles)
        raise _violation(
            ev,
            "role.not-allowed",
            ev.pointer("bizStep" if ev.biz_step is not None else "type"),
            f"a participant with role {mine} may not {op.value} (allowed: "
            f"{role_names(ALLOWED[op])})",
        )

    def require_own_location(self, ev: NormalisedEvent) -> None:
        if self.regulator:
            return  # inspections and seizures happen on other participants' premises
        if ev.read_point is None:
            raise _violation(
                ev,
                "location.missing",
                ev.pointer("readPoint"),
                "the event must name its readPoint (a GLN of the submitter)",
            )
        for field, uri in (("readPoint", ev.read_point), ("bizLocation", ev.biz_location)):
            if uri is not None and gln_of(uri) != self.submitter.gln:
                raise _violation(
                    ev,
                    "location.not-own",
                    ev.pointer(field, "id"),
                    f"{field} {uri} is not a location of the submitter (GLN {self.submitter.gln})",
                )

    def require_own_party(self, ev: NormalisedEvent, field: str, parties: Sequence[Party]) -> None:
        if self.regulator:
            return
        key = "source" if field == "sourceList" else "destination"
        for k, party in _owning_parties(parties):
            if gln_of(party) != self.submitter.gln:
                raise _violation(
                    ev,
                    "party.not-own",
                    ev.pointer(field, k, key),
                    f"owning_party {key} {party} is not the submitter (GLN {self.submitter.gln})",
                )

    # --- operations ------------------------------------------------------------------------------

    def commission(self, ev: NormalisedEvent, _op: Operation) -> None:
        where = ev.biz_location or ev.read_point
        if ev.quantities:
            self.require_role(ev, Operation.COMMISSION_LOT)
            for j, q in enumerate(ev.quantities):
                self.new_lot(ev, q, ev.pointer(ev.quantity_field, j), where)
        if ev.epcs:
            self.require_role(ev, Operation.COMMISSION_SERIAL)
            for j, epc in enumerate(ev.epcs):
                self.new_serial(ev, epc, ev.pointer(ev.epc_field, j), where)

    def transform(self, ev: NormalisedEvent, _op: Operation) -> None:
        for j, q in enumerate(ev.input_quantities):
            ptr = ev.pointer("inputQuantityList", j)
            amount = _amount(ev, q, ptr)
            self.require_lot_movable(ev, q.class_id, ptr)
            held = self.v.quantity_held(q.class_id, self.me)
            if held < amount:
                raise _violation(
                    ev,
                    "transformation.over-consumed",
                    ptr,
                    f"consumes {amount} {q.uom or ''} of {q.class_id} but the submitter holds "
                    f"{held}",
                )
            self.v.move(MoveQuantity(q.class_id, self.me, -amount, q.uom or ""))
        for j, epc in enumerate(ev.input_epcs):
            ptr = ev.pointer("inputEPCList", j)
            item = self.require_held(ev, epc, ptr)
            # consumed by the transformation: it ends here
            self.v.put(item._replace(status=ItemStatus.DECOMMISSIONED, parent=None))
        where = ev.biz_location or ev.read_point
        for j, epc in enumerate(ev.output_epcs):
            self.new_serial(ev, epc, ev.pointer("outputEPCList", j), where)
        for j, q in enumerate(ev.output_quantities):
            self.new_lot(ev, q, ev.pointer("outputQuantityList", j), where)

    def pack(self, ev: NormalisedEvent, _op: Operation) -> None:
        parent_id = self.require_parent(ev)
        parent = self.require_held(ev, parent_id, ev.pointer("parentID"), allow_packed=True)
        self.no_quantities(ev)
        ancestors = set(self.ancestors(parent))
        for j, child_id in enumerate(ev.child_epcs):
            ptr = ev.pointer("childEPCs", j)
            if child_id == parent_id or child_id in ancestors:
                raise _violation(
                    ev,
                    "aggregation.cycle",
                    ptr,
                    f"{child_id} cannot be packed inside {parent_id}, which it contains",
                )
            child = self.require_item(ev, child_id, ptr)
            if child.parent is not None and child.parent != parent_id:
                raise _violation(
                    ev,
                    "aggregation.already-packed",
                    ptr,
                    f"{child_id} is already packed in {child.parent}",
                )
            self.require_held(ev, child_id, ptr, child, allow_packed=True)
            self.v.put(child._replace(parent=parent_id))

    def unpack(self, ev: NormalisedEvent, _op: Operation) -> None:
        parent_id = self.require_parent(ev)
        self.require_held(ev, parent_id, ev.pointer("parentID"), allow_packed=True)
        self.no_quantities(ev)
        listed = ev.child_epcs or tuple(self.v.children(parent_id))  # none listed: all of them
        for j, child_id in enumerate(listed):
            ptr = ev.pointer("childEPCs", j) if ev.child_epcs else ev.pointer("parentID")
            child = self.require_item(ev, child_id, ptr)
            if child.parent != parent_id:
                raise _violation(
                    ev, "aggregation.not-a-child", ptr, f"{child_id} is not packed in {parent_id}"
                )
            self.v.put(child._replace(parent=None))

    def ship(self, ev: NormalisedEvent, _op: Operation) -> None:
        self.require_own_party(ev, "sourceList", ev.sources)
        to = self.resolve_party(ev, "destinationList", "shipping.destination-unknown").address
        for j, epc in enumerate(ev.epcs):
            ptr = ev.pointer(ev.epc_field, j)
            item = self.require_held(ev, epc, ptr, recall_checked=True)
            for state in self.with_contents(ev, item, ptr):
                self.v.put(state._replace(status=ItemStatus.IN_TRANSIT, in_transit_to=to))
        for j, q in enumerate(ev.quantities):
            ptr = ev.pointer(ev.quantity_field, j)
            amount = _amount(ev, q, ptr)
            self.require_lot_movable(ev, q.class_id, ptr)
            held = self.v.quantity_held(q.class_id, self.me)
            if held < amount:
                raise _violation(
                    ev,
                    "custody.not-held",
                    ptr,
                    f"ships {amount} {q.uom or ''} of {q.class_id} but the submitter holds {held}",
                )
            uom = q.uom or ""
            self.v.move(MoveQuantity(q.class_id, self.me, -amount, uom))
            self.v.move(MoveQuantity(q.class_id, self.me, amount, uom, in_transit_to=to))

    def receive(self, ev: NormalisedEvent, _op: Operation) -> None:
        self.require_own_party(ev, "destinationList", ev.destinations)
        where = ev.biz_location or ev.read_point
        for j, epc in enumerate(ev.epcs):
            ptr = ev.pointer(ev.epc_field, j)
            item = self.require_item(ev, epc, ptr)
            self.require_not_terminal(ev, item, ptr)
            if item.status is not ItemStatus.IN_TRANSIT or item.in_transit_to != self.me:
                raise _violation(
                    ev,
                    "custody.not-shipped-to-submitter",
                    ptr,
                    f"{epc} was not shipped to the submitter (status "
                    f"{item.status}, holder {item.holder})",
                )
            self.require_recall_free(ev, item, ptr)
            if item.parent is not None:
                raise _violation(
                    ev,
                    "aggregation.packed",
                    ptr,
                    f"{epc} is packed in {item.parent}: receive the parent",
                )
            for state in self.with_contents(ev, item, ptr):
                self.v.put(
                    state._replace(
                        status=ItemStatus.ACTIVE,
                        holder=self.me,
                        location=where,
                        in_transit_to=None,
                    )
                )
        if not ev.quantities:
            return
        sender = self.resolve_party(ev, "sourceList", "receiving.source-unknown").address
        for j, q in enumerate(ev.quantities):
            ptr = ev.pointer(ev.quantity_field, j)
            amount = _amount(ev, q, ptr)
            self.require_lot_movable(ev, q.class_id, ptr)
            coming = self.v.quantity_in_transit(q.class_id, sender, self.me)
            if coming < amount:
                raise _violation(
                    ev,
                    "custody.not-shipped-to-submitter",
                    ptr,
                    f"receives {amount} {q.uom or ''} of {q.class_id} but {coming} "
                    f"is in transit from {sender} to the submitter",
                )
            uom = q.uom or ""
            self.v.move(MoveQuantity(q.class_id, sender, -amount, uom, in_transit_to=self.me))
            self.v.move(MoveQuantity(q.class_id, self.me, amount, uom))

    def end(self, ev: NormalisedEvent, op: Operation) -> None:
        """Dispensing, decommissioning, destroying: the item and its contents end here."""
        status = ENDINGS[op]
        for j, epc in enumerate(ev.epcs):
            ptr = ev.pointer(ev.epc_field, j)
            if op is not Operation.DISPENSE and self.regulator:
                item = self.require_item(ev, epc, ptr)
                self.require_not_terminal(ev, item, ptr)  # the regulator may seize and destroy
            else:
                # destroying or decommissioning a recalled lot is how a recall ends
                check = op is Operation.DISPENSE
                item = self.require_held(ev, epc, ptr, allow_packed=True, recall_checked=check)
            for state in self.with_contents(ev, item, ptr, check_recall=False):
                parent = None if state is item else state.parent
                self.v.put(state._replace(status=status, parent=parent, in_transit_to=None))
        for j, q in enumerate(ev.quantities):
            ptr = ev.pointer(ev.quantity_field, j)
            amount = _amount(ev, q, ptr)
            if op is Operation.DISPENSE:
                self.require_lot_movable(ev, q.class_id, ptr)
            held = self.v.quantity_held(q.class_id, self.me)
            if held < amount:
                raise _violation(
                    ev,
                    "custody.not-held",
                    ptr,
                    f"{op.value}s {amount} {q.uom or ''} of {q.class_id} but the "
                    f"submitter holds {held}",
                )
            self.v.move(MoveQuantity(q.class_id, self.me, -amount, q.uom or ""))

    def observe(self, ev: NormalisedEvent, _op: Operation) -> None:
        for j, epc in enumerate(ev.epcs):
            ptr = ev.pointer(ev.epc_field, j)
            if self.regulator:
                self.require_not_terminal(ev, self.require_item(ev, epc, ptr), ptr)
            else:
                self.require_held(ev, epc, ptr, allow_packed=True)

    # --- building blocks -------------------------------------------------------------------------

    def new_serial(self, ev: NormalisedEvent, epc: str, ptr: str, where: str | None) -> None:
        existing = self.v.item(epc)
        if existing is not None:
            raise _violation(
                ev,
                "commission.duplicate",
                ptr,
                f"{epc} was already commissioned (by "
                f"{existing.commissioned_by or existing.holder})",
            )
        serial = is_serial(epc)
        if serial and ev.lot is None:
            raise _violation(
                ev,
                "commission.lot-required",
                ev.pointer("ilmd"),
                f"commissioning pack {epc} needs its lot (ILMD cbvmda:lotNumber)",
            )
        gtin = gtin_of(epc)
        if gtin is not None:
            self.require_own_product(ev, gtin, ptr)
            if serial and ev.lot is not None:
                self.commission_into_lot(ev, gtin, ev.lot, ptr, packs=1)
        self.v.put(
            ItemState(
                identifier=epc,
                status=ItemStatus.ACTIVE,
                holder=self.me,
                location=where,
                parent=None,
                gtin=gtin_of(epc),
                lot=ev.lot if serial else None,
                commissioned_by=self.me,
            )
        )

    def new_lot(self, ev: NormalisedEvent, q: Quantity, ptr: str, where: str | None) -> None:
        """Class-level commissioning: a lot record (ItemState of the class id) and its quantity."""
        amount = _amount(ev, q, ptr)
        existing = self.v.item(q.class_id)
        if existing is not None:
            raise _violation(
                ev,
                "commission.duplicate",
                f"{ptr}/epcClass",
                f"lot {q.class_id} was already commissioned (by "
                f"{existing.commissioned_by or existing.holder})",
            )
        gtin_lot = lot_of_class(q.class_id)
        gtin = gtin_lot[0] if gtin_lot else gtin_of(q.class_id)
        if gtin is not None:
            self.require_own_product(ev, gtin, f"{ptr}/epcClass")
        if gtin_lot is not None:
            self.commission_into_lot(ev, *gtin_lot, f"{ptr}/epcClass", packs=0)
        self.v.put(
            ItemState(
                identifier=q.class_id,
                status=ItemStatus.ACTIVE,
                holder=self.me,
                location=where,
                parent=None,
                gtin=gtin_lot[0] if gtin_lot else gtin_of(q.class_id),
                lot=gtin_lot[1] if gtin_lot else None,
                commissioned_by=self.me,
            )
        )
        self.v.move(MoveQuantity(q.class_id, self.me, amount, q.uom or ""))

    # --- commissioning authority (docs/rules.md, docs/security.md) ----------------------------

    def require_own_product(self, ev: NormalisedEvent, gtin: str, ptr: str) -> None:
        """Only the products of the submitter's GS1 company prefixes are its to commission."""
        if self.submitter.owns_gtin(gtin):
            return
        prefixes = ", ".join(self.submitter.company_prefixes) or "none registered"
        raise _violation(
            ev,
            "commission.not-own-product",
            ptr,
            f"GTIN {gtin} is not under the submitter's GS1 company prefixes ({prefixes})",
        )

    def commission_into_lot(
        self, ev: NormalisedEvent, gtin: str, lot: str, ptr: str, *, packs: int
    ) -> None:
        """Into a lot the submitter declared, or one nobody declared or claimed yet (which is
        then its own), and never past the lot's declared packs."""
        found = self.v.lot_authority(gtin, lot)
        if found is not None and found.owner != self.me:
            how = "declared" if found.packs is not None else "first commissioned"
            raise _violation(
                ev,
                "commission.lot-not-own",
                ptr,
                f"lot {lot} of GTIN {gtin} was {how} by {found.owner}; only it commissions "
                "packs into it",
            )
        if found is not None and found.packs is not None:
            if found.commissioned + packs > found.packs:
                raise _violation(
                    ev,
                    "commission.over-declared",
                    ptr,
                    f"lot {lot} of GTIN {gtin} was declared for {found.packs} packs and "
                    f"{found.commissioned} are commissioned: no more fit",
                )
        declared = found is not None and found.packs is not None
        self.v.commission_into_lot(CommissionIntoLot(gtin, lot, self.me, packs, declared))

    def require_item(self, ev: NormalisedEvent, epc: str, ptr: str) -> ItemState:
        item = self.v.item(epc)
        if item is None:
            raise _violation(
                ev, "custody.not-commissioned", ptr, f"{epc} has not been commissioned"
            )
        return item

    def require_not_terminal(self, ev: NormalisedEvent, item: ItemState, ptr: str) -> None:
        if item.status in TERMINAL:
            raise _violation(
                ev,
                "custody.terminal",
                ptr,
                f"{item.identifier} was {item.status}; nothing may happen to it any more",
            )

    def require_recall_free(self, ev: NormalisedEvent, item: ItemState, ptr: str) -> None:
        if item.gtin is not None and item.lot is not None:
            if self.v.is_lot_recalled(item.gtin, item.lot):
                raise _violation(
                    ev,
                    "custody.recalled",
                    ptr,
                    f"{item.identifier} belongs to recalled lot {item.lot} of GTIN {item.gtin}",
                )

    def require_lot_movable(self, ev: NormalisedEvent, class_id: str, ptr: str) -> None:
        lot = self.v.item(class_id)
        if lot is None:
            raise _violation(
                ev,
                "custody.not-commissioned",
                f"{ptr}/epcClass",
                f"lot {class_id} has not been commissioned",
            )
        self.require_recall_free(ev, lot, f"{ptr}/epcClass")

    def require_held(
        self,
        ev: NormalisedEvent,
        epc: str,
        ptr: str,
        item: ItemState | None = None,
        *,
        allow_packed: bool = False,
        recall_checked: bool = True,
    ) -> ItemState:
        """``epc`` is commissioned, not ended, held (active) by the submitter, not recalled."""
        item = item or self.require_item(ev, epc, ptr)
        self.require_not_terminal(ev, item, ptr)
        if item.status is not ItemStatus.ACTIVE or item.holder != self.me:
            where = (
                f"in transit to {item.in_transit_to}"
                if item.status is ItemStatus.IN_TRANSIT
                else f"held by {item.holder}"
            )
            raise _violation(
                ev, "custody.not-held", ptr, f"{epc} is not held by the submitter ({where})"
            )
        if recall_checked:
            self.require_recall_free(ev, item, ptr)
        if item.parent is not None and not allow_packed:
            raise _violation(
                ev,
                "aggregation.packed",
                ptr,
                f"{epc} is packed in {item.parent}: move the parent, or unpack it first",
            )
        return item

    def require_parent(self, ev: NormalisedEvent) -> str:
        if ev.parent_id is None:
            raise _violation(
                ev, "event.unsupported", ev.pointer("parentID"), f"{ev.biz_step} needs a parentID"
            )
        return ev.parent_id

    def no_quantities(self, ev: NormalisedEvent) -> None:
        if ev.quantities:
            raise _violation(
                ev,
                "event.unsupported",
                ev.pointer(ev.quantity_field),
                "the pharma rules track aggregation of instances only, not of "
                "class-level quantities",
            )

    def ancestors(self, item: ItemState) -> Iterator[str]:
        parent = item.parent
        seen: set[str] = set()
        while parent is not None and parent not in seen:
            seen.add(parent)
            yield parent
            up = self.v.item(parent)
            parent = up.parent if up is not None else None

    def with_contents(
        self, ev: NormalisedEvent, item: ItemState, ptr: str, *, check_recall: bool = True
    ) -> Iterator[ItemState]:
        """``item`` and everything packed inside it, recursively (a case moves its packs)."""
        yield item
        stack = self.v.children(item.identifier)
        while stack:
            child = self.v.item(stack.pop())
            if child is None:
                continue
            if check_recall:
                self.require_recall_free(ev, child, ptr)
            yield child
            stack.extend(self.v.children(child.identifier))

    def resolve_party(self, ev: NormalisedEvent, field: str, rule: str) -> Participant:
        """The participant named by the owning_party source/destination of ``ev``."""
        parties = ev.sources if field == "sourceList" else ev.destinations
        key = "source" if field == "sourceList" else "destination"
        owning = list(_owning_parties(parties))
        if not owning:
            raise _violation(
                ev, rule, ev.pointer(field), f"the event must name the owning_party {key}"
            )
        k, party = owning[0]
        gln = gln_of(party)
        found = self.v.participant_by_gln(gln) if gln is not None else None
        if found is None or not found.active:
            state = "not a registered participant" if found is None else "suspended"
            raise _violation(
                ev, rule, ev.pointer(field, k, key), f"owning_party {key} {party} is {state}"
            )
        return found


_HANDLERS: dict[Operation, Callable[[_Enforcer, NormalisedEvent, Operation], None]] = {
    Operation.COMMISSION_SERIAL: _Enforcer.commission,
    Operation.TRANSFORM: _Enforcer.transform,
    Operation.PACK: _Enforcer.pack,
    Operation.UNPACK: _Enforcer.unpack,
    Operation.SHIP: _Enforcer.ship,
    Operation.RECEIVE: _Enforcer.receive,
    Operation.DISPENSE: _Enforcer.end,
    Operation.DECOMMISSION: _Enforcer.end,
    Operation.DESTROY: _Enforcer.end,
    Operation.OBSERVE: _Enforcer.observe,
}


def _owning_parties(parties: Sequence[Party]) -> Iterator[tuple[int, str]]:
    for k, party in enumerate(parties):
        if party.type == "owning_party":
            yield k, party.id


def _amount(ev: NormalisedEvent, q: Quantity, ptr: str) -> Decimal:
    if q.quantity is None or q.quantity <= 0:
        raise _violation(
            ev,
            "quantity.invalid",
            f"{ptr}/quantity",
            f"{q.class_id} needs a positive quantity, got {q.quantity}",
        )
    return q.quantity


def _violation(ev: NormalisedEvent, rule: str, pointer: str, message: str) -> RuleViolation:
    return RuleViolation(
        f"event {ev.index}: {message} [{rule}]", rule=rule, pointer=pointer, event_index=ev.index
    )
