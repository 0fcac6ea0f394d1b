"""A regression guard on bulk insertion, far below what the store does (see docs/storage.md)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from gateway.store.capture import record_capture
from gateway.store.custody_view import SqlCustodyView, custody_lock
from medledger.custody.state import ItemState, ItemStatus, PutItem
from tests.gateway.store.store_support import ParticipantMaker, make_event

FLOOR = 1_000  # events/s; measured: 6,000-16,000 with 1,000 item upserts per document


@pytest.mark.slow
def test_documents_of_a_thousand_events_go_in_quickly(
    session: Session, make_participant: ParticipantMaker
) -> None:
    maker = make_participant()
    documents = 3
    elapsed = 0.0
    for d in range(documents):
        events = [make_event() for _ in range(1000)]
        changes = [
            PutItem(
                ItemState(
                    f"https://id.gs1.org/01/09506000134352/21/{d}-{i}",
                    ItemStatus.ACTIVE,
                    maker.address,
                    "https://id.gs1.org/414/4700000000017",
                    None,
                    "09506000134352",
                    "L1",
                )
            )
            for i in range(1000)
        ]
        start = time.perf_counter()
        custody_lock(session)
        SqlCustodyView(session).prefetch(c.state.identifier for c in changes)
        result = record_capture(session, maker.address, events, changes)
        elapsed += time.perf_counter() - start
        assert result.stored == 1000
    rate = documents * 1000 / elapsed
    assert rate >= FLOOR, f"{rate:,.0f} events/s, expected at least {FLOOR:,}"
