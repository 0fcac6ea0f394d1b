"""What the pharma rule set reads and writes: the custody state of every identifier.

This module is the contract between the rules (``gateway/rules/``, pure) and the store
(``gateway/store/``, SQL). The rules read a :class:`CustodyView`, decide, and return the
:class:`StateChange` list that the store applies in the same transaction that stores the events.

Identifiers are canonical GS1 Digital Link URIs (see ``gateway/epcis/identifiers.py``):
instances (packs ``/01/<gtin>/21/<serial>``, logistic units ``/00/<sscc>``) and classes (lots,
``/01/<gtin>/10/<lot>``, held in quantities such as kilograms of an API). Participants are named
by their on-chain address; places by their canonical GLN URI (``/414/<gln>[/254/<ext>]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class ItemStatus(StrEnum):
    ACTIVE = "active"
    IN_TRANSIT = "in_transit"
    DISPENSED = "dispensed"
    DECOMMISSIONED = "decommissioned"
    DESTROYED = "destroyed"


#: Once an item reaches one of these, nothing may happen to it any more.
TERMINAL = frozenset({ItemStatus.DISPENSED, ItemStatus.DECOMMISSIONED, ItemStatus.DESTROYED})


@dataclass(frozen=True)
class ItemState:
    """The current state of one instance-level identifier (pack, case, pallet)."""

    identifier: str
    status: ItemStatus
    holder: str  # participant address that has custody (the shipper while in transit)
    location: str | None  # canonical GLN URI of where it is, if known
    parent: str | None  # aggregation parent (case or pallet), if packed
    gtin: str | None  # for packs: the GTIN-14
    lot: str | None  # for packs: the batch/lot number (from commissioning ILMD)
    in_transit_to: str | None = None  # participant address a shipment is destined to
    commissioned_by: str | None = None


@dataclass(frozen=True)
class Participant:
    """A registered participant as the rules see it."""

    address: str
    roles: int  # chain.roles.Role bitmask
    gln: str  # 13 digits
    active: bool


class CustodyView(Protocol):
    """Read access to the current state; the rules never write through it."""

    def item(self, identifier: str) -> ItemState | None: ...

    def children(self, parent: str) -> list[str]: ...

    def quantity_held(self, class_id: str, holder: str) -> Decimal: ...

    def quantity_in_transit(self, class_id: str, sender: str, receiver: str) -> Decimal: ...

    def is_lot_recalled(self, gtin: str, lot: str) -> bool: ...

    def participant_by_gln(self, gln: str) -> Participant | None: ...


@dataclass(frozen=True)
class PutItem:
    """Create or replace the state of an instance."""

    state: ItemState


@dataclass(frozen=True)
class MoveQuantity:
    """Change a class-level quantity (e.g. kilograms of an API lot) held or in transit.

    ``holder`` gains ``delta`` (negative to consume); ``in_transit_to`` set means the quantity is
    on its way from ``holder`` to that participant.
    """

    class_id: str
    holder: str
    delta: Decimal
    uom: str
    in_transit_to: str | None = None


StateChange = PutItem | MoveQuantity
