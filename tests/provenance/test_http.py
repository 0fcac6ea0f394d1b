"""``provenance.http``, the one client of the verbs that call a service, against a real HTTP
server on 127.0.0.1 (``http.server`` in a thread, answering what each test scripts): the bearer
key, the problem reader and its cap, refusals and their exit codes, a service that does not
answer (closed port, timeout), key files; and the verbs (check, alerts, recall, release, codes,
origin-proof) through it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from devkit.nodes import free_port
from provenance import alerts, check, http
from provenance.codes_command import run_codes
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.http import (
    PROBLEM_CAP,
    Service,
    ServiceError,
    accepted,
    problem,
    read_key,
    refused,
)
from provenance.origin_command import run_origin_proof
from provenance.recall import run_recall, run_release

GTIN = "04700123123452"
PROBLEM_JSON = "application/problem+json"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """Answers each request with the next scripted answer (then 200 ``{}``); records them."""

    url: str = ""
    answers: list[Answer] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def answer(self, status: int = 200, body: Any = None, **kwargs: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        self.answers.append(Answer(status, raw, **kwargs))


def problem_body(detail: str, status: int = 409, title: str = "Conflict") -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.received.append(Received(self.command, self.path, dict(self.headers), body))
            answer = state.answers.pop(0) if state.answers else Answer()
            time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up waiting (the timeout tests)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def key_file(tmp_path: Path, key: str = "pk_test_key") -> Path:
    path = tmp_path / "test.api-key"
    path.write_text(f"  {key}\n", encoding="utf-8")
    return path


# --- the client ---------------------------------------------------------------------------------


def test_the_bearer_key_goes_with_every_request_and_no_key_sends_no_header(
    server: Server,
) -> None:
    with Service.at("indexer", server.url + "/", timeout=5, api_key="pk_abc") as service:
        service.get("/alerts", params={"limit": 2})
        service.post("/check", json={"code": "x"})
    with Service.at("indexer", server.url, timeout=5) as anonymous:
        anonymous.post("/check", json={"code": "x"})
    first, second, third = server.received
    assert (first.method, first.path) == ("GET", "/alerts?limit=2")  # trailing / of the URL
    assert first.headers["Authorization"] == second.headers["Authorization"] == "Bearer pk_abc"
    assert json.loads(second.body) == {"code": "x"}
    assert "Authorization" not in third.headers


def test_the_problem_reader_takes_the_detail_then_the_title_and_cuts_at_the_cap(
    server: Server,
) -> None:
    long = "lot L-1 " + "x" * 1000
    server.answer(409, problem_body(long), content_type=PROBLEM_JSON)
    server.answer(404, {"title": "Not Found", "status": 404}, content_type=PROBLEM_JSON)
    server.answer(502, b"<html>" + b"bad gateway " * 100, content_type="text/html")
    server.answer(400, ["a", "list"])
    with Service.at("gateway", server.url, timeout=5) as service:
        said = [problem(service.get(f"/{n}")) for n in range(4)]
    assert PROBLEM_CAP == 300
    assert said[0] == long[:PROBLEM_CAP] and len(said[0]) == PROBLEM_CAP
    assert said[1] == "Not Found"
    assert said[2].startswith("<html>bad gateway") and len(said[2]) == PROBLEM_CAP
    assert said[3] == "['a', 'list']"


def test_refusals_exit_1_and_a_malformed_request_or_a_failed_service_exit_2(
    server: Server,
) -> None:
    statuses = (401, 403, 404, 409, 400, 422, 500, 503)  # 400: a refused capture (EPCIS binding)
    for status in statuses:
        server.answer(status, problem_body(f"why {status}", status), content_type=PROBLEM_JSON)
    server.answer(201, {"id": 7})
    with Service.at("gateway", server.url, timeout=5) as service:
        errors = [refused(service.post("/recalls")) for _ in statuses]
        created = accepted(service.post("/recalls"))
    assert [str(e) for e in errors[:2]] == ["refused (401): why 401", "refused (403): why 403"]
    assert [e.exit_code for e in errors] == [EXIT_REFUSED] * 4 + [EXIT_UNUSABLE] * 4
    assert created.json() == {"id": 7}


def test_a_closed_port_is_a_clear_message_and_exit_2() -> None:
    with (
        Service.at("gateway", f"http://127.0.0.1:{free_port()}", timeout=5) as service,
        pytest.raises(ServiceError, match=r"^the gateway does not answer: ") as raised,
    ):
        service.get("/healthz")
    assert raised.value.exit_code == EXIT_UNUSABLE


def test_a_service_slower_than_the_timeout_is_a_clear_message_and_exit_2(server: Server) -> None:
    server.answer(200, {"verdict": "ok"}, delay=1.0)
    started = time.monotonic()
    with (
        Service.at("indexer", server.url, timeout=0.2) as service,
        pytest.raises(ServiceError) as raised,
    ):
        service.post("/check", json={"code": "x"})
    assert time.monotonic() - started < 0.9
    assert str(raised.value) == "the indexer does not answer: timed out"
    assert raised.value.exit_code == EXIT_UNUSABLE


def test_each_verb_keeps_its_timeout() -> None:
    assert (http.CHECK_TIMEOUT, http.ALERTS_TIMEOUT) == (10.0, 10.0)
    assert (http.ORIGIN_TIMEOUT, http.GATEWAY_WRITE_TIMEOUT) == (30.0, 60.0)
    client = http.connect("http://127.0.0.1:1", timeout=http.GATEWAY_WRITE_TIMEOUT)
    assert client.timeout.read == client.timeout.connect == 60.0
    client.close()


def test_an_injected_client_is_left_open(server: Server) -> None:
    with Service.at("indexer", server.url, timeout=5) as outer:
        with Service.using("indexer", outer.client, "http://unused", timeout=1) as inner:
            inner.get("/a")
        outer.get("/b")  # still open
    assert [r.path for r in server.received] == ["/a", "/b"]
    assert outer.client.is_closed


def test_key_files(tmp_path: Path) -> None:
    assert read_key(key_file(tmp_path, "pk_x")) == "pk_x"
    with pytest.raises(ServiceError, match=r"^cannot read the key file .*missing: No such file"):
        read_key(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ServiceError, match=r"^the key file .*empty is empty$") as raised:
        read_key(empty)
    assert raised.value.exit_code == EXIT_UNUSABLE


# --- the verbs through it -----------------------------------------------------------------------


def console() -> tuple[Console, StringIO]:
    out = StringIO()
    return Console(file=out, width=400, soft_wrap=True, highlight=False), out


def test_check_a_malformed_code_and_a_slow_indexer(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = "code: the check digit of GTIN 04700123123453 is wrong " + "y" * 400
    server.answer(422, problem_body(detail, 422, "Unprocessable"), content_type=PROBLEM_JSON)
    shown, out = console()
    assert check.run("(01)04700123123453", indexer_url=server.url, console=shown) == 2
    assert out.getvalue() == f"unusable malformed code: {detail[:PROBLEM_CAP]}\n"
    assert "Authorization" not in server.received[0].headers  # /check is public

    monkeypatch.setattr(check, "CHECK_TIMEOUT", 0.2)
    server.answer(200, {"verdict": "ok"}, delay=1.0)
    shown, out = console()
    code = check.run("(01)04700123123452", indexer_url=server.url, as_json=True, console=shown)
    assert code == 2
    assert json.loads(out.getvalue()) == {"error": "the indexer does not answer: timed out"}


def test_alerts_sends_the_reader_key_and_says_when_it_is_refused(
    server: Server, tmp_path: Path
) -> None:
    server.answer(401, problem_body("unknown API key", 401, "Unauthorized"))
    shown, out = console()
    key = key_file(tmp_path, "ik_reader")
    assert alerts.run(indexer_url=server.url, key_file=key, console=shown) == 2
    assert out.getvalue() == "unusable the indexer refuses the key (401): unknown API key\n"
    assert server.received[0].headers["Authorization"] == "Bearer ik_reader"


def test_recall_and_release_refused_or_failed(server: Server, tmp_path: Path) -> None:
    key = key_file(tmp_path, "pk_regulator")
    server.answer(409, problem_body("lot L1 is already recalled"), content_type=PROBLEM_JSON)
    said: list[str] = []
    code = run_recall(
        GTIN, "L1", reason="x", gateway_url=server.url, key_file=key, echo=said.append
    )
    assert (code, said) == (EXIT_REFUSED, ["refused (409): lot L1 is already recalled"])
    received = server.received[0]
    assert (received.method, received.path) == ("POST", "/recalls")
    assert received.headers["Authorization"] == "Bearer pk_regulator"
    assert json.loads(received.body) == {"reason": "x", "gtin": GTIN, "lot": "L1"}

    server.answer(503, problem_body("the chain is unavailable", 503), content_type=PROBLEM_JSON)
    code = run_release(GTIN, "L/1", gateway_url=server.url, key_file=key, echo=said.append)
    assert (code, said[-1]) == (EXIT_UNUSABLE, "refused (503): the chain is unavailable")
    assert server.received[1].path == f"/recalls/{GTIN}/L%2F1/release"

    server.answer(200, {"id": 3, "recallTx": "0xab", "notified": 2})
    code = run_recall(
        GTIN, "L1", reason="x", gateway_url=server.url, key_file=key, echo=said.append
    )
    assert code == EXIT_OK
    assert said[-1] == (
        f"recalled lot L1 of GTIN {GTIN} (recall 3, transaction 0xab); 2 participant(s) notified"
    )


def test_codes_stops_at_the_first_refusal(server: Server, tmp_path: Path) -> None:
    key = key_file(tmp_path, "pk_maker")
    server.answer(404, problem_body("lot L1 is not declared", 404), content_type=PROBLEM_JSON)
    said: list[str] = []
    code = run_codes(
        GTIN, "L1", count=2, out=tmp_path / "out", gateway_url=server.url, key_file=key,
        echo=said.append,
    )  # fmt: skip
    assert (code, said) == (EXIT_REFUSED, ["refused (404): lot L1 is not declared"])
    assert [(r.method, r.path) for r in server.received] == [("POST", "/codes")]
    assert server.received[0].headers["Authorization"] == "Bearer pk_maker"


def test_origin_proof_names_the_service_and_the_path(server: Server, tmp_path: Path) -> None:
    server.answer(404, problem_body("no such pack", 404), content_type=PROBLEM_JSON)
    shown, out = console()
    code = run_origin_proof(
        f"(01){GTIN}(21)S1",
        gateway_url=None,
        gateway_key_file=None,
        indexer_url=server.url,
        indexer_key_file=key_file(tmp_path, "ik_reader"),
        out=tmp_path / "bundle.json",
        api_per_pack=None,
        tolerance="5%",
        console=shown,
    )
    assert code == EXIT_UNUSABLE
    assert "the indexer answered 404 to GET /trace/" in out.getvalue()
    assert out.getvalue().rstrip().endswith(": no such pack")
    assert server.received[0].headers["Authorization"] == "Bearer ik_reader"
    shown, out = console()
    code = run_origin_proof(
        "x", gateway_url=None, gateway_key_file=None, indexer_url=server.url,
        indexer_key_file=tmp_path / "missing", out=tmp_path / "b.json", api_per_pack=None,
        tolerance="5%", console=shown,
    )  # fmt: skip
    assert code == EXIT_UNUSABLE and "unusable cannot read the key file" in out.getvalue()
