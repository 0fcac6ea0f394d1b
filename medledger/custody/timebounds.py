"""Time you can trust: how far an event's ``eventTime`` may stray from the clock and the item.

An EPCIS ``eventTime`` is what the submitter says; the custody projection of the indexer orders
events by it (see ``docs/indexer.md``), so a claimed time is bounded before it is stored:

- ``time.future`` (every rule set): no later than the gateway's clock plus ``ahead``. An event
  from the future is never a fact, and an index ordering by time would let it hide every later
  event of its items.
- ``time.backdated`` (``pharma``): no earlier than the item's current state (the latest
  eventTime of the events that made it) minus ``behind``. A dispensing dated 0001-01-01 would
  otherwise be final at the gateway and history only to an index that orders by time.

The tolerances absorb the clock skew between participants' systems. Both are settings of the
gateway (``event_time_ahead_seconds``, ``event_time_behind_seconds``); the indexer checks the
same bounds against the block that anchored an event (``docs/detection.md``, ``event-time``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from medledger.custody.state import NO_TIME, ItemState
from medledger.custody.violations import RuleViolation
from medledger.epcis.normalise import NormalisedEvent


@dataclass(frozen=True)
class TimeBounds:
    """How far ``eventTime`` may be ahead of the clock, and behind an item's current state."""

    ahead: timedelta = timedelta(minutes=5)
    behind: timedelta = timedelta(minutes=5)


DEFAULT_TIME_BOUNDS = TimeBounds()


def require_not_ahead(events: Sequence[NormalisedEvent], now: datetime, ahead: timedelta) -> None:
    """Every event's time is at most ``now + ahead`` (``time.future``)."""
    latest = now + ahead
    for ev in events:
        if ev.event_time > latest:
            raise RuleViolation(
                f"event {ev.index}: eventTime {_iso(ev.event_time)} is later than the gateway's "
                f"clock ({_iso(now)}) plus {_seconds(ahead)}: an event from the future is not a "
                "fact [time.future]",
                rule="time.future",
                pointer=ev.pointer("eventTime"),
                event_index=ev.index,
            )


def require_not_behind(
    ev: NormalisedEvent, items: Iterable[ItemState | None], behind: timedelta
) -> None:
    """``ev`` is not older than any of ``items``' current state by more than ``behind``
    (``time.backdated``); items with no recorded time (stored before it was kept:
    :data:`~medledger.custody.state.NO_TIME`) pass."""
    for item in items:
        if item is None or item.event_time == NO_TIME:
            continue
        if item.event_time - ev.event_time > behind:  # (a difference: no datetime overflow)
            raise RuleViolation(
                f"event {ev.index}: eventTime {_iso(ev.event_time)} is earlier than the current "
                f"state of {item.identifier} ({_iso(item.event_time)}) by more than "
                f"{_seconds(behind)} [time.backdated]",
                rule="time.backdated",
                pointer=ev.pointer("eventTime"),
                event_index=ev.index,
            )


def named_items(ev: NormalisedEvent) -> list[str]:
    """The instance identifiers an event acts on (their contents move with them)."""
    found = [*ev.epcs, *ev.child_epcs, *ev.input_epcs]
    if ev.parent_id is not None:
        found.append(ev.parent_id)
    return found


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():g} s"
