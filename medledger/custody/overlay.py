"""An in-memory :class:`~medledger.custody.state.CustodyView` that changes can be applied to.

Two uses, one class:

- standalone (``InMemoryCustody()``): a complete custody store for tests and examples, with
  :meth:`~InMemoryCustody.add_participant` and :meth:`~InMemoryCustody.recall`;
- as an **overlay** on another view (``InMemoryCustody(base=view)``): the rules apply each event's
  effects to it so that the next event of the document sees them, without touching ``view``.
  Reads of ``base`` are cached, so an identifier costs one base lookup per document;
  :meth:`~InMemoryCustody.net_changes` gives what the store must apply if the document passes
  (the last state of each item, and the net quantity moves).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from medledger.custody.state import (
    CommissionIntoLot,
    CustodyView,
    ItemState,
    LotAuthority,
    LotSuspension,
    MoveQuantity,
    Participant,
    PutItem,
    StateChange,
)

_ZERO = Decimal(0)


class InMemoryCustody:
    def __init__(self, base: CustodyView | None = None) -> None:
        self._base = base
        self._items: dict[str, ItemState | None] = {}  # base reads (cached) and writes
        self._written: dict[str, ItemState] = {}  # writes, in first-write order
        self._children: dict[str, dict[str, None]] = {}  # parent -> ordered set of children
        self._held: dict[tuple[str, str], Decimal] = {}
        self._transit: dict[tuple[str, str, str], Decimal] = {}
        self._moves: dict[tuple[str, str, str | None], tuple[Decimal, str]] = {}
        self._recalled: dict[tuple[str, str], bool] = {}
        self._suspended: dict[tuple[str, str], LotSuspension | None] = {}
        self._participants: dict[str, Participant | None] = {}
        self._lots: dict[tuple[str, str], LotAuthority | None] = {}  # base reads and writes
        self._lot_changes: dict[tuple[str, str], CommissionIntoLot] = {}
        #: the eventTime of the event being applied (the rules set it): every item it puts
        #: carries it as its latest time (``ItemState.event_time``), never moving back
        self.event_time: datetime | None = None
        #: when set, every change applied is also appended here, as given (after the time
        #: stamp): the changes of one event (:func:`medledger.custody.transition.transition`)
        self.journal: list[StateChange] | None = None

    # --- set-up (standalone use) ----------------------------------------------------------------

    def add_participant(self, participant: Participant) -> None:
        self._participants[participant.gln] = participant

    def recall(self, gtin: str, lot: str, recalled: bool = True) -> None:
        self._recalled[(gtin, lot)] = recalled

    def suspend(self, gtin: str, lot: str, suspension: LotSuspension | None) -> None:
        """The lot suspended (``None``: not, or no longer)."""
        self._suspended[(gtin, lot)] = suspension

    def declare_lot(self, gtin: str, lot: str, owner: str, packs: int) -> None:
        """A lot declared by ``owner`` for ``packs`` packs (as ``POST /lots`` does)."""
        self._lots[(gtin, lot)] = LotAuthority(owner=owner, packs=packs)

    # --- CustodyView ------------------------------------------------------------------------------

    def item(self, identifier: str) -> ItemState | None:
        try:
            return self._items[identifier]
        except KeyError:
            state = self._base.item(identifier) if self._base is not None else None
            self._items[identifier] = state
            return state

    def children(self, parent: str) -> list[str]:
        return list(self._child_set(parent))

    def quantity_held(self, class_id: str, holder: str) -> Decimal:
        key = (class_id, holder)
        value = self._held.get(key)
        if value is None:
            value = self._base.quantity_held(class_id, holder) if self._base else _ZERO
            self._held[key] = value
        return value

    def quantity_in_transit(self, class_id: str, sender: str, receiver: str) -> Decimal:
        key = (class_id, sender, receiver)
        value = self._transit.get(key)
        if value is None:
            base = self._base
            value = base.quantity_in_transit(class_id, sender, receiver) if base else _ZERO
            self._transit[key] = value
        return value

    def is_lot_recalled(self, gtin: str, lot: str) -> bool:
        key = (gtin, lot)
        value = self._recalled.get(key)
        if value is None:
            value = self._base.is_lot_recalled(gtin, lot) if self._base else False
            self._recalled[key] = value
        return value

    def lot_suspension(self, gtin: str, lot: str) -> LotSuspension | None:
        key = (gtin, lot)
        if key not in self._suspended:
            base = self._base
            self._suspended[key] = base.lot_suspension(gtin, lot) if base else None
        return self._suspended[key]

    def participant_by_gln(self, gln: str) -> Participant | None:
        if gln in self._participants:
            return self._participants[gln]
        found = self._base.participant_by_gln(gln) if self._base else None
        self._participants[gln] = found
        return found

    def lot_authority(self, gtin: str, lot: str) -> LotAuthority | None:
        key = (gtin, lot)
        if key not in self._lots:
            self._lots[key] = self._base.lot_authority(gtin, lot) if self._base else None
        return self._lots[key]

    # --- changes -------------------------------------------------------------------------------

    def commission_into_lot(self, change: CommissionIntoLot) -> None:
        """Packs commissioned into a lot: its claim, or its count (see ``CommissionIntoLot``)."""
        if self.journal is not None:
            self.journal.append(change)
        key = (change.gtin, change.lot)
        found = self.lot_authority(*key)
        if found is None:
            found = LotAuthority(owner=change.owner)
        self._lots[key] = LotAuthority(
            owner=found.owner,
            packs=found.packs,
            commissioned=found.commissioned + (change.packs if found.packs is not None else 0),
        )
        before = self._lot_changes.get(key)
        self._lot_changes[key] = CommissionIntoLot(
            change.gtin,
            change.lot,
            found.owner,
            change.packs + (before.packs if before is not None else 0),
            found.packs is not None,
        )

    def put(self, state: ItemState) -> None:
        now = self.event_time
        if now is not None and state.event_time < now:
            state = state._replace(event_time=now)
        old = self.item(state.identifier)
        old_parent = old.parent if old is not None else None
        if old_parent != state.parent:
            if old_parent is not None:
                self._child_set(old_parent).pop(state.identifier, None)
            if state.parent is not None:
                self._child_set(state.parent)[state.identifier] = None
        self._items[state.identifier] = state
        self._written[state.identifier] = state
        if self.journal is not None:
            self.journal.append(PutItem(state))

    def move(self, move: MoveQuantity) -> None:
        if self.journal is not None:
            self.journal.append(move)
        if move.in_transit_to is None:
            key = (move.class_id, move.holder)
            self._held[key] = self.quantity_held(*key) + move.delta
        else:
            tkey = (move.class_id, move.holder, move.in_transit_to)
            self._transit[tkey] = self.quantity_in_transit(*tkey) + move.delta
        mkey = (move.class_id, move.holder, move.in_transit_to)
        total, uom = self._moves.get(mkey, (_ZERO, move.uom))
        self._moves[mkey] = (total + move.delta, uom)

    def apply(self, changes: Iterable[StateChange]) -> None:
        for change in changes:
            if isinstance(change, PutItem):
                self.put(change.state)
            elif isinstance(change, CommissionIntoLot):
                self.commission_into_lot(change)
            else:
                self.move(change)

    def net_changes(self) -> list[StateChange]:
        """Everything applied so far, compacted: one PutItem per item, net quantity moves."""
        out: list[StateChange] = [PutItem(state) for state in self._written.values()]
        out.extend(
            MoveQuantity(class_id, holder, delta, uom, in_transit_to=to)
            for (class_id, holder, to), (delta, uom) in self._moves.items()
            if delta != 0
        )
        out.extend(self._lot_changes.values())
        return out

    def _child_set(self, parent: str) -> dict[str, None]:
        # Loaded from the base before the first change that involves ``parent``, so base
        # children and overlay changes never disagree.
        found = self._children.get(parent)
        if found is None:
            base = self._base.children(parent) if self._base is not None else []
            found = dict.fromkeys(base)
            self._children[parent] = found
        return found
