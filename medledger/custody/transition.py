"""Custody as one transition function: what one event does to the custody of what it names.

:func:`transition` takes an event, who submitted it and a view of the current custody, and in
one of three modes applies the event's changes to that view and says what does not fit
(:class:`Finding`):

- ``ENFORCE`` (the gateway, :func:`enforce`): the ``pharma`` rules. The first finding refuses
  the event, and with it the whole document (a 422 with the finding's message, JSON pointer
  and rule id); the view is an overlay the caller throws away then.
- ``RECORD`` (the indexer's projection): what the chain proves happened is never refused. An
  event acting on a code never commissioned, or on an item held or in transit elsewhere
  (:func:`custody_clash`), is held back (``HOLD``) until the item changes; one acting on an
  ended item, or commissioning a code a second time, changes nothing and is reported
  (``SKIP_ALERT``); one older than the item's current state is applied on top of it (reported
  beyond the ``time.backdated`` tolerance: ``ALERT``) or, if it does not fit there, kept as
  history (``HISTORY``). :data:`RECORD_AS` names the alert or hold of each rule.
- ``SETTLE``: ``RECORD`` once the settle window of a held-back event has passed: it is applied
  as it stands (an unknown code is reported), and the detectors judge it.

The two sides see custody differently, and the differences are kept, deliberately: the gateway
checks roles, locations, parties, quantities and recalls before anything is stored, the
indexer records what the chain proves. docs/rules.md ("Enforced and recorded") lists them (the
regulator, receipts, endings, unknown parties, owning-party fallback, late packing ...); the
tests in ``tests/medledger/custody/test_transition.py`` and ``tests/indexer/test_projection.py``
pin each one.

Both sides hold one :class:`~medledger.custody.state.ItemState`; their views differ: the
gateway's is a :class:`~medledger.custody.overlay.InMemoryCustody` over its store and its actor
a :class:`~medledger.custody.state.Participant` (roles, GLN, company prefixes); the indexer's is
its :class:`Recording` (the projection, which numbers and stamps every version it is given) and
its actor an address. In ``ENFORCE`` the changes applied are also returned
(:attr:`Transition.changes`); in ``RECORD`` and ``SETTLE`` the recording keeps them (it reads
thousands of versions per batch: a second list would only cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from medledger.custody.enforcement import Enforcer
from medledger.custody.outcome import (
    RECORD_AS,
    Disposition,
    Finding,
    Mode,
    Transition,
    custody_clash,
    owning_party,
    recorded_operation,
)
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.recording import Recorder, Recording
from medledger.custody.state import (
    CustodyView,
    Participant,
    StateChange,
)
from medledger.custody.timebounds import (
    DEFAULT_TIME_BOUNDS,
    TimeBounds,
)
from medledger.custody.violations import RuleViolation
from medledger.epcis.normalise import NormalisedEvent

__all__ = [
    "RECORD_AS",
    "Disposition",
    "Finding",
    "Mode",
    "Recording",
    "Transition",
    "custody_clash",
    "enforce",
    "owning_party",
    "recorded_operation",
    "transition",
]

_ENFORCE, _SETTLE = Mode.ENFORCE, Mode.SETTLE


@overload
def transition(
    view: InMemoryCustody,
    event: NormalisedEvent,
    actor: Participant,
    *,
    mode: Literal[Mode.ENFORCE],
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Transition: ...


@overload
def transition(
    view: Recording,
    event: NormalisedEvent,
    actor: str,
    *,
    mode: Literal[Mode.RECORD, Mode.SETTLE],
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Transition: ...


def transition(
    view: Any,
    event: NormalisedEvent,
    actor: Any,
    *,
    mode: Mode,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Transition:
    """Apply ``event``, submitted by ``actor``, to ``view`` in ``mode`` (see the module
    docstring); ``bounds.behind``: how much older than an item's current state an event may
    be (``time.backdated``; ``bounds.ahead`` is the gateway's, checked before the rules)."""
    if mode is _ENFORCE:
        return Enforcer(actor, view, bounds).event(event)
    return Recorder(view, event, actor, mode is _SETTLE, bounds.behind).run()


def enforce(
    events: Sequence[NormalisedEvent],
    submitter: Participant,
    view: CustodyView,
    *,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> list[StateChange]:
    """Check ``events`` (one document, in order) submitted by ``submitter`` against ``view``:
    :func:`transition` in ``ENFORCE`` mode over an overlay of ``view``, so event 5 sees the
    effects of events 0..4.

    Returns the net state changes of the whole document (one ``PutItem`` per item touched, net
    ``MoveQuantity`` per class, holder and destination). Raises
    :class:`~medledger.custody.violations.RuleViolation` at the first event that breaks a rule.
    """
    if not submitter.active:
        raise RuleViolation(
            f"participant {submitter.address} is suspended and may not submit events",
            rule="participant.suspended",
            pointer="/",
        )
    overlay = InMemoryCustody(base=view)
    for event in events:
        refusal = transition(overlay, event, submitter, mode=Mode.ENFORCE, bounds=bounds).refusal
        if refusal is not None:
            raise refusal.violation()
    return overlay.net_changes()
