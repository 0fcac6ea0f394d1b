"""One batcher per account: the anchoring leases a batcher holds, taken and renewed in the store.

A batcher seals, sends and settles an account's batches only while it holds that account's lease
(``anchoring_leases``, gateway/store/leases.py). Every pass it takes the lease of each account
with work that it does not hold, and renews each lease it holds once a third of the time to live
has passed (not on every pass: a busy batcher passes ten times a second); an account whose lease
another batcher holds is skipped until that lease is released (a clean stop) or expires. Before
each batch it sends or settles, a lease older than a third of its time to live is renewed first,
and a lease lost meanwhile (this process stalled past it and another batcher took over) stops
the work on that account.

So two batchers on one database (a restarted gateway whose old batcher lives on, several gateway
processes) never race for an account: no duplicate anchor that reverts, no nonce handed out
twice (nonces are per account, reserved in the store by the lease's holder only).

A holder is ``host:pid:random``. A lease held by a process of this host that no longer exists
(killed with SIGKILL before it could release) is taken over at once rather than after it expires,
also when a restarted container's processes got the same pids again (the process now at that pid
started after the lease was taken); replicas sharing a database must therefore have distinct
host names (containers do by default).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.store.leases import acquire_lease, get_lease, release_leases, take_over_lease

log = logging.getLogger("provenance.gateway.batcher")

#: Renew a held lease once this share of its time to live has passed.
RENEW_FRACTION = 1 / 3


#: The holders made in this process (a lease naming this pid but none of them is a previous
#: process's: a container restarted after a crash gives its processes the same pids again).
_HOLDERS_HERE: set[str] = set()


def new_holder() -> str:
    """``host:pid:random``: unique per process and per batcher within it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(holder: str, acquired_at: datetime | None = None) -> bool:
    """True if ``holder`` names a process of this host that no longer runs: its pid is free,
    or it is this process's but not one of its holders, or the process now at that pid started
    after the lease was taken (``acquired_at``), so it is another one (Linux /proc)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return holder not in _HOLDERS_HERE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        pass
    started = process_started_at(pid)
    return started is not None and acquired_at is not None and started > acquired_at + _SLACK


#: /proc gives a process's start to the clock tick and the boot time to the second.
_SLACK = timedelta(seconds=2)


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` started (Linux /proc), or None if that cannot be told."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = os.sysconf("SC_CLK_TCK")
        return datetime.fromtimestamp(boot + int(fields[19]) / ticks, UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


class AccountLeases:
    """The anchoring leases one batcher holds (see the module's docstring)."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        holder: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"a lease's time to live must be positive, got {ttl_seconds}")
        self.ttl_seconds = ttl_seconds
        self.holder = holder or new_holder()
        _HOLDERS_HERE.add(self.holder)
        self._clock = clock
        self._renewed: dict[str, float] = {}  # account -> time.monotonic() of its last renewal
        self._waiting: set[str] = set()  # accounts another batcher holds (logged once)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._renewed)

    def claim(self, session: Session, accounts: Iterable[str]) -> set[str]:
        """Take or renew the lease of each of ``accounts`` (and renew due idle ones); the
        accounts of ``accounts`` this batcher holds now."""
        wanted = set(accounts)
        self._waiting &= wanted
        held: set[str] = set()
        for account in sorted(wanted | set(self._renewed)):
            if self._due(account):  # not held, or renewed a third of its time to live ago
                if self._acquire(session, account):
                    held.add(account)
            else:  # held and renewed lately: no write (a pass every 0.1 s would write each time)
                held.add(account)
        return held & wanted

    def keep(self, session: Session, account: str) -> bool:
        """Before working on ``account``: renew its lease if due; False if it is lost."""
        if account not in self._renewed:
            return False
        if not self._due(account):
            return True
        return self._acquire(session, account)

    def release(self, session: Session) -> int:
        """Give up every lease this batcher holds (a clean stop); how many were released."""
        released = release_leases(session, self.holder)
        if self._renewed:
            log.info("released the anchoring leases of %s", ", ".join(sorted(self._renewed)))
        self._renewed.clear()
        return released

    def _due(self, account: str) -> bool:
        renewed = self._renewed.get(account)
        return renewed is None or (time.monotonic() - renewed >= self.ttl_seconds * RENEW_FRACTION)

    def _acquire(self, session: Session, account: str) -> bool:
        started = time.monotonic()
        now = self._clock() if self._clock else None
        taken = acquire_lease(session, account, self.holder, self.ttl_seconds, now=now)
        if not taken:
            lease = get_lease(session, account)
            if lease is not None and holder_is_gone(lease.holder, lease.acquired_at):
                taken = take_over_lease(
                    session, account, lease.holder, self.holder, self.ttl_seconds, now=now
                )
                if taken:
                    log.info(
                        "took over the anchoring lease of %s from %s (that process is gone)",
                        account,
                        lease.holder,
                    )
        if taken:
            if account not in self._renewed:
                log.info("anchoring for %s (lease %s)", account, self.holder)
            self._renewed[account] = started
            self._waiting.discard(account)
            return True
        if self._renewed.pop(account, None) is not None:
            log.warning("lost the anchoring lease of %s to another batcher", account)
        if account not in self._waiting:
            self._waiting.add(account)
            lease = get_lease(session, account)
            log.info(
                "another batcher anchors for %s (%s, lease until %s): waiting",
                account,
                lease.holder if lease else "?",
                lease.expires_at.isoformat() if lease else "?",
            )
        return False
