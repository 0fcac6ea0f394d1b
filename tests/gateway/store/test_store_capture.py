from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.store.batches import mark_anchored, mark_sent, seal_batches, set_root
from gateway.store.capture import (
    EventRecord,
    get_capture,
    get_event,
    known_event_ids,
    new_salts,
    record_capture,
    record_rejection,
)
from gateway.store.engine import session_factory
from gateway.store.models import CaptureRow, EventItemRow, EventRow, ItemRow, QuantityRow
from medledger.custody.state import ItemState, ItemStatus, MoveQuantity, PutItem
from medledger.errors import StoreConflictError
from tests.gateway.store.store_support import ParticipantMaker, make_event


def _count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_events_are_stored_with_hash_and_salt(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    events = [make_event() for _ in range(3)]
    result = record_capture(session, alice.address, events)
    assert result.event_ids == tuple(e.event_id for e in events)
    assert (result.stored, result.duplicates) == (3, 0)
    stored = get_event(session, events[1].event_id)
    assert stored is not None
    assert stored.event_hash == events[1].event_hash == bytes.fromhex(events[1].event_id[14:78])
    assert stored.salt == events[1].salt and len({e.salt for e in events}) == 3
    assert stored.raw == events[1].raw and stored.event_time == events[1].event_time
    assert stored.participant == alice.address and stored.capture_id == result.capture_id
    assert stored.batch is None
    assert get_event(session, make_event().event_id) is None


def test_a_documents_salts_are_read_at_once_each_its_own() -> None:
    salts = new_salts(1000)
    assert len(salts) == 1000 and {len(s) for s in salts} == {32}
    assert len(set(salts)) == 1000 and new_salts(0) == []


def test_same_document_twice_is_stored_once(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    events = [make_event(n) for n in range(1, 5)]
    first = record_capture(session, alice.address, events)
    again = [make_event(n) for n in range(1, 5)]  # same ids, fresh salts
    second = record_capture(session, alice.address, again)
    assert second.capture_id != first.capture_id
    assert second.event_ids == first.event_ids
    assert (second.stored, second.duplicates) == (0, 4)
    assert _count(session, EventRow) == 4
    stored = get_event(session, events[0].event_id)
    assert stored is not None
    assert stored.salt == events[0].salt  # the first record counts
    assert stored.capture_id == first.capture_id
    capture = get_capture(session, second.capture_id)
    assert capture is not None and capture.event_ids == first.event_ids
    assert capture.status == "accepted"


def test_partly_known_document_and_repeats_within_one(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    record_capture(session, alice.address, [make_event(1)])
    result = record_capture(
        session, alice.address, [make_event(1), make_event(2), make_event(2), make_event(3)]
    )
    assert (result.stored, result.duplicates) == (2, 2)
    assert known_event_ids(session, [make_event(n).event_id for n in (1, 3, 9)]) == {
        make_event(1).event_id,
        make_event(3).event_id,
    }
    capture = get_capture(session, str(result.capture_id))
    assert capture is not None and len(capture.event_ids) == 4


def test_a_failure_mid_document_stores_nothing(
    engine: Engine, session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    record_capture(
        session,
        alice.address,
        [make_event(1)],
        [
            MoveQuantity(
                "https://id.gs1.org/01/09506000134352/10/L1", alice.address, Decimal(5), "KGM"
            )
        ],
    )
    item = ItemState(
        "https://id.gs1.org/01/09506000134352/21/1",
        ItemStatus.ACTIVE,
        alice.address,
        None,
        None,
        "09506000134352",
        "L1",
    )
    # The second move consumes more than is held: the CHECK fails after the events went in.
    with pytest.raises(StoreConflictError, match="capture not recorded"):
        record_capture(
            session,
            alice.address,
            [make_event(n) for n in range(2, 1002)],
            [
                PutItem(item),
                MoveQuantity(
                    "https://id.gs1.org/01/09506000134352/10/L1", alice.address, Decimal(-6), "KGM"
                ),
            ],
        )
    with session_factory(engine)() as other:  # what any other reader sees
        assert _count(other, EventRow) == 1
        assert _count(other, CaptureRow) == 1
        assert _count(other, ItemRow) == 0
        assert other.scalar(select(QuantityRow.quantity)) == Decimal(5)
    # and the session is usable again
    record_capture(session, alice.address, [make_event(2)])
    assert _count(session, EventRow) == 2


def test_an_exception_in_the_middle_rolls_back(
    session: Session, make_participant: ParticipantMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.store.capture as capture_module

    alice = make_participant()

    def boom(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(capture_module, "apply_changes", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        record_capture(session, alice.address, [make_event() for _ in range(10)])
    assert _count(session, EventRow) == 0 and _count(session, CaptureRow) == 0


def test_nothing_is_visible_before_commit(
    engine: Engine,
    session: Session,
    make_participant: ParticipantMaker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gateway.store.capture as capture_module

    alice = make_participant()
    seen: list[int] = []

    def look(*_: object) -> None:  # runs inside the capture's transaction, before the commit
        with session_factory(engine)() as other:
            seen.append(_count(other, EventRow))

    monkeypatch.setattr(capture_module, "apply_changes", look)
    record_capture(session, alice.address, [make_event() for _ in range(10)])
    assert seen == [0]
    assert _count(session, EventRow) == 10


def test_rejections_are_remembered_without_events(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    reason = {"type": "about:blank", "title": "rule", "eventIndex": 3, "rule": "custody.ship"}
    capture_id = record_rejection(session, alice.address, reason, event_count=5)
    capture = get_capture(session, capture_id)
    assert capture is not None
    assert (capture.status, capture.error, capture.event_ids) == ("rejected", reason, ())
    assert _count(session, EventRow) == 0
    assert get_capture(session, uuid.uuid4()) is None


def test_capture_is_anchored_when_all_its_events_are(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    result = record_capture(session, alice.address, [make_event() for _ in range(3)])
    (batch,) = seal_batches(session, max_events=3, max_age_seconds=60)
    set_root(session, batch.id, b"\x01" * 32)
    mark_sent(session, batch.id, tx_hash="0x" + "ab" * 32, nonce=0)
    capture = get_capture(session, result.capture_id)
    assert capture is not None and capture.status == "accepted"
    mark_anchored(session, batch.id, block_number=7)
    capture = get_capture(session, result.capture_id)
    assert capture is not None and capture.status == "anchored"
    stored = get_event(session, result.event_ids[0])
    assert stored is not None and stored.batch is not None
    assert (stored.batch.root, stored.batch.block_number) == (b"\x01" * 32, 7)


@pytest.mark.parametrize(
    ("event_id", "message"),
    [
        ("urn:uuid:1", "not a CBV 2.0 event hash"),
        ("ni:///sha-256;abcd?ver=CBV2.0", "has 2 bytes, expected 32"),
    ],
)
def test_event_records_check_their_id(event_id: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventRecord(event_id, "{}", make_event().event_time, "ObjectEvent")


def test_what_each_new_event_named_goes_into_event_items_with_its_seq(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    events = [make_event(), make_event()]
    named = {
        events[0].event_id: {"pack-1": False, "pack-2": False},
        events[1].event_id: {"case-1": True, "pack-1": True},
    }
    record_capture(session, alice.address, events, custody_items=named)
    # the same events again, as a concurrent capture that missed them would: no rows added
    record_capture(session, alice.address, events, known=set(), custody_items=named)
    seqs: dict[str, int] = dict(session.execute(select(EventRow.event_id, EventRow.seq)).all())
    rows = session.execute(
        select(EventItemRow.identifier, EventItemRow.seq, EventItemRow.packing)
    ).all()
    assert sorted(tuple(r) for r in rows) == sorted(
        (identifier, seqs[event_id], packing)
        for event_id, items in named.items()
        for identifier, packing in items.items()
    )
