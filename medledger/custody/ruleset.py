"""The two rule sets a document can be checked under, and the one entry point for both."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from medledger.custody.pharma import check_document
from medledger.custody.state import CustodyView, Participant, StateChange
from medledger.custody.timebounds import DEFAULT_TIME_BOUNDS, TimeBounds
from medledger.epcis.normalise import NormalisedEvent


class RuleSet(StrEnum):
    #: GS1 EPCIS 2.0 schema and standard semantics only (identifiers, CBV terms): any EPCIS
    #: client interoperates; no custody is tracked.
    EPCIS = "epcis"
    #: ``epcis`` plus roles, own locations and the custody state machine (the default).
    PHARMA = "pharma"


DEFAULT_RULE_SET = RuleSet.PHARMA


def check_events(
    rule_set: RuleSet,
    events: Sequence[NormalisedEvent],
    submitter: Participant,
    view: CustodyView,
    *,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> list[StateChange]:
    """State changes of a schema-valid, normalised document under ``rule_set``.

    ``epcis`` checks nothing beyond the schema and normalisation and changes no custody state;
    ``pharma`` is :func:`~medledger.custody.pharma.check_document`. (The ``time.future`` bound
    holds under both; :class:`gateway.intake.Intake` checks it before the rule set.)
    """
    if rule_set is RuleSet.EPCIS:
        return []
    return check_document(events, submitter, view, bounds=bounds)
