"""Who may do what: the operations of the pharma rule set and the roles allowed each one.

One table, read by the rules and by ``docs/rules.md``. An event's operation follows from its
type, action and (bare CBV) bizStep (:data:`OPERATIONS`); the roles that may perform it are
:data:`ALLOWED`. A participant may perform an operation if any of its role bits is allowed.
The regulator is allowed every operation; the auditor none (it only reads).
"""

from __future__ import annotations

from enum import StrEnum

from medledger.roles import SUBMITTING, Role


class Operation(StrEnum):
    COMMISSION_LOT = "commission-lot"  # class-level (API lot, in KGM) via ObjectEvent ADD
    COMMISSION_SERIAL = "commission-serial"  # packs, cases, pallets via ObjectEvent ADD
    TRANSFORM = "transform"  # TransformationEvent (outputs are commissioned packs)
    PACK = "pack"  # AggregationEvent ADD
    UNPACK = "unpack"  # AggregationEvent DELETE
    SHIP = "ship"
    RETURN = "return"  # shipping back up the chain (disposition returned or recalled)
    RECEIVE = "receive"
    DISPENSE = "dispense"
    DECOMMISSION = "decommission"
    DESTROY = "destroy"
    OBSERVE = "observe"  # inspecting, storing ...: no custody change


_REG = Role.REGULATOR
_TRADE = Role.IMPORTER | Role.DISTRIBUTOR | Role.WHOLESALER
_CARE = Role.PHARMACY | Role.HOSPITAL

ALLOWED: dict[Operation, Role] = {
    Operation.COMMISSION_LOT: Role.API_MAKER | _REG,
    Operation.COMMISSION_SERIAL: Role.MANUFACTURER | _REG,
    Operation.TRANSFORM: Role.MANUFACTURER | _REG,
    Operation.PACK: Role.MANUFACTURER | _REG,
    Operation.UNPACK: Role.MANUFACTURER | _TRADE | _CARE | _REG,
    Operation.SHIP: Role.API_MAKER | Role.MANUFACTURER | _TRADE | _REG,
    Operation.RETURN: Role.MANUFACTURER | _TRADE | _CARE | _REG,  # whoever receives, sends back
    Operation.RECEIVE: Role.MANUFACTURER | _TRADE | _CARE | _REG,
    Operation.DISPENSE: _CARE | _REG,
    Operation.DECOMMISSION: SUBMITTING,  # and only by the current holder (or the regulator)
    Operation.DESTROY: SUBMITTING,
    Operation.OBSERVE: SUBMITTING,
}

#: Whom a return may go to: back up the chain (never to another pharmacy or hospital).
RETURN_TO: Role = Role.MANUFACTURER | _TRADE | _REG

#: bizSteps that observe without changing custody.
OBSERVING = frozenset({"accepting", "arriving", "departing", "holding", "inspecting", "loading",
                       "picking", "staging_outbound", "storing", "unloading"})  # fmt: skip
_ENDING = ("OBSERVE", "DELETE")
#: dispositions (CBV) that make a shipment a return, and a receipt the receipt of one
RETURN_DISPOSITIONS = frozenset({"returned", "recalled"})

#: (event type, action, bizStep) -> operation. ObjectEvent ADD commissioning is COMMISSION_SERIAL
#: here and split by identifier kind (lots vs serials) in the rules.
OPERATIONS: dict[tuple[str, str | None, str | None], Operation] = {
    ("ObjectEvent", "ADD", "commissioning"): Operation.COMMISSION_SERIAL,
    ("ObjectEvent", "OBSERVE", "shipping"): Operation.SHIP,
    ("ObjectEvent", "OBSERVE", "receiving"): Operation.RECEIVE,
    **{("ObjectEvent", a, "dispensing"): Operation.DISPENSE for a in _ENDING},
    **{("ObjectEvent", a, "decommissioning"): Operation.DECOMMISSION for a in _ENDING},
    **{("ObjectEvent", a, "destroying"): Operation.DESTROY for a in _ENDING},
    **{("ObjectEvent", "OBSERVE", step): Operation.OBSERVE for step in OBSERVING},
    ("AggregationEvent", "ADD", "packing"): Operation.PACK,
    ("AggregationEvent", "DELETE", "unpacking"): Operation.UNPACK,
}


def operation_of(
    event_type: str, action: str | None, biz_step: str | None, disposition: str | None = None
) -> Operation | None:
    """The operation an event performs, or None if the pharma rules do not accept it.

    A TransformationEvent is a transformation whatever its bizStep (``commissioning`` when its
    outputs are new packs). A shipping with disposition ``returned`` or ``recalled`` is a
    return (CBV 2.0 has no bizStep for it: disposition ``returned`` is "sent back").
    """
    if event_type == "TransformationEvent":
        return Operation.TRANSFORM
    found = OPERATIONS.get((event_type, action, biz_step))
    if found is Operation.SHIP and disposition in RETURN_DISPOSITIONS:
        return Operation.RETURN
    return found


def is_return_receipt(disposition: str | None) -> bool:
    """Whether a receipt with ``disposition`` receives a return (``returned``, ``recalled``):
    what a recall refuses, a return's receiver may still take in."""
    return disposition in RETURN_DISPOSITIONS


def allowed(roles: int, operation: Operation) -> bool:
    return bool(Role(roles) & ALLOWED[operation])


def role_names(mask: int) -> str:
    return " or ".join(Role(mask).names()) or "no role"
