from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.store.batches import (
    batch_values,
    batches_in_state,
    get_batch,
    get_batch_by_root,
    mark_anchored,
    mark_failed,
    mark_sent,
    next_nonce,
    reopen,
    reserve_nonce,
    seal_batches,
    set_next_nonce,
    set_root,
    unanchored_event_count,
)
from gateway.store.capture import record_capture
from gateway.store.engine import make_engine, session_factory
from medledger.errors import BatchStateError, RecordNotFoundError, StoreConflictError
from servicekit.sql.helpers import utcnow
from tests.gateway.store.store_support import ParticipantMaker, make_event

ROOT = bytes(range(32))
TX = "0x" + "cd" * 32


def test_sealing_by_size_per_participant(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice, bob = make_participant(), make_participant()
    a_events = [make_event() for _ in range(25)]
    record_capture(session, alice.address, a_events[:10])
    record_capture(session, bob.address, [make_event() for _ in range(9)])
    record_capture(session, alice.address, a_events[10:])
    sealed = seal_batches(session, max_events=10, max_age_seconds=3600)
    # alice: two full batches, 5 left waiting; bob: 9 < 10 and young, nothing yet
    assert [(b.participant, b.event_count, b.state) for b in sealed] == [
        (alice.address, 10, "sealed"),
        (alice.address, 10, "sealed"),
    ]
    assert batch_values(session, sealed[0].id) == [(e.event_hash, e.salt) for e in a_events[:10]]
    assert batch_values(session, sealed[1].id) == [(e.event_hash, e.salt) for e in a_events[10:20]]
    assert seal_batches(session, max_events=10, max_age_seconds=3600) == []
    assert unanchored_event_count(session) == 34


def test_a_backlog_is_sealed_in_bigger_batches_so_anchoring_catches_up(
    session: Session, make_participant: ParticipantMaker
) -> None:
    """Capture outpaced anchoring (each anchor costs the batcher round trips whatever its size,
    so at 4,500 events/s batches of 1,000 fell behind and the wait grew to 24 s, p95, in
    bench.ingest with two gateways): what waits beyond one batch is sealed in batches of up to
    ``backlog_max_events``, in order, and a remainder below ``max_events`` still waits."""
    alice = make_participant()
    events = [make_event() for _ in range(57)]
    record_capture(session, alice.address, events[:12])
    assert [
        b.event_count
        for b in seal_batches(session, max_events=10, max_age_seconds=3600, backlog_max_events=25)
    ] == [12]  # more than one batch waits: all of it, in one batch
    record_capture(session, alice.address, events[12:])
    sealed = seal_batches(session, max_events=10, max_age_seconds=3600, backlog_max_events=25)
    assert [b.event_count for b in sealed] == [25, 20]
    assert [v for b in sealed for v in batch_values(session, b.id)] == [
        (e.event_hash, e.salt) for e in events[12:]
    ]
    record_capture(session, alice.address, [make_event() for _ in range(7)])
    assert seal_batches(session, max_events=10, max_age_seconds=3600, backlog_max_events=25) == []


def test_sealing_by_age(session: Session, make_participant: ParticipantMaker) -> None:
    alice, bob = make_participant(), make_participant()
    start = utcnow()
    record_capture(session, alice.address, [make_event() for _ in range(3)], now=start)
    record_capture(
        session, bob.address, [make_event() for _ in range(2)], now=start + timedelta(seconds=4)
    )
    assert (
        seal_batches(session, max_events=100, max_age_seconds=5, now=start + timedelta(seconds=4))
        == []
    )
    sealed = seal_batches(
        session, max_events=100, max_age_seconds=5, now=start + timedelta(seconds=5)
    )
    assert [(b.participant, b.event_count) for b in sealed] == [(alice.address, 3)]
    sealed = seal_batches(
        session, max_events=100, max_age_seconds=5, now=start + timedelta(seconds=9)
    )
    assert [(b.participant, b.event_count) for b in sealed] == [(bob.address, 2)]
    assert seal_batches(session, max_events=100, max_age_seconds=0) == []


def _sealed(session: Session, address: str, n: int = 4) -> int:
    record_capture(session, address, [make_event() for _ in range(n)])
    (batch,) = seal_batches(session, max_events=n, max_age_seconds=3600)
    return batch.id


def test_lifecycle_survives_a_restart(
    db_url: str, engine: Engine, session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    first, second, third = (_sealed(session, alice.address) for _ in range(3))
    set_root(session, first, ROOT)
    mark_sent(session, first, tx_hash=TX, nonce=0)
    set_root(session, second, b"\x02" * 32)
    mark_sent(session, second, tx_hash=TX.replace("cd", "ce"), nonce=1)
    mark_anchored(session, second, block_number=12)
    session.close()
    engine.dispose()

    restarted = make_engine(db_url)  # a new process: nothing cached
    try:
        with session_factory(restarted)() as again:
            sent = batches_in_state(again, "sent")
            assert [(b.id, b.tx_hash, b.nonce, b.root, b.attempts) for b in sent] == [
                (first, TX, 0, ROOT, 1)
            ]
            assert [b.id for b in batches_in_state(again, "sealed")] == [third]
            anchored = batches_in_state(again, "anchored", participant=alice.address)
            assert [(b.id, b.block_number) for b in anchored] == [(second, 12)]
            assert anchored[0].anchored_at is not None and anchored[0].sent_at is not None
            assert unanchored_event_count(again) == 8
            # resume: the sent batch was mined; the sealed one is sent
            mark_anchored(again, first, block_number=13, root=ROOT)
            set_root(again, third, b"\x03" * 32)
            mark_sent(again, third, tx_hash=TX, nonce=2)
            assert unanchored_event_count(again) == 4
    finally:
        restarted.dispose()


def test_transitions_are_checked(session: Session, make_participant: ParticipantMaker) -> None:
    alice = make_participant()
    batch = _sealed(session, alice.address)
    with pytest.raises(StoreConflictError, match="has no root: set_root before sending"):
        mark_sent(session, batch, tx_hash=TX, nonce=0)
    set_root(session, batch, ROOT)
    set_root(session, batch, ROOT)  # the same root again is fine
    with pytest.raises(StoreConflictError, match="already has root"):
        set_root(session, batch, b"\x09" * 32)
    mark_sent(session, batch, tx_hash=TX, nonce=0)
    resent = mark_sent(session, batch, tx_hash=TX.replace("cd", "ef"), nonce=0)  # re-send
    assert resent.attempts == 2 and resent.tx_hash == TX.replace("cd", "ef")
    with pytest.raises(BatchStateError, match=r"cannot set its root from state 'sent'"):
        set_root(session, batch, ROOT)
    with pytest.raises(StoreConflictError, match="differs from stored root"):
        mark_anchored(session, batch, block_number=5, root=b"\x09" * 32)
    failed = mark_failed(session, batch, "receipt timeout")
    assert (failed.state, failed.last_error) == ("failed", "receipt timeout")
    with pytest.raises(BatchStateError, match="cannot mark it sent from state 'failed'"):
        mark_sent(session, batch, tx_hash=TX, nonce=1)
    assert reopen(session, batch).state == "sealed"
    done = mark_anchored(session, batch, block_number=5, tx_hash=TX)
    assert (done.state, done.last_error, done.block_number) == ("anchored", None, 5)
    assert mark_anchored(session, batch, block_number=5) == done  # repeated: no-op
    with pytest.raises(BatchStateError, match="cannot mark it failed from state 'anchored'"):
        mark_failed(session, batch, "late")
    with pytest.raises(RecordNotFoundError, match="batch 999 not found"):
        mark_sent(session, 999, tx_hash=TX, nonce=0)
    assert get_batch(session, 999) is None


def test_batch_contents_by_root(session: Session, make_participant: ParticipantMaker) -> None:
    alice = make_participant()
    events = [make_event() for _ in range(3)]
    record_capture(session, alice.address, events)
    (batch,) = seal_batches(session, max_events=3, max_age_seconds=60)
    assert get_batch_by_root(session, ROOT) is None
    set_root(session, batch.id, ROOT)
    contents = get_batch_by_root(session, ROOT)
    assert contents is not None and contents.batch.id == batch.id
    assert [(e.event_id, e.event_hash, e.salt, e.raw) for e in contents.events] == [
        (e.event_id, e.event_hash, e.salt, e.raw) for e in events
    ]


def test_nonces_survive_a_restart(
    db_url: str, session: Session, make_participant: ParticipantMaker
) -> None:
    address = "0x" + "a" * 40
    assert next_nonce(session, address) is None
    assert reserve_nonce(session, address, chain_next=3) == 3
    assert reserve_nonce(session, address, chain_next=0) == 4
    restarted = make_engine(db_url)
    try:
        with session_factory(restarted)() as again:
            assert next_nonce(again, address) == 5
            assert reserve_nonce(again, address, chain_next=2) == 5
            assert reserve_nonce(again, address, chain_next=9) == 9  # the node knows better
            set_next_nonce(again, address, 7)  # resynchronised after a "nonce too low"
            assert reserve_nonce(again, address) == 7
    finally:
        restarted.dispose()


def test_each_anchored_batch_is_one_log_line_once(
    session: Session, make_participant: ParticipantMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """`provenance up` and the services show one line per anchored batch (not per repeat)."""
    alice = make_participant()
    batch = _sealed(session, alice.address)
    set_root(session, batch, ROOT)
    mark_sent(session, batch, tx_hash=TX, nonce=0)
    with caplog.at_level("INFO", logger="provenance.gateway.anchoring"):
        mark_anchored(session, batch, block_number=7)
        mark_anchored(session, batch, block_number=7)  # repeated: no second line
    (record,) = [r for r in caplog.records if r.name == "provenance.gateway.anchoring"]
    assert record.getMessage() == (
        f"batch {batch} anchored: 4 events of {alice.address} in block 7 "
        f"(root 0x{ROOT.hex()}, tx {TX})"
    )
    assert record.__dict__["block"] == 7 and record.__dict__["events"] == 4
