"""A subscription to alerts: ``GET /alerts/stream`` with ``Upgrade: websocket`` (the reader key
in ``Authorization``: a regulator, auditor, pharmacovigilance officer, or an inspector kept to
its region as on ``GET /alerts``), optionally ``kind``, ``severity`` and ``region`` as
``/alerts`` takes them. After the handshake the server sends, as JSON text frames:

- ``{"type": "raised", "alert": {...}}`` for each matching alert raised after the connection
  opened (as ``/alerts`` lists it: key, kind, severity, blockNumber, subject, message,
  evidence), in block order, within ``SUBSCRIPTION_POLL_SECONDS`` of the index writing it;
- ``{"type": "withdrawn", "key", "kind"}`` when an alert it sent is gone from the index: a
  shortage cleared by a delivery, or an alert of blocks a reorganisation orphaned (the new
  branch's alerts are sent as they are raised).

The cursor lives in the connection: the alerts of the last :data:`REORG_MARGIN` blocks below
the checkpoint are remembered by key, so a reorganisation shallower than that sends each alert
of the new branch once; a deeper one (the block the stream stands on is gone) closes the
stream (1011): read ``GET /alerts`` and connect again. The stream also ends (1000) when the
key is revoked or expires. Refused before the handshake as ``GET /alerts`` refuses (401, 403,
429 locked out; 422 for an unknown or repeated parameter or a bad value).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketState

from indexer.alert_kinds import ALERT_KINDS, SEVERITIES
from indexer.api.deps import INSPECTOR, authenticate_reader
from indexer.queries.alerts import alert_filters, alert_json
from indexer.queries.scope import EVERYTHING, Scope
from indexer.reader_keys import FULL_READERS
from indexer.service import IndexerService
from indexer.store.models import AlertRow, ApiKeyRow, BlockRow
from indexer.store.state import chunks
from indexer.store.writes import get_checkpoint
from medledger.errors import (
    AuthenticationError,
    PermissionDeniedError,
    ProvenanceError,
    ValidationError,
)
from medledger.regions import region_code
from servicekit.apikeys import KeyFlow
from servicekit.http.problems import problem_for
from servicekit.sql.helpers import utcnow

alert_streams = APIRouter(prefix="/alerts", tags=["alerts"])

#: Blocks below the checkpoint whose alerts a stream remembers: a reorganisation shallower than
#: this sends each alert of the new branch once; a deeper one ends the stream.
REORG_MARGIN: Final = 64
#: Alerts a stream remembers having sent (to say when they are withdrawn); the oldest beyond.
MAX_REMEMBERED: Final = 10_000
CLOSE_POLICY: Final = 1008
CLOSE_REORG: Final = 1011
PARAMETERS: Final = ("kind", "severity", "region")


@dataclass(frozen=True)
class Filters:
    kind: str | None
    severity: str | None
    region: str | None
    within: Scope
    key_id: int


@dataclass
class Cursor:
    """Where a stream stands: the block (number, hash) below which it has forgotten, the
    alerts at or above it it knows (key → block), and the alerts it sent (key → kind)."""

    floor: int
    floor_hash: bytes | None
    known: dict[str, int] = field(default_factory=dict)
    sent: dict[str, str] = field(default_factory=dict)


def _filters(websocket: WebSocket, service: IndexerService) -> Filters:
    params: dict[str, str] = {}
    for name, value in websocket.query_params.multi_items():
        if name not in PARAMETERS:
            raise ValidationError(
                f"{name}: not a parameter of the alert stream (kind, severity, region)",
                pointer=name,
            )
        if name in params:
            raise ValidationError(f"{name}: given more than once", pointer=name)
        params[name] = value
    kind, severity = params.get("kind"), params.get("severity")
    if kind is not None and kind not in ALERT_KINDS:
        raise ValidationError(f"kind: one of {', '.join(ALERT_KINDS)}", pointer="kind")
    if severity is not None and severity not in SEVERITIES:
        raise ValidationError("severity: info, warning or critical", pointer="severity")
    region = params.get("region")
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    with service.sessions() as session:
        key = authenticate_reader(
            websocket, service, session, token.strip(), (*FULL_READERS, INSPECTOR)
        )
    within = EVERYTHING
    if key.role == INSPECTOR:
        if key.region is None:
            raise PermissionDeniedError("this inspector key has no region: it may read nothing")
        within = Scope(key.region)
    return Filters(
        kind,
        severity,
        region_code(region, pointer="region") if region is not None else None,
        within,
        key.id,
    )


def _anchor(session: Session) -> tuple[int, bytes | None]:
    """The block :data:`REORG_MARGIN` below the checkpoint the index keeps (number, hash)."""
    checkpoint = get_checkpoint(session)
    if checkpoint is None:
        return 0, None
    below = max(checkpoint.block_number - REORG_MARGIN, 0)
    row = session.scalars(
        select(BlockRow).where(BlockRow.number <= below).order_by(BlockRow.number.desc())
    ).first()
    return (row.number, row.hash) if row is not None else (0, None)


def _matching(session: Session, given: Filters, floor: int) -> list[AlertRow]:
    conditions = alert_filters(
        session, kind=given.kind, severity=given.severity, within=given.within, region=given.region
    )
    return list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.block_number >= floor, *conditions)
            .order_by(AlertRow.block_number, AlertRow.key)
        )
    )


def _start(service: IndexerService, given: Filters) -> Cursor:
    """The cursor of a new stream: every alert there is now counts as known (not sent)."""
    with service.sessions() as session:
        floor, floor_hash = _anchor(session)
        known = {r.key: r.block_number for r in _matching(session, given, floor)}
    return Cursor(floor, floor_hash, known)


def _live(session: Session, key_id: int) -> bool:
    row = session.get(ApiKeyRow, key_id)
    return row is not None and KeyFlow.live(row, utcnow())


def _still_there(session: Session, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(list(keys)):
        found.update(session.scalars(select(AlertRow.key).where(AlertRow.key.in_(part))))
    return found


def _step(service: IndexerService, given: Filters, cursor: Cursor) -> list[dict[str, Any]] | int:
    """The frames to send now, advancing ``cursor``; a close code when the stream must end."""
    with service.sessions() as session:
        if not _live(session, given.key_id):
            return 1000
        if (
            cursor.floor_hash is not None
            and session.scalar(select(BlockRow.hash).where(BlockRow.number == cursor.floor))
            != cursor.floor_hash
        ):
            return CLOSE_REORG
        frames: list[dict[str, Any]] = []
        for row in _matching(session, given, cursor.floor):
            if row.key not in cursor.known:
                cursor.known[row.key] = row.block_number
                cursor.sent[row.key] = row.kind
                frames.append({"type": "raised", "alert": alert_json(row)})
        present = _still_there(session, cursor.sent)
        for key in [k for k in cursor.sent if k not in present]:
            frames.append({"type": "withdrawn", "key": key, "kind": cursor.sent.pop(key)})
            cursor.known.pop(key, None)
        while len(cursor.sent) > MAX_REMEMBERED:
            cursor.sent.pop(next(iter(cursor.sent)))
        floor, floor_hash = _anchor(session)
        if floor > cursor.floor:
            cursor.floor, cursor.floor_hash = floor, floor_hash
            cursor.known = {k: b for k, b in cursor.known.items() if b >= floor}
    return frames


async def _closed_within(websocket: WebSocket, seconds: float) -> bool:
    """Wait ``seconds`` (at most), True if the client closed meanwhile."""
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return (
        message["type"] == "websocket.disconnect"
        or websocket.client_state != WebSocketState.CONNECTED
    )


@alert_streams.websocket("/stream")
async def stream_alerts(websocket: WebSocket) -> None:
    service: IndexerService = websocket.app.state.service
    try:
        given = await run_in_threadpool(_filters, websocket, service)
        cursor = await run_in_threadpool(_start, service, given)
    except ProvenanceError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(problem_for(exc))
        else:
            await websocket.close(CLOSE_POLICY, str(exc)[:120])
        return
    await websocket.accept()
    interval = service.settings.subscription_poll_seconds
    while True:
        found = await run_in_threadpool(_step, service, given, cursor)
        if isinstance(found, int):
            reason = "the key ended" if found == 1000 else "a reorganisation too deep to follow"
            await websocket.close(found, reason)
            return
        for frame in found:
            await websocket.send_json(frame)
        if await _closed_within(websocket, interval):
            return
