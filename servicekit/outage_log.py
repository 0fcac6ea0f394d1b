"""Calm logs for retry loops: one line when a loop starts failing, one when it recovers, and a
summary every so often in between, never a line per attempt.

A loop that retries every 0.1 s through a 47 s node outage would otherwise log 470 warnings (and
a database outage a traceback per attempt). Every retry loop (the batcher, the webhook
deliverer, the indexer's follower) reports each pass to an :class:`OutageLog`:

- healthy → failing: a warning naming the error (with its traceback only if the error is not an
  expected outage, such as the chain or the database being unreachable);
- while failing: a warning every ``summary_seconds`` with how long, how many failed attempts and
  the last error; an unexpected error type not seen yet in this outage gets its traceback once;
- failing → healthy: one line with how long the outage lasted and how many attempts failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from medledger.errors import ProvenanceError

#: Errors that mean "not now", logged without a traceback: the chain or a server is unreachable
#: (ProvenanceError, ConnectionError, TimeoutError), the database is unreachable, restarting or
#: locked (OperationalError) or every pooled connection is taken (the pool's TimeoutError).
EXPECTED_OUTAGES: tuple[type[BaseException], ...] = (
    ProvenanceError,
    ConnectionError,
    TimeoutError,
    OperationalError,
    PoolTimeoutError,
)
#: How often a loop that keeps failing says so.
SUMMARY_SECONDS = 30.0


class OutageLog:
    """The health of one retry loop, logged on change (see the module's docstring)."""

    def __init__(
        self,
        logger: logging.Logger,
        activity: str,
        *,
        expected: tuple[type[BaseException], ...] = EXPECTED_OUTAGES,
        summary_seconds: float = SUMMARY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.activity = activity
        self._expected = expected
        self._summary_seconds = summary_seconds
        self._clock = clock
        self._since: float | None = None  # when the current outage began; None: healthy
        self._attempts = 0
        self._last_summary = 0.0
        self._traced: set[type[BaseException]] = set()

    @property
    def failing(self) -> bool:
        return self._since is not None

    @property
    def failed_attempts(self) -> int:
        """Failed attempts in the current outage (0 when healthy)."""
        return self._attempts

    def failure(self, exc: BaseException | str) -> None:
        """A pass failed with ``exc`` (an exception, or what went wrong in words: expected)."""
        now = self._clock()
        traceback: BaseException | None = None
        if isinstance(exc, BaseException) and not isinstance(exc, self._expected):
            if type(exc) not in self._traced:
                self._traced.add(type(exc))
                traceback = exc
        if self._since is None:
            self._since, self._attempts, self._last_summary = now, 1, now
            self._log.warning(
                "%s is failing: %s", self.activity, _describe(exc), exc_info=traceback
            )
            return
        self._attempts += 1
        if traceback is not None or now - self._last_summary >= self._summary_seconds:
            self._last_summary = now
            self._log.warning(
                "%s still failing after %.0f s (%d failed attempts): %s",
                self.activity,
                now - self._since,
                self._attempts,
                _describe(exc),
                exc_info=traceback,
            )

    def success(self) -> None:
        """A pass succeeded."""
        if self._since is None:
            return
        self._log.info(
            "%s recovered after %.1f s (%d failed attempts)",
            self.activity,
            self._clock() - self._since,
            self._attempts,
        )
        self._since, self._attempts = None, 0
        self._traced.clear()


def _describe(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return exc
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
