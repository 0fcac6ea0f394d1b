"""Concurrent writers through the real store: write sessions never fail with "database is locked".

On SQLite a deferred ``BEGIN`` that reads and then writes cannot upgrade to the write lock while
another connection writes (SQLite answers "database is locked" at once, busy timeout or not);
write sessions begin with ``BEGIN IMMEDIATE`` instead. Read sessions keep a deferred ``BEGIN``
and read alongside a writer. PostgreSQL runs the same tests unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from gateway.store.batches import next_nonce, reserve_nonce
from gateway.store.capture import record_capture
from gateway.store.engine import session_factory
from gateway.store.models import CaptureRow, EventRow
from gateway.store.participants import create_participant
from tests.gateway.store.store_support import ParticipantMaker, make_event

THREADS = 8
ROUNDS = 15


def _in_threads(work: Callable[[int], None], threads: int = THREADS) -> list[BaseException]:
    """Run ``work(i)`` in ``threads`` threads released together; the errors they raised."""
    start = threading.Barrier(threads)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a writer hung"
    return errors


def test_concurrent_read_modify_writes_all_succeed(engine: Engine) -> None:
    """Eight threads reserving nonces for one account (read the counter, then bump it)."""
    writes = session_factory(engine, write=True)
    taken: list[int] = []
    lock = threading.Lock()

    def work(_: int) -> None:
        for _round in range(ROUNDS):
            with writes() as session:
                nonce = reserve_nonce(session, "0x" + "ab" * 20)
            with lock:
                taken.append(nonce)

    errors = _in_threads(work)
    assert errors == []
    assert sorted(taken) == list(range(THREADS * ROUNDS))  # none lost, none twice
    with session_factory(engine)() as session:
        assert next_nonce(session, "0x" + "ab" * 20) == THREADS * ROUNDS


def test_concurrent_captures_and_reads_all_succeed(
    engine: Engine, make_participant: ParticipantMaker
) -> None:
    """Writers capturing (each reads which events are known, then inserts) beside readers."""
    alice = make_participant()
    writes = session_factory(engine, write=True)
    reads = session_factory(engine)

    def work(i: int) -> None:
        for _round in range(ROUNDS):
            if i % 4 == 3:  # a reader among every four threads
                with reads() as session:
                    session.scalar(select(func.count()).select_from(EventRow))
                continue
            with writes() as session:
                record_capture(session, alice.address, [make_event() for _ in range(5)])

    errors = _in_threads(work)
    assert errors == []
    writers = sum(1 for i in range(THREADS) if i % 4 != 3)
    with reads() as session:
        assert session.scalar(select(func.count()).select_from(CaptureRow)) == writers * ROUNDS
        assert session.scalar(select(func.count()).select_from(EventRow)) == writers * ROUNDS * 5


def test_concurrent_participants_are_all_created(engine: Engine) -> None:
    writes = session_factory(engine, write=True)

    def work(i: int) -> None:
        for n in range(ROUNDS):
            with writes() as session:
                create_participant(
                    session,
                    address=f"0x{i:020x}{n:020x}",
                    name=f"participant {i}/{n}",
                    roles=2,
                    gln=f"{4700000000000 + i * 1000 + n}",
                )

    assert _in_threads(work) == []


def _begins(engine: Engine, session: Session) -> list[str]:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        session.execute(select(1))
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_only_write_sessions_begin_immediate_on_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's; PostgreSQL begins as before")
    with session_factory(engine, write=True)() as writer:
        assert _begins(engine, writer) == ["BEGIN IMMEDIATE"]
    with session_factory(engine)() as reader:
        assert _begins(engine, reader) == ["BEGIN"]


def test_a_reader_inside_a_writers_transaction_sees_nothing_uncommitted(
    engine: Engine, make_participant: ParticipantMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read session opened on the writer's own thread, mid-transaction, neither blocks nor
    sees the uncommitted capture (the writer holds the write lock; readers need none)."""
    import gateway.store.capture as capture_module

    alice = make_participant()
    seen: list[int] = []

    def look(*_: object) -> None:  # runs inside the capture's transaction, before the commit
        with session_factory(engine)() as other:
            seen.append(int(other.scalar(select(func.count()).select_from(EventRow)) or 0))

    monkeypatch.setattr(capture_module, "apply_changes", look)
    with session_factory(engine, write=True)() as writer:
        record_capture(writer, alice.address, [make_event() for _ in range(10)])
    assert seen == [0]
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 10
