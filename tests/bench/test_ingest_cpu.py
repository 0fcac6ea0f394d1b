"""bench.ingest's CPU accounting: PostgreSQL's share survives backends that exit mid-run."""

from __future__ import annotations

from bench.ingest import cpu_used


def test_a_backend_gone_by_the_end_takes_nothing_away_from_postgresql() -> None:
    """Summed over the processes alive at the end (their own time and their reaped children's),
    a backend that exited during the window no longer makes PostgreSQL's figure negative: its
    whole life's time is in the postmaster's (process 1) reaped children's time, so what it had
    used before the window is taken off (here backend 3: 7 s before, 2 s more during it)."""
    before = {"postgres:1": 10.0, "postgres:2": 5.0, "postgres:3": 7.0, "gateway": 1.0}
    after = {"postgres:1": 10.0 + 9.0, "postgres:2": 6.0, "postgres:4": 0.5, "gateway": 3.0}
    used = cpu_used(before, after)
    assert used == {"postgres": 2.0 + 1.0 + 0.5, "gateway": 2.0}
