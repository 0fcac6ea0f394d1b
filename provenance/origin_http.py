"""The gateway and the indexer over HTTP, as :mod:`provenance.origin`'s two client protocols
(the indexer serves both), on :class:`provenance.http.Service`.

Both take an ``httpx.Client`` (a FastAPI ``TestClient`` is one), so tests can drive in-process
apps through the same code. Every failure is an :class:`OriginError` (the key files are read
by :func:`provenance.http.read_key`).
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import quote

import httpx

from provenance.http import ORIGIN_TIMEOUT, Service, ServiceError, connect, problem
from provenance.origin import OriginError


class _Http:
    service = "service"

    def __init__(self, client: httpx.Client, api_key: str | None = None) -> None:
        self.http = Service(self.service, client, api_key)

    @classmethod
    def at(cls, url: str, api_key: str) -> Self:
        return cls(connect(url, timeout=ORIGIN_TIMEOUT), api_key)

    def get_json(self, path: str) -> dict[str, Any]:
        try:
            response = self.http.get(path)
        except ServiceError as exc:
            raise OriginError(str(exc)) from exc
        if response.status_code != 200:
            raise OriginError(
                f"the {self.service} answered {response.status_code} to GET {path}: "
                f"{problem(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise OriginError(f"the {self.service} answered GET {path} with no JSON") from exc
        if not isinstance(body, dict):
            raise OriginError(f"the {self.service} answered GET {path} with no JSON object")
        return body

    def close(self) -> None:
        self.http.client.close()


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
