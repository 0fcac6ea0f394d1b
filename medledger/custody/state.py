"""What the pharma rule set reads and writes: the custody state of every identifier.

This module is the contract between the rules (``medledger/custody/``, pure) and the store
(``gateway/store/``, SQL). The rules read a :class:`CustodyView`, decide, and return the
:class:`StateChange` list that the store applies in the same transaction that stores the events.

Identifiers are canonical GS1 Digital Link URIs (see ``medledger/epcis/identifiers.py``):
instances (packs ``/01/<gtin>/21/<serial>``, logistic units ``/00/<sscc>``) and classes (lots,
``/01/<gtin>/10/<lot>``, held in quantities such as kilograms of an API). Participants are named
by their on-chain address; places by their canonical GLN URI (``/414/<gln>[/254/<ext>]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple, Protocol

from medledger.epcis.gs1 import gtin_has_company_prefix


class ItemStatus(StrEnum):
    ACTIVE = "active"
    IN_TRANSIT = "in_transit"
    DISPENSED = "dispensed"
    DECOMMISSIONED = "decommissioned"
    DESTROYED = "destroyed"


#: Once an item reaches one of these, nothing may happen to it any more.
TERMINAL = frozenset({ItemStatus.DISPENSED, ItemStatus.DECOMMISSIONED, ItemStatus.DESTROYED})


#: The time of a state whose time is not known (stored at the gateway before it was kept): earlier
#: than every event, so the ``time.backdated`` rule passes any event on it. Stored as NULL.
NO_TIME = datetime.min.replace(tzinfo=UTC)


class ItemState(NamedTuple):
    """The state of one instance-level identifier (pack, case, pallet), on both sides.

    The gateway keeps the current state (``status`` an :class:`ItemStatus`, who commissioned
    it); the indexer keeps every version (``status`` its text; ``event_hash`` and ``seq``: the
    event that made it). A named tuple: the indexer's projection makes and reads thousands per
    batch, and a tuple is made several times faster than a frozen dataclass. Positionally the
    fields the gateway always gives come first."""

    identifier: str
    status: str  # an ItemStatus
    holder: str | None  # participant address that has custody (the shipper while in transit)
    location: str | None  # canonical GLN URI of where it is, if known
    parent: str | None  # aggregation parent (case or pallet), if packed
    gtin: str | None  # for packs: the GTIN-14
    lot: str | None  # for packs: the batch/lot number (from commissioning ILMD)
    in_transit_to: str | None = None  # participant address a shipment is destined to
    #: the latest eventTime of the events that made this state (:data:`NO_TIME`: not known);
    #: the ``time.backdated`` rule bounds the next event by it
    event_time: datetime = NO_TIME
    event_hash: bytes = b""  # the indexer's: the event that made this version
    seq: int = 0  # the indexer's: that event's sequence number
    commissioned_by: str | None = None  # the gateway's


@dataclass(frozen=True)
class Participant:
    """A registered participant as the rules see it."""

    address: str
    roles: int  # medledger.roles.Role bitmask
    gln: str  # 13 digits
    active: bool
    #: GS1 company prefixes (4 to 12 digits) the regulator registered: the GTINs it may
    #: commission (a GTIN-14 whose digits after the indicator start with one of them)
    company_prefixes: tuple[str, ...] = ()

    def owns_gtin(self, gtin: str) -> bool:
        """Whether GTIN-14 ``gtin`` falls under one of the participant's company prefixes."""
        return owns_gtin(self.company_prefixes, gtin)


def owns_gtin(prefixes: tuple[str, ...] | list[str], gtin: str) -> bool:
    """Whether GTIN-14 ``gtin`` falls under one of ``prefixes``: its digits after the indicator
    digit start with the prefix (GS1 General Specifications §3.3.2; leading zeros count). The
    same test as the participant registry's ``ownsGtin``."""
    return any(gtin_has_company_prefix(gtin, p) for p in prefixes)


class LotSuspension(NamedTuple):
    """A lot suspended pending a pharmacovigilance investigation (docs/suspensions.md): none
    of it is dispensed, and none shipped either where ``stops_shipping``."""

    stops_shipping: bool = False


@dataclass(frozen=True)
class LotAuthority:
    """Who owns a lot (GTIN + lot number) and, if declared, how many packs it may hold.

    ``owner``: the participant that declared it (``POST /lots``, which registers it on-chain),
    else the one that commissioned into it first (its claim). ``packs`` is None for a lot
    never declared (no count to keep to); ``commissioned`` counts the packs commissioned into
    a declared lot so far (by ``/codes`` and ``/capture`` alike).
    """

    owner: str
    packs: int | None = None
    commissioned: int = 0


class CustodyView(Protocol):
    """Read access to the current state; the rules never write through it."""

    def item(self, identifier: str) -> ItemState | None: ...

    def children(self, parent: str) -> list[str]: ...

    def quantity_held(self, class_id: str, holder: str) -> Decimal: ...

    def quantity_in_transit(self, class_id: str, sender: str, receiver: str) -> Decimal: ...

    def is_lot_recalled(self, gtin: str, lot: str) -> bool: ...

    def lot_suspension(self, gtin: str, lot: str) -> LotSuspension | None: ...

    def participant_by_gln(self, gln: str) -> Participant | None: ...

    def lot_authority(self, gtin: str, lot: str) -> LotAuthority | None: ...


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


@dataclass(frozen=True)
class CommissionIntoLot:
    """Packs commissioned into a lot: an undeclared lot becomes ``owner``'s (its claim), and a
    declared lot's count of commissioned packs rises by ``packs`` (never past its declared
    packs: the store refuses)."""

    gtin: str
    lot: str
    owner: str
    packs: int
    declared: bool


StateChange = PutItem | MoveQuantity | CommissionIntoLot
