"""What one event does to custody, as the transition function reports it: the modes, the
findings and their dispositions, what the indexer records each finding as, and the tests both
sides share (:func:`custody_clash`, :func:`owning_party`, :func:`recorded_operation`).
See :mod:`medledger.custody.transition`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from medledger.custody.operations import Operation, operation_of
from medledger.custody.state import (
    TERMINAL,
    ItemState,
    ItemStatus,
    StateChange,
)
from medledger.custody.violations import RuleViolation
from medledger.epcis.normalise import NormalisedEvent, Party
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
    found = operation_of(ev.type, ev.action, ev.biz_step, ev.disposition)
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
