"""Webhook delivery of a subscription's new matching events, as EPCISQueryDocuments.

One pass (:meth:`SubscriptionDeliverer.step`) takes each subscription that is due and either
moves its cursor past events that do not match, or delivers one batch:

1. **What may be delivered**: events of blocks at least ``depth`` blocks behind the index's
   checkpoint (``subscription_depth``, on top of the follower's ``confirmations``), so a
   reorganisation no deeper than that never shows a subscriber an event of an orphaned block:
   nothing to retract (the binding has no retraction). A deeper one moves every cursor past
   the common ancestor back to it in the rollback's transaction
   (:func:`indexer.store.writes.rollback_to`): the new branch's events are delivered, the
   orphaned ones already delivered cannot be taken back (said in docs/indexer.md).
2. **Which**: the named query's events (its filters, in chain order) after the cursor, that
   the query's owner sees now (indexer/queries/visibility.py), while the owner has a live key.
3. **A batch** (at most ``batch`` events) is fixed before its first attempt: its end is
   committed (``batch_end``), so every retry, also after a restart, sends the same events with
   the same ``Idempotency-Key`` (``<subscriptionID>:<cursor>-<end>``).
4. **Delivered** on a 2xx answer: the cursor moves to the batch's end in the same transaction
   that records the answer (only if nothing moved it meanwhile: a rollback wins). Anything else
   is retried with exponential backoff (servicekit/webhooks.py), capped at an hour, until it is
   acknowledged or the subscription deleted: an event is never skipped.

Delivery is **at least once to the wire**: a crash after the receiver's 2xx and before the
commit sends the batch again, with the same ``Idempotency-Key`` and the same eventIDs, the
stable ids a receiver deduplicates by. Each POST is signed when the subscription has a
``signatureToken``: ``GS1-Signature: sha256=<hex HMAC-SHA256(token, "<timestamp>.<body>")>``
and ``GS1-Signature-Timestamp: <unix seconds>``. The URL is checked again, resolved once and
connected to as checked (servicekit/webhook_targets.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from indexer.queries.events import events_between, query_document
from indexer.store.models import NamedQueryRow, SubscriptionRow, first_sequence_of_block
from indexer.store.writes import get_checkpoint
from indexer.subscriptions.named import NamedQuery, from_row, owner_is_live
from indexer.subscriptions.store import next_run
from medledger.errors import ValidationError
from servicekit.outage_log import OutageLog
from servicekit.webhook_targets import TargetPolicy, WebhookClient
from servicekit.webhooks import Poster, RetryPolicy, signature

log = logging.getLogger("provenance.indexer.subscriptions")

SIGNATURE_HEADER = "GS1-Signature"
TIMESTAMP_HEADER = "GS1-Signature-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-Provenance-Delivery-Attempt"
SUBSCRIPTION_HEADER = "GS1-Subscription-ID"
#: the subscription's columns a pass may change before an attempt
_TRACKED = ("cursor", "batch_end", "run_end", "next_run_at", "attempts", "last_error",
            "next_attempt_at")  # fmt: skip
#: A batch re-read larger than this (visibility grew between attempts) is still sent whole.
RESEND_LIMIT = 100_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


def deliverable_before(session: Session, depth: int) -> int | None:
    """The first sequence number not yet deliverable: that of the block ``depth`` blocks
    behind the checkpoint, plus one (None before the first checkpoint)."""
    checkpoint = get_checkpoint(session)
    if checkpoint is None:
        return None
    return first_sequence_of_block(checkpoint.block_number - depth + 1)


def subscription_document(events: list[dict[str, Any]], subscription_id: str) -> dict[str, Any]:
    """The EPCISQueryDocument a subscription delivers (``subscriptionID`` in its results)."""
    document = query_document(events)
    document["epcisBody"]["queryResults"]["subscriptionID"] = subscription_id
    return document


@dataclass
class _Batch:
    subscription: str
    dest: str
    token: str | None
    cursor: int
    end: int
    attempts: int
    events: list[dict[str, Any]]


class SubscriptionDeliverer:
    """Delivers the subscriptions' new events; :meth:`step` is one pass, :meth:`run` loops."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        reads: sessionmaker[Session] | None = None,
        depth: int = 0,
        batch: int = 100,
        policy: RetryPolicy | None = None,
        targets: TargetPolicy | None = None,
        clock: Callable[[], datetime] = _utcnow,
        post: Poster | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions
        self.depth = depth
        self.batch = batch
        self.policy = policy or RetryPolicy(max_delay_seconds=3600.0)
        self._clock = clock
        self._post: Poster = post or WebhookClient(targets or TargetPolicy())
        self._wake = threading.Event()
        self._stop = threading.Event()

    def step(self) -> int:
        """One pass over the subscriptions due now; the number of deliveries attempted."""
        now = self._clock()
        with self._sessions() as session:
            due = list(
                session.scalars(
                    select(SubscriptionRow.id)
                    .where(
                        (SubscriptionRow.next_attempt_at.is_(None))
                        | (SubscriptionRow.next_attempt_at <= now)
                    )
                    .order_by(SubscriptionRow.created_at, SubscriptionRow.id)
                )
            )
        attempts = 0
        for subscription_id in due:
            try:
                batch = self._prepare(subscription_id, now)
            except OperationalError:
                raise  # the database: the whole pass is retried (run())
            except Exception as exc:  # noqa: BLE001 - one subscription must not stop the others
                log.warning("subscription %s: cannot be prepared: %r", subscription_id, exc)
                self._hold(subscription_id, now, f"cannot be prepared: {exc!r}")
                continue
            if batch is not None:
                self._attempt(batch)
                attempts += 1
        return attempts

    def _hold(self, subscription_id: str, now: datetime, error: str) -> None:
        """Try the subscription again later (an hour): something about it fails."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id)
                .values(
                    last_error=error[:500],
                    next_attempt_at=now + timedelta(seconds=self.policy.max_delay_seconds),
                )
            )

    def catch_up(self, max_passes: int = 1000) -> int:
        """Passes until nothing is left to attempt now (tests, and a start-up); the attempts."""
        total = 0
        for _ in range(max_passes):
            made = self.step()
            total += made
            if made == 0:
                break
        return total

    def _prepare(self, subscription_id: str, now: datetime) -> _Batch | None:
        """The batch to attempt for the subscription, or None (nothing to send now; the cursor
        or the schedule moved). Decided in a read transaction (the events are read there: no
        write lock is held while they are judged), then written in a short one, only if the
        subscription's cursor, batch and run are still what they were (a rollback, or another
        process, wins); a batch is sent only once its end is written."""
        with self._reads() as session:
            row = session.get(SubscriptionRow, subscription_id)
            if row is None:
                return None  # deleted meanwhile
            session.expunge(row)  # decided on a copy; written below
            was = {k: getattr(row, k) for k in _TRACKED}
            batch = self._decide(session, row, now)
            changes = {k: getattr(row, k) for k in _TRACKED if getattr(row, k) != was[k]}
        if changes:
            same = [SubscriptionRow.id == subscription_id]
            for name in ("cursor", "batch_end", "run_end"):
                column = getattr(SubscriptionRow, name)
                same.append(column.is_(None) if was[name] is None else column == was[name])
            with self._sessions() as session, session.begin():
                written = session.execute(update(SubscriptionRow).where(*same).values(**changes))
            if written.rowcount != 1:  # type: ignore[attr-defined]
                return None  # moved meanwhile: decided again next pass
        return batch

    def _decide(self, session: Session, row: SubscriptionRow, now: datetime) -> _Batch | None:
        """What to do for ``row`` (changed in place: the caller writes what changed)."""
        scheduled = row.schedule is not None
        if scheduled and row.run_end is None and (row.next_run_at is None or row.next_run_at > now):
            return None  # not its time yet
        query = from_row(session.get_one(NamedQueryRow, row.query_id))
        if not owner_is_live(session, query, now):
            row.last_error = "the query's owner has no live reader key: delivery paused"
            row.next_attempt_at = now + timedelta(seconds=self.policy.max_delay_seconds)
            return None
        if row.batch_end is not None:  # fixed before its first attempt: the same again
            events, _end = self._events(session, query, row.cursor, row.batch_end + 1, None)
            if events or row.batch_end == row.cursor:  # (an empty report: the same again)
                return self._batch(row, row.batch_end, events)
            row.cursor, row.batch_end, row.attempts = row.batch_end, None, 0
            return None  # none visible any more: nothing to send for that range
        if scheduled:
            return self._scheduled(session, row, query, now)
        before = deliverable_before(session, self.depth)
        if before is None or before - 1 <= row.cursor:
            return None
        events, end = self._events(session, query, row.cursor, before, self.batch)
        if not events:
            row.cursor = end  # judged up to there: nothing matched
            return None
        row.batch_end = end
        return self._batch(row, end, events)

    def _scheduled(
        self, session: Session, row: SubscriptionRow, query: NamedQuery, now: datetime
    ) -> _Batch | None:
        """A scheduled run: the events deliverable when it started, in batches; then, with
        ``reportIfEmpty`` and nothing sent, an empty document; then the next run's time."""
        if row.run_end is None:  # the run starts: what is deliverable now is its range
            before = deliverable_before(session, self.depth)
            row.run_end = row.cursor if before is None else max(row.cursor, before - 1)
        if row.cursor < row.run_end:
            events, end = self._events(session, query, row.cursor, row.run_end + 1, self.batch)
            if events:
                row.batch_end = end
                return self._batch(row, end, events)
            row.cursor = end
        started = row.next_run_at
        reported = row.last_notified_at is not None and (
            started is None or row.last_notified_at >= started
        )
        if row.report_if_empty and not reported:
            row.batch_end = row.cursor  # an empty report, sent like any batch
            return self._batch(row, row.cursor, [])
        schedule = json.loads(row.schedule or "{}")
        row.run_end = None
        row.next_run_at = next_run(schedule, max(now, started or now))
        return None

    @staticmethod
    def _batch(row: SubscriptionRow, end: int, events: list[dict[str, Any]]) -> _Batch:
        return _Batch(row.id, row.dest, row.signature_token, row.cursor, end, row.attempts, events)

    @staticmethod
    def _events(
        session: Session, query: NamedQuery, after: int, before: int, limit: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        return events_between(
            session,
            query.query(),
            after,
            before,
            within=query.visibility.events(session),
            limit=limit or RESEND_LIMIT,
        )

    def _attempt(self, batch: _Batch) -> None:
        attempt = batch.attempts + 1
        document = subscription_document(batch.events, batch.subscription)
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(self._clock().timestamp()))
        headers = {
            "Content-Type": "application/ld+json",
            "GS1-EPCIS-Version": "2.0.0",
            "GS1-CBV-Version": "2.0.0",
            SUBSCRIPTION_HEADER: batch.subscription,
            IDEMPOTENCY_HEADER: f"{batch.subscription}:{batch.cursor}-{batch.end}",
            ATTEMPT_HEADER: str(attempt),
            "User-Agent": "provenance-indexer-subscriptions/1",
        }
        if batch.token is not None:
            headers[SIGNATURE_HEADER] = signature(batch.token, timestamp, body)
            headers[TIMESTAMP_HEADER] = timestamp
        status: int | None = None
        error: str | None
        try:
            status = self._post(batch.dest, body, headers, self.policy.timeout_seconds)
            error = None if 200 <= status < 300 else f"answered HTTP {status}"
            if 300 <= status < 400:
                error = f"answered HTTP {status} (redirects are not followed)"
        except ValidationError as exc:  # the target is refused (servicekit/webhook_targets.py)
            error = f"refused ({exc.rule}): {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried
            error = f"{type(exc).__name__}: {exc}"
        now = self._clock()
        same = (
            SubscriptionRow.id == batch.subscription,
            SubscriptionRow.cursor == batch.cursor,
            SubscriptionRow.batch_end == batch.end,
        )
        with self._sessions() as session, session.begin():
            if error is None:
                values: dict[str, Any] = {
                    "cursor": batch.end,
                    "batch_end": None,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "last_notified_at": now,
                    "last_status": status,
                    "last_error": None,
                }
            else:
                values = {
                    "attempts": attempt,
                    "next_attempt_at": now + timedelta(seconds=self.policy.delay(attempt)),
                    "last_status": status,
                    "last_error": error[:500],
                }
            session.execute(update(SubscriptionRow).where(*same).values(**values))
        if error is not None:
            log.warning(
                "subscription %s: delivery of %d events to %s failed (attempt %d): %s",
                batch.subscription,
                len(batch.events),
                batch.dest,
                attempt,
                error,
            )

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self, interval: float = 1.0) -> None:
        """Deliver until :meth:`stop`, a pass every ``interval`` seconds (at once again after a
        pass that attempted something). A failing pass (database down) is retried, logged on
        change (servicekit/outage_log.py)."""
        self._stop.clear()
        health = OutageLog(log, "subscription delivery")
        while not self._stop.is_set():
            made = 0
            try:
                made = self.step()
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end deliveries
                health.failure(exc)
            else:
                health.success()
            if made == 0:
                self._wake.wait(interval)
                self._wake.clear()
