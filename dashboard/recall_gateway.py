"""The gateway, as the dashboard's Recall and Release buttons reach it: its HTTP API with the
regulator's key, exactly the calls ``provenance recall`` and ``provenance release`` make
(``POST /recalls``, ``POST /recalls/{gtin}/{lot}/release``), and the reach of a recall
(``GET /recalls``, ``GET /recalls/{id}/notifications``).

The pages never touch the gateway's store: a recall is on-chain first and the gateway records
and notifies in one commit, as from the CLI. Where the indexer is given no gateway URL or no
regulator key (``PROVENANCE_INDEXER_RECALL_API_KEY[_FILE]``, read at the edge), the pages say
recalls are not configured here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

from medledger.errors import ProvenanceError

#: A recall waits for its chain transaction: as long as the CLI waits.
WRITE_TIMEOUT: Final = 120.0
READ_TIMEOUT: Final = 10.0


class GatewayRefused(ProvenanceError):
    """The gateway answered with a problem (``status``, its ``detail``), or did not answer
    (``status`` 0): one of the project's errors (medledger/errors.py), like every other."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class RecallGateway:
    """``client``: an ``httpx.Client`` whose base URL is the gateway's (a TestClient in tests);
    ``key``: the regulator's gateway API key; ``writer``: the client recalls and releases go
    through (default ``client``), which waits as long as a chain transaction takes."""

    client: httpx.Client
    key: str
    writer: httpx.Client | None = None

    @classmethod
    def over_http(cls, url: str, key: str) -> RecallGateway:
        return cls(
            httpx.Client(base_url=url, timeout=READ_TIMEOUT),
            key,
            httpx.Client(base_url=url, timeout=WRITE_TIMEOUT),
        )

    def close(self) -> None:
        self.client.close()
        if self.writer is not None:
            self.writer.close()

    def recall(self, gtin: str, lot: str, reason: str) -> dict[str, Any]:
        """``POST /recalls``: the recall, with ``notified``."""
        body = {"gtin": gtin, "lot": lot, "reason": reason}
        done: dict[str, Any] = self._send("POST", "/recalls", body, write=True)
        return done

    def release(self, gtin: str, lot: str, reason: str) -> dict[str, Any]:
        """``POST /recalls/{gtin}/{lot}/release``: the recall, now released, with ``notified``."""
        path = f"/recalls/{quote(gtin, safe='')}/{quote(lot, safe='')}/release"
        done: dict[str, Any] = self._send("POST", path, {"reason": reason}, write=True)
        return done

    def suspend(self, gtin: str, lot: str, case_number: str, reason: str) -> dict[str, Any]:
        """``POST /suspensions``: the suspension, with ``notified`` (``provenance suspend``)."""
        body = {"gtin": gtin, "lot": lot, "caseNumber": case_number, "reason": reason}
        done: dict[str, Any] = self._send("POST", "/suspensions", body, write=True)
        return done

    def lift(self, gtin: str, lot: str, reason: str) -> dict[str, Any]:
        """``POST /suspensions/{gtin}/{lot}/lift``: the suspension, now lifted."""
        return self._suspension(gtin, lot, "lift", reason)

    def escalate(self, gtin: str, lot: str, reason: str) -> dict[str, Any]:
        """``POST /suspensions/{gtin}/{lot}/escalate``: the suspension, now a recall."""
        return self._suspension(gtin, lot, "escalate", reason)

    def _suspension(self, gtin: str, lot: str, change: str, reason: str) -> dict[str, Any]:
        path = f"/suspensions/{quote(gtin, safe='')}/{quote(lot, safe='')}/{change}"
        done: dict[str, Any] = self._send("POST", path, {"reason": reason}, write=True)
        return done

    def suspensions_of(self, gtin: str, lot: str) -> list[dict[str, Any]]:
        """Every suspension of the lot the gateway recorded, oldest first."""
        every: list[dict[str, Any]] = self._send("GET", "/suspensions", None)
        return [s for s in every if s.get("gtin") == gtin and s.get("lot") == lot]

    def recalls_of(self, gtin: str, lot: str) -> list[dict[str, Any]]:
        """Every recall of the lot the gateway recorded, oldest first."""
        every: list[dict[str, Any]] = self._send("GET", "/recalls", None)
        return [r for r in every if r.get("gtin") == gtin and r.get("lot") == lot]

    def notifications(self, recall_id: int) -> list[dict[str, Any]]:
        """``GET /recalls/{id}/notifications``: who it notified, with each delivery."""
        found: list[dict[str, Any]] = self._send(
            "GET", f"/recalls/{int(recall_id)}/notifications", None
        )
        return found

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, *, write: bool = False
    ) -> Any:
        client = (self.writer or self.client) if write else self.client
        try:
            response = client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self.key}"}
            )
        except httpx.HTTPError as exc:
            raise GatewayRefused(0, f"the gateway did not answer: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail") or response.reason_phrase)
            except ValueError:
                detail = response.reason_phrase
            raise GatewayRefused(response.status_code, detail)
        return response.json()
