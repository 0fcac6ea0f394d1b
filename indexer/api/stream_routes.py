"""The EPCIS 2.0 REST binding's WebSocket subscription: ``GET /queries/{name}/events`` with
``Upgrade: websocket`` (and the reader key in ``Authorization``), and either ``stream=true`` or a
schedule (``second``, ``minute``, ``hour``, ``dayOfMonth``, ``month``, ``dayOfWeek``: as a
webhook subscription's, medledger/epcis/query_schedule.py). After the handshake the server
sends, as text frames, an EPCISQueryDocument of each batch of new events the named query
matches (what its owner sees, in chain order, deliverable as for webhooks:
``subscription_depth`` blocks behind the checkpoint): a stream as soon as they are
deliverable, a schedule at each of its times (with ``reportIfEmpty=true`` an empty document
when there are none), until the client closes, the query is deleted or the owner's key dies.
Events recorded before the connection (or before ``initialRecordTime``, if given) are not sent.
The cursor lives in the connection: a client that reconnects gets the events recorded from then
on (use a webhook subscription, or ``GET /events`` for what it missed).

Refused before the handshake, with the problem+json the HTTP routes give (the WebSocket Denial
Response, where the server has it; else a close with code 1008): no or a dead key (401), a
query the key has not (404), neither ``stream=true`` nor a schedule, both, a malformed schedule
or another parameter (400).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from indexer.api.deps import authenticate_reader, visibility_of
from indexer.queries.events import events_between
from indexer.reader_keys import READER_ROLES
from indexer.service import IndexerService
from indexer.subscriptions import named
from indexer.subscriptions.delivery import deliverable_before, subscription_document
from indexer.subscriptions.store import start_cursor
from medledger.epcis.query import parse_query
from medledger.epcis.query_schedule import Schedule, parse_schedule
from medledger.errors import (
    AuthenticationError,
    ProvenanceError,
    SubscriptionControlsError,
)
from servicekit.http.problems import problem_for

streams = APIRouter(prefix="/queries", tags=["epcis queries"])

#: The binding's scheduled WebSocket form: these instead of stream=true.
SCHEDULE = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
CLOSE_POLICY = 1008


@dataclass(frozen=True)
class _Controls:
    initial: datetime | None
    schedule: Schedule | None
    report_if_empty: bool


def _refuse(message: str, pointer: str) -> SubscriptionControlsError:
    return SubscriptionControlsError(message, rule="subscription.controls", pointer=pointer)


def _controls(websocket: WebSocket) -> _Controls:
    """The stream's controls, checked: ``stream=true`` or a schedule, ``initialRecordTime``
    (None: now), ``reportIfEmpty`` (a schedule's)."""
    params: dict[str, str] = {}
    for name, value in websocket.query_params.multi_items():
        if name not in (*SCHEDULE, "stream", "initialRecordTime", "reportIfEmpty"):
            raise _refuse(
                f"{name}: not a parameter of the WebSocket subscription (stream or "
                "second, minute, hour, dayOfMonth, month, dayOfWeek; initialRecordTime, "
                "reportIfEmpty)",
                name,
            )
        if name in params:
            raise _refuse(f"{name}: given more than once", name)
        params[name] = value
    fields = {k: v for k, v in params.items() if k in SCHEDULE}
    schedule = None
    if fields:
        if "stream" in params:
            raise _refuse("stream and a schedule exclude each other", "stream")
        try:
            schedule = parse_schedule(fields)
        except SubscriptionControlsError as exc:
            field = (exc.pointer or "").removeprefix("/schedule").lstrip("/")
            raise SubscriptionControlsError(
                str(exc), rule=exc.rule, pointer=field or next(iter(fields))
            ) from None
    elif params.get("stream") != "true":
        raise _refuse("a WebSocket subscription needs stream=true or a schedule", "stream")
    report = params.get("reportIfEmpty", "false")
    if report not in ("true", "false"):
        raise _refuse(f"reportIfEmpty: true or false, got {report[:50]!r}", "reportIfEmpty")
    initial = params.get("initialRecordTime")
    moment = None if initial is None else parse_query([("GE_recordTime", initial)]).record_time.ge
    return _Controls(moment, schedule, report == "true")


def _open(websocket: WebSocket, service: IndexerService, name: str) -> tuple[int, int, _Controls]:
    """Authenticate, find the query and its starting cursor: (query id, cursor, controls)."""
    given = _controls(websocket)
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("send a reader API key as `Authorization: Bearer ik_...`")
    with service.sessions() as session:
        key = authenticate_reader(websocket, service, session, token.strip(), READER_ROLES)
        visibility_of(key)
        query = named.find(session, key, name)
        return query.id, start_cursor(session, given.initial), given


def _next(
    service: IndexerService, query_id: int, cursor: int, until: int | None = None
) -> tuple[list[dict[str, object]], int] | None:
    """The next batch after ``cursor`` (up to ``until`` when given, a scheduled run's end) and
    its end; None when the stream must end (the query deleted, its owner without a live
    key)."""
    with service.sessions() as session:
        query = named.by_id(session, query_id)
        if query is None or not named.owner_is_live(session, query):
            return None
        before = deliverable_before(session, service.settings.subscription_depth)
        if until is not None:
            before = until + 1
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


def _deliverable(service: IndexerService) -> int | None:
    """The last sequence number deliverable now (None before the first checkpoint)."""
    with service.sessions() as session:
        before = deliverable_before(session, service.settings.subscription_depth)
    return None if before is None else before - 1


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


@streams.websocket("/{name}/events")
async def stream_query_events(websocket: WebSocket, name: str) -> None:
    service: IndexerService = websocket.app.state.service
    try:
        query_id, cursor, given = await run_in_threadpool(_open, websocket, service, name)
    except ProvenanceError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(problem_for(exc))
        else:
            await websocket.close(CLOSE_POLICY, str(exc)[:120])
        return
    await websocket.accept()
    stream_id = f"ws-{uuid.uuid4()}"
    interval = service.settings.subscription_poll_seconds
    if given.schedule is not None:
        await _scheduled(websocket, service, query_id, cursor, given, stream_id)
        return
    while True:
        found = await run_in_threadpool(_next, service, query_id, cursor)
        if found is None:
            await websocket.close(1000, "the query was deleted or its owner's key ended")
            return
        events, cursor = found
        if events:
            await websocket.send_json(subscription_document(list(events), stream_id))
            continue
        if await _closed_within(websocket, interval):
            return


async def _scheduled(
    websocket: WebSocket,
    service: IndexerService,
    query_id: int,
    cursor: int,
    given: _Controls,
    stream_id: str,
) -> None:
    """At each time of the schedule: the events recorded since the last run, in batches; with
    ``reportIfEmpty`` an empty document when there are none."""
    assert given.schedule is not None
    interval = service.settings.subscription_poll_seconds
    due = given.schedule.next_after(datetime.now(UTC))
    while due is not None:
        while (wait := (due - datetime.now(UTC)).total_seconds()) > 0:
            if await _closed_within(websocket, min(wait, interval)):
                return
        until = await run_in_threadpool(_deliverable, service)
        sent = False
        while True:
            found = await run_in_threadpool(_next, service, query_id, cursor, until)
            if found is None:
                await websocket.close(1000, "the query was deleted or its owner's key ended")
                return
            events, cursor = found
            if not events:
                break
            await websocket.send_json(subscription_document(list(events), stream_id))
            sent = True
        if given.report_if_empty and not sent:
            await websocket.send_json(subscription_document([], stream_id))
        due = given.schedule.next_after(max(datetime.now(UTC), due))
