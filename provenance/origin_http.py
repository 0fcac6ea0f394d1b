"""The gateway and the indexer over HTTP, as :mod:`provenance.origin`'s two client protocols
(the indexer serves both).

Both take an ``httpx.Client`` (a FastAPI ``TestClient`` is one), so tests can drive in-process
apps through the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx

from provenance.origin import OriginError

TIMEOUT = 30.0


def read_key(path: Path) -> str:
    """An API key from a file (first line, stripped); unreadable or empty is an OriginError."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise OriginError(f"cannot read the key file {path}: {exc.strerror}") from exc
    if not key:
        raise OriginError(f"the key file {path} is empty")
    return key


class _Http:
    service = "service"

    def __init__(self, client: httpx.Client, api_key: str | None = None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    @classmethod
    def at(cls, url: str, api_key: str) -> Self:
        return cls(httpx.Client(base_url=url, timeout=TIMEOUT), api_key)

    def get_json(self, path: str) -> dict[str, Any]:
        try:
            response = self.client.get(path, headers=self.headers)
        except httpx.HTTPError as exc:
            raise OriginError(f"the {self.service} does not answer: {exc}") from exc
        if response.status_code != 200:
            raise OriginError(
                f"the {self.service} answered {response.status_code} to GET {path}: "
                f"{_problem(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise OriginError(f"the {self.service} answered GET {path} with no JSON") from exc
        if not isinstance(body, dict):
            raise OriginError(f"the {self.service} answered GET {path} with no JSON object")
        return body

    def close(self) -> None:
        self.client.close()


class HttpGateway(_Http):
    """Receipts from the gateway (``GET /events/{eventID}/receipt``, regulator or auditor key)."""

    service = "gateway"

    def receipt(self, event_id: str) -> dict[str, Any]:
        return self.get_json(f"/events/{quote(event_id, safe='')}/receipt")


class HttpIndexer(_Http):
    """Traces from the indexer's query API (``GET /trace/{id}``, reader key), and receipts the
    index issues itself (``GET /events/{eventID}/receipt``): both protocols at once, so a bundle
    can be made without the gateway."""

    service = "indexer"

    def trace(self, identifier: str) -> dict[str, Any]:
        return self.get_json(f"/trace/{quote(identifier, safe='')}")

    def receipt(self, event_id: str) -> dict[str, Any]:
        return self.get_json(f"/events/{quote(event_id, safe='')}/receipt")


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]
