"""The EPCIS 2.0 REST binding's WebSocket subscription: ``GET /queries/{name}/events?stream=true``
with ``Upgrade: websocket`` (and the reader key in ``Authorization``). After the handshake the
server sends, as text frames, an EPCISQueryDocument of each batch of new events the named query
matches (what its owner sees, in chain order, deliverable as for webhooks: ``subscription_depth``
blocks behind the checkpoint), until the client closes, the query is deleted or the owner's key
dies. Events recorded before the connection (or before ``initialRecordTime``, if given) are not
sent. The cursor lives in the connection: a client that reconnects gets the events recorded
from then on (use a webhook subscription, or ``GET /queries/{name}/events`` for what it missed).

Refused before the handshake, with the problem+json the HTTP routes give (the WebSocket Denial
Response, where the server has it; else a close with code 1008): no or a dead key (401), a
query the key has not (404), no ``stream=true``, a schedule or another parameter (400).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from indexer.api.deps import _reader, visibility_of
from indexer.queries.events import events_between
from indexer.reader_keys import READER_ROLES
from indexer.service import IndexerService
from indexer.subscriptions import named
from indexer.subscriptions.delivery import deliverable_before, subscription_document
from indexer.subscriptions.store import start_cursor
from medledger.epcis.query import parse_query
from medledger.errors import (
    AuthenticationError,
    ProvenanceError,
    SubscriptionControlsError,
)
from servicekit.http.problems import problem_for

streams = APIRouter(prefix="/queries", tags=["epcis queries"])

#: Parameters of the binding's scheduled WebSocket form: refused, never ignored.
SCHEDULE = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
CLOSE_POLICY = 1008


def _controls(websocket: WebSocket) -> datetime | None:
    """The stream's ``initialRecordTime`` (None: now), after checking the parameters."""
    params = dict(websocket.query_params)
    for name, _value in websocket.query_params.multi_items():
        if name in SCHEDULE:
            raise SubscriptionControlsError(
                "scheduled subscriptions are not supported yet: connect with stream=true",
                rule="subscription.unsupported",
                pointer=name,
            )
        if name not in ("stream", "initialRecordTime", "reportIfEmpty"):
            raise SubscriptionControlsError(
                f"{name}: not a parameter of the WebSocket subscription (stream, "
                "initialRecordTime)",
                rule="subscription.controls",
                pointer=name,
            )
    if params.get("stream") != "true":
        raise SubscriptionControlsError(
            "a WebSocket subscription needs stream=true", rule="subscription.controls",
            pointer="stream",
        )  # fmt: skip
    initial = params.get("initialRecordTime")
    return None if initial is None else parse_query([("GE_recordTime", initial)]).record_time.ge


def _open(websocket: WebSocket, service: IndexerService, name: str) -> tuple[int, int]:
    """Authenticate, find the query and its starting cursor: (query id, cursor)."""
    initial = _controls(websocket)
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    with service.sessions() as session:
        key = _reader(websocket, service, session, token.strip(), READER_ROLES)
        visibility_of(key)
        query = named.find(session, key, name)
        return query.id, start_cursor(session, initial)


def _next(
    service: IndexerService, query_id: int, cursor: int
) -> tuple[list[dict[str, object]], int] | None:
    """The next batch after ``cursor`` and its end; None when the stream must end (the query
    deleted, its owner without a live key)."""
    with service.sessions() as session:
        query = named.by_id(session, query_id)
        if query is None or not named.owner_is_live(session, query):
            return None
        before = deliverable_before(session, service.settings.subscription_depth)
        if before is None or before - 1 <= cursor:
            return [], cursor
        return events_between(
            session,
            query.query(),
            cursor,
            before,
            within=query.visibility.events(session),
            limit=service.settings.subscription_batch,
        )


@streams.websocket("/{name}/events")
async def stream_query_events(websocket: WebSocket, name: str) -> None:
    service: IndexerService = websocket.app.state.service
    try:
        query_id, cursor = await run_in_threadpool(_open, websocket, service, name)
    except ProvenanceError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(problem_for(exc))
        else:
            await websocket.close(CLOSE_POLICY, str(exc)[:120])
        return
    await websocket.accept()
    stream_id = f"ws-{uuid.uuid4()}"
    interval = service.settings.subscription_poll_seconds
    while True:
        found = await run_in_threadpool(_next, service, query_id, cursor)
        if found is None:
            await websocket.close(1000, "the query was deleted or its owner's key ended")
            return
        events, cursor = found
        if events:
            await websocket.send_json(subscription_document(list(events), stream_id))
            continue
        try:  # wait for the next poll, or for the client to close
            message = await asyncio.wait_for(websocket.receive(), timeout=interval)
        except TimeoutError:
            continue
        if message["type"] == "websocket.disconnect":
            return
        if websocket.client_state != WebSocketState.CONNECTED:
            return
