"""An alert's triage: a regulator acknowledges it, assigns it to someone, resolves it with a
note, or reopens it; every action is appended to a log that is never changed.

The state lives beside the alert, keyed by its natural key (``ix_alert_triage``), never on the
alert's row: detectors derive alerts from the chain, a rollback deletes them and a re-index
raises them again with the same key, and their triage is still there. An alert nobody acted on
is ``open``.

The state machine (:data:`ACTIONS`)::

    open ──ack──▶ acknowledged ──assign──▶ assigned ──resolve (note)──▶ resolved
      │               │    ▲                 │  ▲ assign (again)            │
      └──assign, resolve───┘                 └──┘                           │
    open ◀──────────────────────────────reopen──────────────────────────────┘

Who may act is the caller's to decide (:func:`may_act`): a regulator on any alert, an inspector
on the alerts of its region, an auditor never.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.queries.alerts import PARTY_FIELDS, REGION_FIELD
from indexer.queries.scope import Scope
from indexer.store.models import AlertRow, AlertTriageLogRow, AlertTriageRow
from medledger.errors import (
    NotFoundError,
    PermissionDeniedError,
    TriageTransitionError,
    ValidationError,
)
from medledger.regions import in_region

Action = Literal["ack", "assign", "resolve", "reopen"]
ACTION_NAMES: Final[tuple[str, ...]] = get_args(Action)
OPEN: Final = "open"
RESOLVED: Final = "resolved"

#: action -> (the states it is taken from, the state it leaves)
ACTIONS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "ack": ((OPEN,), "acknowledged"),
    "assign": ((OPEN, "acknowledged", "assigned"), "assigned"),
    "resolve": ((OPEN, "acknowledged", "assigned"), RESOLVED),
    "reopen": ((RESOLVED,), OPEN),
}
#: the roles that may act at all (an inspector only within its region)
ACTING_ROLES: Final = frozenset({"regulator", "inspector"})
MAX_ASSIGNEE: Final = 200
MAX_NOTE: Final = 2000


@dataclass(frozen=True)
class Triage:
    """Where an alert's triage stands; ``updated_at`` None: nobody acted on it yet."""

    alert_key: str
    state: str = OPEN
    assignee: str | None = None
    note: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class Entry:
    """One line of the triage log."""

    action: str
    state: str
    assignee: str | None
    note: str | None
    at: datetime
    actor: str


def next_state(alert_key: str, state: str, action: str) -> str:
    """The state ``action`` leaves an alert in that is ``state``, or
    :class:`TriageTransitionError` (an unknown action: :class:`ValidationError`)."""
    if action not in ACTIONS:
        raise ValidationError(f"no triage action {action!r} (one of {', '.join(ACTIONS)})")
    allowed, after = ACTIONS[action]
    if state not in allowed:
        raise TriageTransitionError(alert_key, state, action, allowed)
    return after


def _text(value: str | None, what: str, limit: int, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(f"a {what} is required")
    if len(text) > limit:
        raise ValidationError(f"the {what} is longer than {limit} characters ({len(text)})")
    return text or None


def triage_of(session: Session, keys: Iterable[str]) -> dict[str, Triage]:
    """The triage of each of ``keys`` (``open`` for an alert nobody acted on)."""
    wanted = list(dict.fromkeys(keys))
    found = {
        row.alert_key: _triage(row)
        for row in session.scalars(
            select(AlertTriageRow).where(AlertTriageRow.alert_key.in_(wanted))
        )
    }
    return {key: found.get(key, Triage(key)) for key in wanted}


def _triage(row: AlertTriageRow) -> Triage:
    return Triage(row.alert_key, row.state, row.assignee, row.note, row.updated_at, row.updated_by)


def log_of(session: Session, alert_key: str) -> list[Entry]:
    """The alert's triage actions, oldest first."""
    rows = session.scalars(
        select(AlertTriageLogRow)
        .where(AlertTriageLogRow.alert_key == alert_key)
        .order_by(AlertTriageLogRow.id)
    )
    return [Entry(r.action, r.state, r.assignee, r.note, r.at, r.actor) for r in rows]


def in_scope(session: Session, alert: AlertRow, scope: Scope) -> bool:
    """Does ``alert`` name a participant of ``scope`` in a party field of its evidence, or is
    it about a region within the scope's (a shortage's): the rule ``GET /alerts`` applies to
    an inspector?"""
    parties = scope.participants(session)
    if parties is None or scope.region is None:
        return True
    about = alert.evidence.get(REGION_FIELD)
    if isinstance(about, str) and in_region(about, scope.region):
        return True
    named = {alert.evidence.get(field) for field in PARTY_FIELDS}
    return not named.isdisjoint(parties)


def may_act(session: Session, alert: AlertRow, role: str, region: str | None) -> bool:
    """A regulator on any alert, an inspector on its region's, nobody else."""
    if role not in ACTING_ROLES:
        return False
    return role == "regulator" or in_scope(session, alert, Scope(region))


def act(
    session: Session,
    alert_key: str,
    action: str,
    *,
    actor: str,
    key_id: int,
    role: str,
    region: str | None,
    now: datetime,
    assignee: str | None = None,
    note: str | None = None,
) -> Triage:
    """Take ``action`` on the alert ``alert_key`` as the reader key ``key_id`` (held by
    ``actor``, with ``role`` and ``region``), and log it. ``assign`` needs an ``assignee``,
    ``resolve`` a ``note`` (the others may carry one). Refused, nothing changes:
    :class:`NotFoundError` (no such alert, or one out of an inspector's region),
    :class:`PermissionDeniedError` (an auditor), :class:`TriageTransitionError`,
    :class:`ValidationError`. The caller commits."""
    alert = session.get(AlertRow, alert_key)
    if alert is None or (role == "inspector" and not in_scope(session, alert, Scope(region))):
        raise NotFoundError(f"no alert {alert_key!r}")
    if not may_act(session, alert, role, region):
        raise PermissionDeniedError(f"a reader key with role {role!r} may not triage alerts")
    row = session.get(AlertTriageRow, alert_key, with_for_update=True)
    after = next_state(alert_key, row.state if row is not None else OPEN, action)
    who = _text(assignee, "name to assign to", MAX_ASSIGNEE, required=action == "assign")
    said = _text(note, "note", MAX_NOTE, required=action == "resolve")
    if row is None:
        row = AlertTriageRow(alert_key=alert_key)
        session.add(row)
    row.state = after
    if action == "assign":
        row.assignee = who
    elif action == "reopen":
        row.assignee = None
    if said is not None or action == "reopen":
        row.note = said
    row.updated_at, row.updated_by = now, actor
    session.add(
        AlertTriageLogRow(
            alert_key=alert_key,
            action=action,
            state=after,
            assignee=who,
            note=said,
            at=now,
            actor=actor,
            key_id=key_id,
        )
    )
    session.flush()
    return _triage(row)
