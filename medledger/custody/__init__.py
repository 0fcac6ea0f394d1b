"""Rule sets applied to a document after schema validation and normalisation.

``epcis``: nothing beyond the GS1 schema and identifier / vocabulary normalisation.
``pharma``: roles, own locations and the custody state machine (``docs/rules.md``).
"""

from __future__ import annotations

from medledger.custody.operations import ALLOWED, OPERATIONS, Operation, operation_of
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.pharma import check_document
from medledger.custody.ruleset import DEFAULT_RULE_SET, RuleSet, check_events
from medledger.custody.violations import RULES, RuleViolation

__all__ = [
    "ALLOWED",
    "DEFAULT_RULE_SET",
    "OPERATIONS",
    "RULES",
    "InMemoryCustody",
    "Operation",
    "RuleSet",
    "RuleViolation",
    "check_document",
    "check_events",
    "operation_of",
]
