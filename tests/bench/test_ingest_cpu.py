"""bench.ingest's CPU accounting: PostgreSQL's share survives backends that exit mid-run."""

from __future__ import annotations

from bench.ingest import cpu_used


def test_a_backend_gone_by_the_end_takes_nothing_away_from_postgresql() -> None:
    """Summed over the processes alive at the end (their own time and their reaped children's),
    a backend that exited during the window no longer makes PostgreSQL's figure negative: its
    time is in the postmaster's children's time."""
    before = {"postgres:1": 10.0, "postgres:2": 5.0, "postgres:3": 7.0, "gateway": 1.0}
    after = {"postgres:1": 17.5, "postgres:2": 6.0, "postgres:4": 0.5, "gateway": 3.0}
    used = cpu_used(before, after)
    assert used == {"postgres": 7.5 + 1.0 + 0.5, "gateway": 2.0}
