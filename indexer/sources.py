"""Where a batch's contents come from: the gateway (``GET /batches/{root}``) or a folder.

Neither is trusted: :mod:`indexer.verification` recomputes every hash and the root before
anything is indexed. Both give the gateway's batch JSON (``root``, ``participant``, ``events``:
``kind``, ``eventID``, ``eventHash``, ``salt``, ``event``; ``kind`` ``errorDeclaration``: an
error declaration, its ``event`` the stored declaration; ``masterdata``: a master data record,
its ``event`` the stored record; absent: an event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from medledger.errors import MESSAGE_LIMIT, BatchRefusedError, BatchUnavailableError

#: Kinds of batch entries (leaves).
KIND_EVENT = "event"
KIND_DECLARATION = "errorDeclaration"
KIND_MASTERDATA = "masterdata"


@dataclass(frozen=True, slots=True)
class BatchEntry:
    event_id: str
    declared_hash: bytes  # what the source says; recomputed before use
    salt: bytes
    event: dict[str, Any]  # an event, or (kind errorDeclaration) the stored declaration
    kind: str = KIND_EVENT


@dataclass(frozen=True, slots=True)
class BatchContents:
    root: bytes
    participant: str
    entries: tuple[BatchEntry, ...]


class BatchSource(Protocol):
    def fetch(self, root: bytes) -> BatchContents: ...


def _bytes32(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BatchUnavailableError(f"{what} is not a hex string", retryable=False)
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise BatchUnavailableError(f"{what} is not hex: {value!r}", retryable=False) from None
    if len(raw) != 32:
        raise BatchUnavailableError(f"{what} is not 32 bytes: {value!r}", retryable=False)
    return raw


def parse_batch(body: Any, root: bytes) -> BatchContents:
    """The gateway's batch JSON as :class:`BatchContents`; malformed is unavailable."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BatchUnavailableError(f"batch 0x{root.hex()}: not a batch document", retryable=False)
    entries = []
    for i, item in enumerate(body["events"]):
        if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
            raise BatchUnavailableError(
                f"batch 0x{root.hex()}: entry {i} is malformed", retryable=False
            )
        kind = item.get("kind", KIND_EVENT)
        if kind not in (KIND_EVENT, KIND_DECLARATION, KIND_MASTERDATA):
            raise BatchUnavailableError(
                f"batch 0x{root.hex()}: entry {i} is of unknown kind {str(kind)[:40]!r}",
                retryable=False,
            )
        entries.append(
            BatchEntry(
                event_id=str(item.get("eventID", "")),
                declared_hash=_bytes32(item.get("eventHash"), f"entry {i} eventHash"),
                salt=_bytes32(item.get("salt"), f"entry {i} salt"),
                event=item["event"],
                kind=kind,
            )
        )
    return BatchContents(
        root=root, participant=str(body.get("participant", "")), entries=tuple(entries)
    )


class GatewayBatchSource:
    """Batches from a gateway, read with a regulator's or auditor's API key."""

    def __init__(self, url: str, api_key: str | None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def fetch(self, root: bytes) -> BatchContents:
        try:
            response = self._client.get(f"/batches/0x{root.hex()}")
        except httpx.HTTPError as exc:
            raise BatchUnavailableError(f"gateway unreachable: {exc}", retryable=True) from exc
        if response.status_code == 404:
            raise BatchUnavailableError(f"the gateway has no batch 0x{root.hex()}", retryable=False)
        refused = refusal(response.status_code, _json_or_none(response), root)
        if refused is not None:
            raise refused
        if response.status_code in (401, 403):
            raise BatchUnavailableError(
                f"the gateway refused the indexer's key ({response.status_code}): give it a "
                "regulator or auditor key",
                retryable=True,
            )
        if response.status_code != 200:
            raise BatchUnavailableError(
                f"gateway answered {response.status_code} for batch 0x{root.hex()}",
                retryable=True,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise BatchUnavailableError(f"gateway sent no JSON: {exc}", retryable=True) from exc
        return parse_batch(body, root)

    def close(self) -> None:
        self._client.close()


def _json_or_none(response: httpx.Response) -> Any:
    if response.status_code != 409:
        return None
    try:
        return response.json()
    except ValueError:
        return None


#: The type of the gateway's problem for what no longer verifies (servicekit/http/problems.py).
INTEGRITY_PROBLEM = "/problems/integrity"


def refusal(status_code: int, body: Any, root: bytes) -> BatchRefusedError | None:
    """The gateway's 409 ``integrity`` answer for a batch as a :class:`BatchRefusedError` (the
    loader records the anchor ``rejected`` with an integrity alert), or None for any other."""
    if status_code != 409 or not isinstance(body, dict):
        return None
    if not str(body.get("type", "")).endswith(INTEGRITY_PROBLEM):
        return None
    event_ids = body.get("event_ids")
    evidence = {
        "rule": body.get("rule"),
        "eventIDs": event_ids if isinstance(event_ids, list) else [],
        "sourceRoot": body.get("root"),
        "sourceComputedRoot": body.get("computed_root"),
        "sourceDetail": str(body.get("detail", ""))[:MESSAGE_LIMIT],
    }
    return BatchRefusedError(
        f"the gateway refuses batch 0x{root.hex()}: what it stores no longer verifies "
        f"({evidence['rule']})",
        evidence=evidence,
    )


class FolderBatchSource:
    """Batches as files ``<folder>/0x<root>.json`` (or without ``0x``), for offline audits."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch(self, root: bytes) -> BatchContents:
        for name in (f"0x{root.hex()}.json", f"{root.hex()}.json"):
            path = self.folder / name
            if path.exists():
                try:
                    body = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise BatchUnavailableError(f"{path}: {exc}", retryable=False) from exc
                return parse_batch(body, root)
        raise BatchUnavailableError(
            f"no file for batch 0x{root.hex()} in {self.folder}", retryable=False
        )


class InProcessBatchSource:
    """Batches straight from a callable (the demo runs gateway and indexer in one process)."""

    def __init__(self, fetch_json: Any) -> None:
        self._fetch_json = fetch_json

    def fetch(self, root: bytes) -> BatchContents:
        body = self._fetch_json(root)
        if body is None:
            raise BatchUnavailableError(f"no batch 0x{root.hex()}", retryable=False)
        return parse_batch(body, root)
