"""``RECORD`` and ``SETTLE``: the indexer's side of the custody transition function
(:mod:`medledger.custody.transition`): what the chain proves happened is recorded, never
refused; what does not fit becomes a finding the projection holds back or reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from medledger.custody.operations import Operation
from medledger.custody.outcome import (
    _ACTIVE,
    _DECOMMISSIONED,
    _ENDED,
    _IN_TRANSIT,
    _NOTHING,
    _OBSERVE,
    _RECEIVE,
    _TERMINAL_TEXT,
    CLASH,
    NOT_JUDGED,
    Disposition,
    Finding,
    Transition,
    custody_clash,
    owning_party,
    recorded_operation,
)
from medledger.custody.state import (
    ItemState,
)
from medledger.epcis.digital_link import gln_of, gtin_of, lot_of_class
from medledger.epcis.normalise import NormalisedEvent, Quantity


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


class Recorder:
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


_RECORDED: dict[Operation, Callable[[Recorder], None]] = {
    Operation.COMMISSION_SERIAL: Recorder.commission_serial,
    Operation.TRANSFORM: Recorder.transform,
    Operation.PACK: Recorder.pack,
    Operation.UNPACK: Recorder.unpack,
    Operation.SHIP: Recorder.ship,
    Operation.RETURN: Recorder.ship,
    Operation.RECEIVE: Recorder.receive,
    Operation.DISPENSE: Recorder.end,
    Operation.DECOMMISSION: Recorder.end,
    Operation.DESTROY: Recorder.end,
    Operation.OBSERVE: Recorder.observe,
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
