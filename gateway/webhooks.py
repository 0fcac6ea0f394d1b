"""Webhook deliveries of recall notifications, from the store's outbox (``webhook_deliveries``).

A notification and its outbox row are committed with the recall, so an acknowledged recall is
never lost: the deliverer picks up whatever is due, also after a restart. Each attempt POSTs the
notification as JSON, signed with HMAC-SHA256 under the participant's webhook secret:

- ``X-Provenance-Signature: sha256=<hex of HMAC(secret, "<timestamp>." + body)>``
- ``X-Provenance-Timestamp: <unix seconds>`` (signed, so an old delivery cannot be replayed
  as new)
- ``Idempotency-Key: <notification id>`` (the same on every attempt)

A 2xx answer delivers; anything else (another status, a redirect, no answer) is retried with
exponential backoff up to :attr:`RetryPolicy.max_attempts`, then the delivery is marked
``failed``. Every attempt's status and error is recorded. See ``docs/recalls.md``.

Each attempt checks the URL again, resolves its host once, checks every address and connects to
the one it checked (:mod:`servicekit.webhook_targets`); a refused target is not retried.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.store.recalls import DueDelivery, NotificationRecord, due_deliveries, record_attempt
from medledger.errors import ValidationError
from servicekit.outage_log import OutageLog
from servicekit.webhook_targets import TargetPolicy, WebhookClient
from servicekit.webhooks import Poster, RetryPolicy, signature, verify_signature

log = logging.getLogger("provenance.gateway.webhooks")

SIGNATURE_HEADER = "X-Provenance-Signature"
TIMESTAMP_HEADER = "X-Provenance-Timestamp"
ATTEMPT_HEADER = "X-Provenance-Delivery-Attempt"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: shared with the indexer's subscriptions (servicekit/webhooks.py); named here for the tests
__all__ = ["RetryPolicy", "WebhookDeliverer", "notification_json", "signature", "verify_signature"]


def notification_json(note: NotificationRecord) -> dict[str, Any]:
    """A notification as the API and the webhooks show it (``suspensionId`` null but on those
    of a suspension: its own, its lifting's, the recall it was escalated to)."""
    return {
        "id": note.id,
        "kind": note.kind,
        "recallId": note.recall_id,
        "suspensionId": note.suspension_id,
        "gtin": note.gtin,
        "lot": note.lot,
        "reason": note.reason,
        "reasonCode": note.reason_code,
        "holding": note.holding,
        "participant": note.participant,
        "createdAt": note.created_at.isoformat().replace("+00:00", "Z"),
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookDeliverer:
    """Delivers due outbox rows; :meth:`step` is one pass, :meth:`run` loops until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        targets: TargetPolicy | None = None,
        post: Poster | None = None,
    ) -> None:
        """``targets``: where deliveries may go (public addresses only by default); ``post``
        replaces the HTTP client (tests)."""
        self._sessions = sessions
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._post: Poster = post or WebhookClient(targets or TargetPolicy())
        self._wake = threading.Event()
        self._stop = threading.Event()

    def step(self, *, limit: int = 100) -> int:
        """Attempt every delivery due now, once. Returns the number of attempts made."""
        now = self._clock()
        with self._sessions() as session:
            due = due_deliveries(session, now, limit=limit)
        for item in due:
            self._attempt(item)
        return len(due)

    def _attempt(self, item: DueDelivery) -> None:
        note = item.notification
        attempt = item.delivery.attempts + 1
        status: int | None = None
        error: str | None
        give_up = False  # nothing a retry could change
        url = item.webhook.url if item.webhook else None
        if item.webhook is None:
            error = "the participant has no webhook any more"
            give_up = True
        else:
            body = json.dumps(notification_json(note), separators=(",", ":")).encode()
            timestamp = str(int(self._clock().timestamp()))
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(item.webhook.secret, timestamp, body),
                TIMESTAMP_HEADER: timestamp,
                IDEMPOTENCY_HEADER: str(note.id),
                ATTEMPT_HEADER: str(attempt),
                "User-Agent": "provenance-gateway-webhooks/1",
            }
            try:
                status = self._post(item.webhook.url, body, headers, self.policy.timeout_seconds)
                error = None if 200 <= status < 300 else f"answered HTTP {status}"
                if 300 <= status < 400:
                    error = f"answered HTTP {status} (redirects are not followed)"
            except ValidationError as exc:  # the target is refused (servicekit/webhook_targets.py)
                error = f"refused ({exc.rule}): {exc}"
                give_up = True
            except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried
                error = f"{type(exc).__name__}: {exc}"
        now = self._clock()
        retry_at = (
            now + timedelta(seconds=self.policy.delay(attempt))
            if error is not None and attempt < self.policy.max_attempts and not give_up
            else None
        )
        with self._sessions() as session:
            record_attempt(
                session,
                note.id,
                at=now,
                url=url,
                status=status,
                error=error,
                next_attempt_at=retry_at,
            )
        if error is not None:
            log.warning(
                "webhook delivery of notification %s to %s: attempt %s failed (%s)%s",
                note.id,
                url,
                attempt,
                error,
                "" if retry_at else "; giving up",
            )

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self, interval: float = 1.0) -> None:
        """Deliver until :meth:`stop`; wakes early when a recall is recorded. A pass that fails
        (the database is down) is retried, logged on change (servicekit/outage_log.py)."""
        self._stop.clear()
        health = OutageLog(log, "webhook delivery")
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end deliveries
                health.failure(exc)
            else:
                health.success()
            self._wake.wait(interval)
            self._wake.clear()
