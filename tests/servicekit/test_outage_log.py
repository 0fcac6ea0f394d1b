"""Calm logs under outages (issue 21): a retry loop logs one line when it starts failing, a
summary every 30 s while it fails, and one line when it recovers; never one per attempt, and
no traceback for an expected outage (the chain or the database unreachable)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from medledger.errors import ChainUnavailableError
from servicekit.outage_log import OutageLog

log = logging.getLogger("tests.outage")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(health: OutageLog, clock: Clock, exc: BaseException, passes: int, every: float) -> None:
    for _ in range(passes):
        health.failure(exc)
        clock.now += every


def test_a_hundred_failing_passes_make_at_most_three_lines_and_recovery_one(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    health = OutageLog(log, "the batcher", clock=clock)
    caplog.set_level(logging.INFO, logger=log.name)
    fail(health, clock, ChainUnavailableError("connection refused"), passes=100, every=0.1)
    assert len(caplog.records) == 1
    (started,) = caplog.records
    assert started.levelno == logging.WARNING and started.exc_info is None
    assert started.getMessage() == (
        "the batcher is failing: ChainUnavailableError: connection refused"
    )
    caplog.clear()
    health.success()
    health.success()
    assert [r.getMessage() for r in caplog.records] == [
        "the batcher recovered after 10.0 s (100 failed attempts)"
    ]


def test_a_long_outage_is_summarised_every_30_seconds(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    health = OutageLog(log, "webhook delivery", clock=clock)
    caplog.set_level(logging.INFO, logger=log.name)
    database_down = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    fail(health, clock, database_down, passes=100, every=0.75)  # 74 s
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert messages[1].startswith("webhook delivery still failing after 30 s (41 failed attempts)")
    assert messages[2].startswith("webhook delivery still failing after 60 s (81 failed attempts)")
    assert all(r.exc_info is None for r in caplog.records)


def test_an_unexpected_error_gets_its_traceback_once_per_outage(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    health = OutageLog(log, "following the chain", clock=clock)
    caplog.set_level(logging.INFO, logger=log.name)
    fail(health, clock, KeyError("surprise"), passes=50, every=0.1)
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None
    health.success()
    fail(health, clock, KeyError("surprise"), passes=2, every=0.1)
    assert [r.exc_info is not None for r in caplog.records] == [True, False, True]


def test_a_reason_in_words_is_an_expected_outage(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    health = OutageLog(log, "loading a batch", clock=clock)
    caplog.set_level(logging.INFO, logger=log.name)
    health.failure("the gateway answered 503")
    assert [r.getMessage() for r in caplog.records] == [
        "loading a batch is failing: the gateway answered 503"
    ]
    assert health.failing and health.failed_attempts == 1
