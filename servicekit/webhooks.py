"""What every webhook sender of the project shares: the signature, the retry schedule and the
poster's shape (where a webhook may go: :mod:`servicekit.webhook_targets`).

- :func:`signature`: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` under the secret,
  the timestamp (unix seconds) sent beside it and signed with the body, so a delivery recorded
  once cannot be replayed as new; :func:`verify_signature` is what a receiver does.
- :class:`RetryPolicy`: exponential backoff, capped, up to a number of attempts.

Used by the gateway's recall notifications (gateway/webhooks.py) and the indexer's EPCIS
subscriptions (indexer/subscriptions/delivery.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt ``n`` (1-based) that fails is retried after ``min(base * factor**(n-1), cap)``
    seconds, until ``max_attempts`` attempts have failed."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    factor: float = 3.0
    max_delay_seconds: float = 3600.0
    timeout_seconds: float = 10.0

    def delay(self, attempts: int) -> float:
        return float(min(self.base_seconds * self.factor ** (attempts - 1), self.max_delay_seconds))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


#: Sends one POST: (url, body, headers, timeout) -> HTTP status. Raises on no answer.
Poster = Callable[[str, bytes, dict[str, str], float], int]
