"""The error every pharma rule raises, and the catalogue of stable rule ids.

A rejection names the event (its index in ``eventList``), the field (an RFC 6901 JSON pointer
into the submitted document) and the rule (a stable id such as ``custody.not-held``) so that a
client can act on it and the gateway can answer with ``application/problem+json``.
``docs/rules.md`` documents each id; a test checks that it documents all of them.
"""

from __future__ import annotations

from medledger.errors import ValidationError

#: Every rule id of the ``pharma`` rule set, with what it checks (one line each).
RULES: dict[str, str] = {
    "participant.suspended": "the submitter is an active participant",
    "event.unsupported": "the event type, action and bizStep form an operation the rules know",
    "role.not-allowed": "the submitter's roles allow the operation (the role table)",
    "location.missing": "the event names its readPoint",
    "location.not-own": "readPoint and bizLocation are the submitter's own GLN",
    "party.not-own": "the owning_party source of a shipment / destination of a receipt is the "
    "submitter",
    "return.not-upstream": "a return goes back up the chain: to a manufacturer, importer, "
    "distributor, wholesaler or the regulator",
    "shipping.destination-unknown": "a shipment names a registered, active owning_party "
    "destination",
    "receiving.source-unknown": "a receipt of quantities names the registered owning_party source",
    "quantity.invalid": "a class-level quantity is given and positive",
    "commission.duplicate": "an identifier (pack, case, pallet, lot) is commissioned only once",
    "commission.lot-required": "a commissioned pack (SGTIN) carries its lot in the ILMD",
    "custody.not-commissioned": "an identifier is commissioned before anything else happens to it",
    "custody.terminal": "nothing happens to an item after dispensing, decommissioning or "
    "destruction",
    "custody.recalled": "nothing moves forward while its lot is recalled (a return does)",
    "custody.suspended": "nothing of a suspended lot is dispensed (nor shipped, where its "
    "suspension stops shipping too)",
    "custody.not-held": "you ship, pack, dispense or use only what you hold",
    "custody.not-shipped-to-submitter": "you receive only what was shipped to you",
    "aggregation.packed": "an item inside a case moves with its case, not alone",
    "aggregation.already-packed": "a child has at most one parent",
    "aggregation.not-a-child": "unpacking removes only children of the parent",
    "aggregation.cycle": "a container never ends up inside itself",
    "transformation.over-consumed": "a transformation consumes no more of a lot than the "
    "transformer holds",
    "time.future": "eventTime is no later than the gateway's clock plus a tolerance (every rule "
    "set)",
    "time.backdated": "eventTime is no earlier than the current state of the items the event "
    "names, minus a tolerance",
}


class RuleViolation(ValidationError):
    """A document breaks a ``pharma`` rule: ``rule`` is a key of :data:`RULES`."""

    def __init__(
        self, message: str, *, rule: str, pointer: str, event_index: int | None = None
    ) -> None:
        super().__init__(message, rule=rule, pointer=pointer)
        self.event_index = event_index
