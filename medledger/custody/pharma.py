"""The ``pharma`` rule set: who may submit what, and the custody state machine of every item.

:func:`check_document` is pure: it reads a
:class:`~medledger.custody.state.CustodyView`, never writes
to it, and returns the :class:`~medledger.custody.state.StateChange` list the store applies in the
transaction that stores the events. A document is all-or-nothing: events are checked in order
against an overlay of the view
(:class:`~medledger.custody.overlay.InMemoryCustody`), so event 5 sees
the effects of events 0..4, and the first violation rejects the whole document with a
:class:`~medledger.custody.violations.RuleViolation` (event index, JSON pointer, rule id).

The rules themselves are the ``ENFORCE`` mode of the custody transition function
(:func:`medledger.custody.transition.transition`), which the indexer runs in ``RECORD`` mode.

Cost: each event does work proportional to the identifiers it names (plus the contents of the
cases it moves); every view read is cached for the document. See ``docs/rules.md`` for each rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from medledger.custody.state import CustodyView, Participant, StateChange
from medledger.custody.timebounds import DEFAULT_TIME_BOUNDS, TimeBounds
from medledger.custody.transition import enforce
from medledger.epcis.normalise import NormalisedEvent


def check_document(
    events: Sequence[NormalisedEvent],
    submitter: Participant,
    view: CustodyView,
    *,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> list[StateChange]:
    """Check ``events`` (one document, in order) submitted by ``submitter`` against ``view``
    (``bounds``: how far an event may be older than its items' current state).

    Returns the net state changes of the whole document (one ``PutItem`` per item touched, net
    ``MoveQuantity`` per class, holder and destination). Raises
    :class:`~medledger.custody.violations.RuleViolation` at the first event that breaks a rule.
    """
    return enforce(events, submitter, view, bounds=bounds)
