"""``ENFORCE``: the gateway's side of the custody transition function
(:mod:`medledger.custody.transition`), the ``pharma`` rules: the first finding refuses the
event and its document (422)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal

from medledger.custody.operations import (
    ALLOWED,
    RETURN_TO,
    Operation,
    allowed,
    is_return_receipt,
    operation_of,
    role_names,
)
from medledger.custody.outcome import (
    _REGULATOR,
    ENDINGS,
    Disposition,
    Finding,
    Transition,
)
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.state import (
    TERMINAL,
    CommissionIntoLot,
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


class Enforcer:
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
        op = operation_of(ev.type, ev.action, ev.biz_step, ev.disposition)
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

    def ship(self, ev: NormalisedEvent, op: Operation) -> None:
        """Shipping, and returning: a return (a shipping with disposition ``returned`` or
        ``recalled``) goes back up the chain, so neither a recall nor a suspension stops it; a
        forward shipment is refused on both."""
        forward = op is not Operation.RETURN
        self.require_own_party(ev, "sourceList", ev.sources)
        found = self.resolve_party(ev, "destinationList", "shipping.destination-unknown")
        if not forward and not found.roles & RETURN_TO:
            raise _violation(
                ev,
                "return.not-upstream",
                ev.pointer("destinationList"),
                f"a return goes back up the chain; {found.address} is a {role_names(found.roles)}",
            )
        to = found.address
        for j, epc in enumerate(ev.epcs):
            ptr = ev.pointer(ev.epc_field, j)
            item = self.require_held(ev, epc, ptr, recall_checked=forward)
            for state in self.with_contents(ev, item, ptr, check_recall=forward):
                if forward:
                    self.require_not_suspended(ev, state, ptr, dispensing=False)
                self.v.put(state._replace(status=ItemStatus.IN_TRANSIT, in_transit_to=to))
        for j, q in enumerate(ev.quantities):
            ptr = ev.pointer(ev.quantity_field, j)
            amount = _amount(ev, q, ptr)
            if forward:
                self.require_lot_movable(ev, q.class_id, ptr, dispensing=False)
            else:
                self.require_lot_known(ev, q.class_id, ptr)
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
        """A receipt; one with disposition ``returned``/``recalled`` takes in a return (or
        what was on its way when its lot was recalled) whatever the recall."""
        recall_checked = not is_return_receipt(ev.disposition)
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
            if recall_checked:
                self.require_recall_free(ev, item, ptr)
            if item.parent is not None:
                raise _violation(
                    ev,
                    "aggregation.packed",
                    ptr,
                    f"{epc} is packed in {item.parent}: receive the parent",
                )
            for state in self.with_contents(ev, item, ptr, check_recall=recall_checked):
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
            if recall_checked:
                self.require_lot_movable(ev, q.class_id, ptr)
            else:
                self.require_lot_known(ev, q.class_id, ptr)
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
                if op is Operation.DISPENSE:
                    self.require_not_suspended(ev, state, ptr, dispensing=True)
                parent = None if state is item else state.parent
                self.v.put(state._replace(status=status, parent=parent, in_transit_to=None))
        for j, q in enumerate(ev.quantities):
            ptr = ev.pointer(ev.quantity_field, j)
            amount = _amount(ev, q, ptr)
            if op is Operation.DISPENSE:
                self.require_lot_movable(ev, q.class_id, ptr, dispensing=True)
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

    def require_not_suspended(
        self, ev: NormalisedEvent, item: ItemState, ptr: str, *, dispensing: bool
    ) -> None:
        """A suspended lot is never dispensed; shipped only if its suspension allows it."""
        if item.gtin is None or item.lot is None:
            return
        suspension = self.v.lot_suspension(item.gtin, item.lot)
        if suspension is None or not (dispensing or suspension.stops_shipping):
            return
        doing = "dispensed" if dispensing else "shipped"
        raise _violation(
            ev,
            "custody.suspended",
            ptr,
            f"{item.identifier} belongs to lot {item.lot} of GTIN {item.gtin}, suspended "
            f"pending investigation: it may not be {doing}",
        )

    def require_lot_known(self, ev: NormalisedEvent, class_id: str, ptr: str) -> ItemState:
        """The class-level lot is commissioned."""
        lot = self.v.item(class_id)
        if lot is None:
            raise _violation(
                ev,
                "custody.not-commissioned",
                f"{ptr}/epcClass",
                f"lot {class_id} has not been commissioned",
            )
        return lot

    def require_lot_movable(
        self, ev: NormalisedEvent, class_id: str, ptr: str, *, dispensing: bool | None = None
    ) -> None:
        """The class-level lot is commissioned and not recalled; with ``dispensing`` set
        (True: dispensed, False: shipped), not suspended for that either."""
        lot = self.require_lot_known(ev, class_id, ptr)
        self.require_recall_free(ev, lot, f"{ptr}/epcClass")
        if dispensing is not None:
            self.require_not_suspended(ev, lot, f"{ptr}/epcClass", dispensing=dispensing)

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


_HANDLERS: dict[Operation, Callable[[Enforcer, NormalisedEvent, Operation], None]] = {
    Operation.COMMISSION_SERIAL: Enforcer.commission,
    Operation.TRANSFORM: Enforcer.transform,
    Operation.PACK: Enforcer.pack,
    Operation.UNPACK: Enforcer.unpack,
    Operation.SHIP: Enforcer.ship,
    Operation.RETURN: Enforcer.ship,
    Operation.RECEIVE: Enforcer.receive,
    Operation.DISPENSE: Enforcer.end,
    Operation.DECOMMISSION: Enforcer.end,
    Operation.DESTROY: Enforcer.end,
    Operation.OBSERVE: Enforcer.observe,
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
