"""Custody locks on PostgreSQL: per-key transaction-level advisory locks (issue 19).

A capture takes :data:`~medledger.custody.lock_keys.GLOBAL_KEY` *shared*, then the keys its
document names (:func:`~medledger.custody.lock_keys.document_keys`) in ascending order in one
statement, then each key its check discovers (an item's parent, the items packed in it) before
reading it (:class:`~gateway.store.custody_view.SqlCustodyView` asks). All are released by the
transaction's commit or rollback. Captures about different items share no key and run side by
side; captures about one item run one after the other, the second seeing the first's effect.
Whatever needs a still view of everything (recalls, code issuance) takes the global key
exclusively (:func:`~gateway.store.custody_view.custody_lock`).

Keys discovered while reading are taken out of the sorted order, so two captures of one aggregate
can deadlock; PostgreSQL then aborts one of them (SQLSTATE 40P01, after ``deadlock_timeout``) and
:class:`gateway.intake.Intake` captures that document again under the exclusive global key, as
it does when the server's lock table is full (53200: each key is one entry, and the table holds
``max_locks_per_transaction`` x ``max_connections`` of them; docs/gateway.md, "Processes").
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from medledger.custody.lock_keys import GLOBAL_KEY, key_number

#: SQLSTATEs after which a capture is tried again under the exclusive global key: a deadlock
#: between two captures' discovered keys, and a full lock table.
RETRY_EXCLUSIVE = frozenset({"40P01", "53200"})

_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)")
_LOCK_ALL = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) k")


class CustodyLocks:
    """The custody keys one PostgreSQL transaction holds, and taking more of them."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._held: set[int] = set()
        self.statements = 0  # lock statements sent, for tests

    def begin(self, names: Iterable[str]) -> None:
        """The global key shared, then ``names`` (sorted); first thing in the transaction."""
        self._session.execute(_LOCK_SHARED, {"key": GLOBAL_KEY})
        self.statements += 1
        self.take(names)

    def take(self, names: Iterable[str]) -> None:
        """Hold every key of ``names`` (those not yet held, in ascending order, one statement)."""
        numbers = sorted({key_number(n) for n in names} - self._held)
        if not numbers:
            return
        # unnest yields the array in order and the lock calls run row by row in that order
        self._session.execute(_LOCK_ALL, {"keys": numbers})
        self.statements += 1
        self._held.update(numbers)

    def holds(self, name: str) -> bool:
        return key_number(name) in self._held

    @property
    def held(self) -> int:
        return len(self._held)


def retry_exclusive(exc: DBAPIError) -> bool:
    """Whether a capture that failed with ``exc`` should be tried again under the global key."""
    return getattr(exc.orig, "sqlstate", None) in RETRY_EXCLUSIVE
