"""The binding's WebSocket subscription (``GET /queries/{name}/events?stream=true`` upgraded):
each batch of new matching events arrives as an EPCISQueryDocument text frame, in chain order,
each once, what the query's owner sees; refusals are the HTTP routes' problem+json before the
handshake; deleting the query ends the stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from devkit.nodes import free_port
from indexer.api.app import create_app
from medledger.epcis.schema import load_schema
from provenance.up import ServerThread
from tests.indexer.test_subscriptions import NAMES, Index, index

__all__ = ["index"]  # the fixture, from test_subscriptions.py


def make_query(index: Index, reader: str, name: str, query: dict[str, Any]) -> None:
    made = index.http.post(
        "/queries", json={"name": name, "query": query}, headers=index.keys[reader]
    )
    assert made.status_code == 201, made.text


def receive_events(ws: Any, count: int) -> list[str]:
    """Frames until ``count`` events have come; their eventIDs (each frame schema-checked)."""
    got: list[str] = []
    while len(got) < count:
        document = ws.receive_json()
        load_schema().validate(document)
        results = document["epcisBody"]["queryResults"]
        assert results["subscriptionID"].startswith("ws-")
        got += [e["eventID"] for e in results["resultsBody"]["eventList"]]
    return got


def test_new_matching_events_stream_in_chain_order_each_once(index: Index) -> None:
    index.publish(NAMES[:2])  # before the connection: not sent
    make_query(index, "regulator", "all", {})
    with index.http.websocket_connect(
        "/queries/all/events?stream=true", headers=index.keys["regulator"]
    ) as ws:
        index.publish(NAMES[2:6])
        first = receive_events(ws, 4)
        index.publish(NAMES[6:])
        rest = receive_events(ws, len(NAMES) - 6)
    assert index.names_of(first + rest) == NAMES[2:]


def test_a_stream_carries_only_what_the_owner_sees(index: Index) -> None:
    query = {"eventType": ["ObjectEvent"]}
    make_query(index, "pharmacy", "mine", query)
    with index.http.websocket_connect(
        "/queries/mine/events?stream=true", headers=index.keys["pharmacy"]
    ) as ws:
        index.publish(NAMES)
        answer = index.http.get(
            "/events", params={"eventType": "ObjectEvent"}, headers=index.keys["pharmacy"]
        )
        sees = [
            e["eventID"]
            for e in answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        ]
        assert 0 < len(sees) < len(NAMES)
        assert receive_events(ws, len(sees)) == sees


@pytest.mark.parametrize(
    ("path", "reader", "status", "pointer"),
    [
        ("/queries/q/events?stream=true", None, 401, None),
        ("/queries/q/events?stream=true", "pharmacy", 404, None),
        ("/queries/q/events", "regulator", 400, "stream"),
        ("/queries/q/events?stream=false", "regulator", 400, "stream"),
        ("/queries/q/events?minute=61&hour=1", "regulator", 400, "minute"),
        ("/queries/q/events?minute=5&stream=true", "regulator", 400, "stream"),
        ("/queries/q/events?month=2&dayOfMonth=30", "regulator", 400, "month"),
        ("/queries/q/events?second=0/1&reportIfEmpty=yes", "regulator", 400, "reportIfEmpty"),
        ("/queries/q/events?stream=true&EQ_bizStep=shipping", "regulator", 400, "EQ_bizStep"),
        ("/queries/q/events?stream=true&initialRecordTime=soon", "regulator", 400,
         "GE_recordTime"),
    ],
)  # fmt: skip
def test_a_refused_stream_is_the_problem_the_http_routes_give(
    index: Index, path: str, reader: str | None, status: int, pointer: str | None
) -> None:
    make_query(index, "regulator", "q", {})
    headers = index.keys[reader] if reader else {}
    with pytest.raises(WebSocketDenialResponse) as refused:
        with index.http.websocket_connect(path, headers=headers):
            pass
    assert refused.value.status_code == status
    assert refused.value.headers["content-type"].startswith("application/problem+json")
    if pointer is not None:
        assert refused.value.json()["pointer"] == pointer


def test_deleting_the_query_ends_its_streams(index: Index) -> None:
    make_query(index, "regulator", "all", {})
    with index.http.websocket_connect(
        "/queries/all/events?stream=true", headers=index.keys["regulator"]
    ) as ws:
        deleted = index.http.delete("/queries/all", headers=index.keys["regulator"])
        assert deleted.status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000


def test_a_stream_over_a_real_server(index: Index) -> None:
    """The same through uvicorn and a WebSocket client (the handshake, a frame, a refusal)."""
    make_query(index, "regulator", "all", {})
    server = ServerThread(
        create_app(index.service, follow=False), "127.0.0.1", free_port(), "indexer"
    )
    server.start()
    try:
        url = server.url.replace("http://", "ws://") + "/queries/all/events?stream=true"
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=10).close()
        assert refused.value.response.status_code == 401
        with connect(url, additional_headers=index.keys["regulator"], open_timeout=10) as ws:
            index.publish(NAMES[:3])
            got: list[str] = []
            while len(got) < 3:
                document = json.loads(ws.recv(timeout=30))
                load_schema().validate(document)
                got += [
                    e["eventID"]
                    for e in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                ]
        assert index.names_of(got) == NAMES[:3]
    finally:
        server.stop()


def test_a_scheduled_stream_sends_at_its_times_and_reports_if_empty(index: Index) -> None:
    make_query(index, "regulator", "all", {})
    with index.http.websocket_connect(
        "/queries/all/events?second=0/1&reportIfEmpty=true", headers=index.keys["regulator"]
    ) as ws:
        empty = ws.receive_json()  # a run each second: none yet, reported
        load_schema().validate(empty)
        assert empty["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
        index.publish(NAMES[:3])
        got: list[str] = []
        while len(got) < 3:
            document = ws.receive_json()  # empty reports until the events are deliverable
            results = document["epcisBody"]["queryResults"]["resultsBody"]
            got += [e["eventID"] for e in results["eventList"]]
    assert index.names_of(got) == NAMES[:3]
