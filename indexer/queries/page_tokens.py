"""``nextPageToken`` for the EPCIS query interface: opaque, signed, bound to its query.

A token is ``base64url(payload).base64url(mac)``: the payload holds a digest of the query it
belongs to (its ``scope``: the filters, never the page size), the sort key of the last item
served and how many were served; the MAC is HMAC-SHA256 under the index's page-token key. A
token edited, forged or sent with other filters is refused (400 on ``nextPageToken``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from medledger.errors import QueryParameterError


class PageTokens:
    """Seals and opens page tokens under one secret (the index's ``page-token.key``)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:16]

    @staticmethod
    def _digest(scope: str) -> str:
        return hashlib.sha256(scope.encode()).hexdigest()[:32]

    def encode(self, scope: str, key: list[Any], served: int) -> str:
        """A token for the page after ``key`` of the query ``scope`` names."""
        payload = json.dumps(
            {"q": self._digest(scope), "k": key, "n": served}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, scope: str, token: str | None) -> tuple[list[Any] | None, int]:
        """The last key served and the count served (None, 0: no token, the first page)."""
        if token is None:
            return None, 0
        try:
            text, mac = token.split(".")
            payload = _unb64(text)
            good = hmac.compare_digest(_unb64(mac), self._mac(payload))
            decoded = json.loads(payload) if good else None
        except (ValueError, binascii.Error):
            decoded = None
        if (
            not isinstance(decoded, dict)
            or decoded.get("q") != self._digest(scope)
            or not isinstance(decoded.get("k"), list)
            or not isinstance(decoded.get("n"), int)
        ):
            raise QueryParameterError(
                "nextPageToken: not a token this index gave out for this query (the filters "
                "must stay as they were; only perPage may change)",
                rule="query.parameter",
                pointer="nextPageToken",
            )
        return decoded["k"], decoded["n"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
