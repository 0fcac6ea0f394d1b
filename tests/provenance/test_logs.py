"""servicekit/logs.py and the request middleware:
JSON lines, request ids in every record of a request
(event loop and thread pool), secrets kept out of the logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from servicekit.http.operations import RequestMiddleware, http_histogram
from servicekit.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    accepted_request_id,
    configure_logging,
    redact,
    request_id,
    wants_json,
)

KEY = "pk_0123456789ab_" + "a2" * 26


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """configure_logging(json=True) into a buffer; the root logger restored afterwards."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(json=True, stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("provenance.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    RequestIdFilter().filter(made)
    return made


def test_a_json_line_has_time_level_logger_message_request_id_and_extras() -> None:
    token = request_id.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record("batch %d anchored", 7, batch=7)))
    finally:
        request_id.reset(token)
    assert line["level"] == "WARNING" and line["logger"] == "provenance.test"
    assert line["message"] == "batch 7 anchored"
    assert line["request_id"] == "req-1"
    assert line["batch"] == 7
    assert line["time"].endswith("+00:00")
    outside = json.loads(JsonFormatter().format(record("no request")))
    assert outside["request_id"] is None


def test_exceptions_are_one_json_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        made = record("failed")
        made.exc_info = sys.exc_info()
    text = JsonFormatter().format(made)
    assert "\n" not in text
    assert "RuntimeError: boom" in json.loads(text)["exception"]


def test_api_keys_passwords_and_secret_fields_are_never_logged() -> None:
    assert KEY not in redact(f"key {KEY}")
    assert "pk_0123456789ab_[redacted]" in redact(f"key {KEY}")
    assert "s3cret" not in redact("postgresql+psycopg://user:s3cret@db:5432/gateway")
    assert "user:[redacted]@db" in redact("postgresql+psycopg://user:s3cret@db:5432/gateway")
    made = record("issued %s", KEY, api_key=KEY, keystore_password="hunter2", url="x://u:p@h/")
    line = JsonFormatter().format(made)
    assert KEY not in line and "hunter2" not in line and "u:p@" not in line
    assert json.loads(line)["api_key"] == "[redacted]"
    assert KEY not in TextFormatter().format(record("issued %s", KEY))


def test_text_lines_show_the_request_id() -> None:
    token = request_id.set("abc")
    try:
        text = TextFormatter().format(record("hello"))
    finally:
        request_id.reset(token)
    assert text.endswith("WARNING provenance.test [abc]: hello")
    assert "[" not in TextFormatter().format(record("hello")).split(" ", 2)[2]


def test_only_sane_request_ids_are_taken_from_clients() -> None:
    assert accepted_request_id("9f1c-22.ab:cd_e") == "9f1c-22.ab:cd_e"
    for bad in ("", "has space", 'quote"', "new\nline", "x" * 129, None):
        assert accepted_request_id(bad) is None


def test_auto_means_json_unless_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_json("auto", io.StringIO()) is True
    assert wants_json("auto", Tty()) is False
    assert wants_json("json", Tty()) is True
    assert wants_json("text", io.StringIO()) is False


def test_every_record_of_a_request_carries_its_id(json_logs: io.StringIO) -> None:
    app = FastAPI()
    app.add_middleware(RequestMiddleware, histogram=http_histogram("test", CollectorRegistry()))
    log = logging.getLogger("provenance.test.route")

    @app.get("/sync")
    def sync_route() -> dict[str, str]:  # runs in the thread pool
        log.info("in a worker thread")
        return {"ok": "yes"}

    @app.get("/async")
    async def async_route() -> dict[str, str]:  # runs on the event loop
        log.info("on the event loop")
        return {"ok": "yes"}

    http = TestClient(app)
    assert http.get("/sync", headers={"X-Request-ID": "given-1"}).status_code == 200
    made = http.get("/async").headers["X-Request-ID"]
    logged = lines(json_logs)
    ours = [line for line in logged if line["logger"].startswith("provenance.")]
    by_message = {line["message"]: line for line in ours}
    assert by_message["in a worker thread"]["request_id"] == "given-1"
    assert by_message["on the event loop"]["request_id"] == made
    http_lines = [line for line in ours if line["logger"] == "provenance.http"]
    assert [(line["route"], line["status"], line["request_id"]) for line in http_lines] == [
        ("/sync", 200, "given-1"),
        ("/async", 200, made),
    ]
    assert all(isinstance(line["duration_ms"], float) for line in http_lines)
    # No header (an Authorization header included) ever reaches a log line.
    http.get("/sync", headers={"Authorization": f"Bearer {KEY}"})
    assert KEY not in json_logs.getvalue()
