"""The gateway's durable SQL store: participants and API keys (participants.py), captures and
events (capture.py), batches and anchors (batches.py), custody state (custody_view.py), nonces
and anchoring leases (leases.py), recalls, notifications and the webhook outbox (recalls.py),
lots and issued codes (lots.py), the events that made each item's custody (event_items.py) and
undoing an event declared erroneous (undo.py); engine.py opens and upgrades it. SQLite by
default, PostgreSQL in production. See ``docs/storage.md``, ``docs/recalls.md``, ``docs/codes.md``.

Import from those modules. The package re-exports only what the intake uses (gateway/intake.py:
one capture against the custody state) and the custody view's names.
"""

from __future__ import annotations

from .capture import CaptureResult, EventRecord, known_event_ids, record_capture
from .custody_view import SqlCustodyView, apply_changes, custody_lock, set_lot_recalled
from .declarations import DeclarationRecord, event_submitters
from .event_items import touches
from .participants import ParticipantRecord
from .undo import undo_declared

__all__ = [
    "CaptureResult",
    "DeclarationRecord",
    "EventRecord",
    "event_submitters",
    "ParticipantRecord",
    "SqlCustodyView",
    "apply_changes",
    "custody_lock",
    "known_event_ids",
    "record_capture",
    "set_lot_recalled",
    "touches",
    "undo_declared",
]
