"""Helpers for the store tests (imported by name, like ``epcis_vectors``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.store.capture import EventRecord
from gateway.store.participants import ParticipantRecord

ParticipantMaker = Callable[..., ParticipantRecord]


def make_event(n: int | None = None, *, biz_step: str | None = "commissioning") -> EventRecord:
    """An event with a unique (or, given ``n``, a reproducible) id."""
    digest = secrets.token_hex(32) if n is None else f"{n:064x}"
    return EventRecord(
        event_id=f"ni:///sha-256;{digest}?ver=CBV2.0",
        raw='{"type": "ObjectEvent"}',
        event_time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        type="ObjectEvent",
        biz_step=biz_step,
    )
