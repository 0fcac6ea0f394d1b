"""Anchoring leases (issue 21): one holder per account, taken only if free, expired or already
the caller's, in one atomic statement on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.leases import AccountLeases, holder_is_gone
from gateway.store.engine import session_factory
from gateway.store.leases import acquire_lease, get_lease, release_leases, take_over_lease

ACCOUNT = "0x" + "a1" * 20
OTHER = "0x" + "b2" * 20
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_free_lease_is_taken_and_renewed_by_its_holder(session: Session) -> None:
    assert acquire_lease(session, ACCOUNT, "a", 15, now=at(0))
    assert acquire_lease(session, ACCOUNT, "a", 15, now=at(5))
    lease = get_lease(session, ACCOUNT)
    assert lease is not None and lease.holder == "a"
    assert (lease.acquired_at, lease.renewed_at, lease.expires_at) == (at(0), at(5), at(20))


def test_another_holder_waits_until_the_lease_expires(session: Session) -> None:
    assert acquire_lease(session, ACCOUNT, "a", 15, now=at(0))
    assert not acquire_lease(session, ACCOUNT, "b", 15, now=at(14.9))
    lease = get_lease(session, ACCOUNT)
    assert lease is not None and (lease.holder, lease.expires_at) == ("a", at(15))
    assert acquire_lease(session, ACCOUNT, "b", 15, now=at(15))
    lease = get_lease(session, ACCOUNT)
    assert lease is not None and (lease.holder, lease.acquired_at) == ("b", at(15))
    assert not acquire_lease(session, ACCOUNT, "a", 15, now=at(16))


def test_leases_are_per_account(session: Session) -> None:
    assert acquire_lease(session, ACCOUNT, "a", 15, now=at(0))
    assert acquire_lease(session, OTHER, "b", 15, now=at(0))
    assert not acquire_lease(session, OTHER, "a", 15, now=at(1))


def test_a_released_lease_is_free_at_once_and_only_the_holders_are_released(
    session: Session,
) -> None:
    assert acquire_lease(session, ACCOUNT, "a", 15, now=at(0))
    assert acquire_lease(session, OTHER, "b", 15, now=at(0))
    assert release_leases(session, "a") == 1
    assert get_lease(session, ACCOUNT) is None
    assert get_lease(session, OTHER) is not None
    assert acquire_lease(session, ACCOUNT, "c", 15, now=at(1))


def test_a_dead_holders_lease_is_taken_over_only_from_that_holder(session: Session) -> None:
    assert acquire_lease(session, ACCOUNT, "a", 15, now=at(0))
    assert not take_over_lease(session, ACCOUNT, "someone-else", "b", 15, now=at(1))
    assert take_over_lease(session, ACCOUNT, "a", "b", 15, now=at(1))
    lease = get_lease(session, ACCOUNT)
    assert lease is not None and (lease.holder, lease.expires_at) == ("b", at(16))


def test_of_many_batchers_asking_at_once_exactly_one_gets_the_lease(engine: Engine) -> None:
    sessions = session_factory(engine, write=True)
    start = threading.Barrier(8)
    won: list[str] = []

    def ask(holder: str) -> None:
        with sessions() as session:
            start.wait()
            if acquire_lease(session, ACCOUNT, holder, 15):
                won.append(holder)

    threads = [threading.Thread(target=ask, args=(f"holder-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    with sessions() as session:
        lease = get_lease(session, ACCOUNT)
    assert lease is not None and lease.holder == won[0]


def unused_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_a_lease_of_a_process_of_this_host_that_is_gone_is_taken_over_at_once(
    session: Session,
) -> None:
    """After a SIGKILL (no release), a restarted batcher need not wait for the lease to expire;
    a live process's lease (this one's, another batcher's in it) is waited for."""
    dead = AccountLeases(15, holder=f"{socket.gethostname()}:{unused_pid()}:0000")
    alive = AccountLeases(15, holder=f"{socket.gethostname()}:{os.getppid()}:0000")
    assert dead.claim(session, [ACCOUNT]) == {ACCOUNT}
    assert alive.claim(session, [OTHER]) == {OTHER}
    restarted = AccountLeases(15)
    assert restarted.claim(session, [ACCOUNT, OTHER]) == {ACCOUNT}
    lease = get_lease(session, ACCOUNT)
    assert lease is not None and lease.holder == restarted.holder


def test_a_lease_naming_a_pid_used_again_since_is_taken_over_at_once(session: Session) -> None:
    """A container restarted after a crash gives its processes the same pids again: a lease
    naming this very process (but none of its batchers), or a process that started after the
    lease was taken, is a previous process's."""
    earlier = datetime.now(UTC) - timedelta(days=365)  # before the parent process started
    host = socket.gethostname()
    mine = AccountLeases(15, holder=f"{host}:{os.getpid()}:0000")
    reused = AccountLeases(
        2 * 365 * 86400, holder=f"{host}:{os.getppid()}:0000", clock=lambda: earlier
    )  # still valid now
    mine.claim(session, [ACCOUNT])
    reused.claim(session, [OTHER])
    assert holder_is_gone(f"{host}:{os.getpid()}:ffff")
    assert not holder_is_gone(mine.holder)
    assert holder_is_gone(reused.holder, earlier)
    assert not holder_is_gone(reused.holder, datetime.now(UTC))
    restarted = AccountLeases(15)
    assert restarted.claim(session, [OTHER]) == {OTHER}


def test_a_batcher_finds_a_lease_it_lost_and_lets_it_go(session: Session) -> None:
    first = AccountLeases(15, clock=lambda: T0)
    assert first.claim(session, [ACCOUNT]) == {ACCOUNT}
    assert first.keep(session, ACCOUNT)  # renewed a moment ago: not even asked again
    later = AccountLeases(15, clock=lambda: at(20))
    assert later.claim(session, [ACCOUNT]) == {ACCOUNT}  # the first's lease expired
    first._renewed[ACCOUNT] = 0.0  # its renewal is due
    assert not first.keep(session, ACCOUNT)
    assert first.held == frozenset()
