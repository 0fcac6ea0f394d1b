"""Every JSON body the gateway reads goes through one strict parser and one size cap (issue 14,
findings 1 to 3), and every error it answers is problem+json: an unknown route 404, anything
unexpected 500 with nothing of the error in it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.api.app import create_app
from gateway.store.models import EventRow
from medledger.epcis.builders import Actor, as_document
from provenance.journey import MANUFACTURER, build_journey
from servicekit.http.bodies import StrictJSONRoute
from servicekit.interpreter import RECURSION_LIMIT
from tests.gateway.conftest import Gateway, GatewayFactory

PROBLEM = "application/problem+json"
DEEP = b"[" * 100_000 + b"]" * 100_000
#: Small caps, so that the tests send kilobytes, not megabytes.
LIMIT, CAPTURE_LIMIT = 4096, 64 * 1024


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway for the module: its tests refuse bodies and compare what is stored before and
    after; one stores the journey's first step."""
    return make_module_gateway()


@pytest.fixture(scope="module")
def capped(make_module_gateway: GatewayFactory) -> Gateway:
    return make_module_gateway(max_body_bytes=LIMIT, max_capture_body_bytes=CAPTURE_LIMIT)


def stored_events(gateway: Gateway) -> int:
    with Session(gateway.service.engine) as session:
        return int(session.scalar(select(func.count()).select_from(EventRow)) or 0)


def first_step() -> tuple[Actor, str]:
    """The journey's first capture (an API maker commissions an API lot), as JSON text."""
    step = build_journey(4, packs_per_case=2).steps[0]
    return step.actor, json.dumps(as_document(step.events))


def post_capture(gateway: Gateway, actor: Actor, body: str | bytes) -> Any:
    content = body.encode() if isinstance(body, str) else body
    return gateway.http.post("/capture", content=content, headers=JSON | gateway.headers(actor))


def assert_problem(response: Any, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if rule is not None:
        assert body["rule"] == rule, body
    return body


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "who"),
    [
        ("POST", "/recalls", None),
        ("POST", "/recalls", "regulator"),
        ("POST", "/participants", "regulator"),
        ("POST", "/lots", "manufacturer"),
        ("POST", "/codes", "manufacturer"),
        ("PUT", "/participants/me/webhook", "manufacturer"),
        ("POST", "/capture", "manufacturer"),
    ],
)
def test_a_body_nested_100000_deep_is_refused_on_every_json_endpoint(
    gateway: Gateway, method: str, path: str, who: str | None
) -> None:
    """Finding 1 (in-process; tests/gateway/test_server_limits.py shows the real server
    survives it). Endpoints with a pydantic body parse before the key is checked, as FastAPI
    does; /capture reads its body only for a valid key, and answers 400 (the EPCIS binding's
    code for a refused document) where the others answer 422."""
    headers = {
        None: {},
        "regulator": gateway.regulator,
        "manufacturer": gateway.headers(MANUFACTURER),
    }[who]
    response = gateway.http.request(method, path, content=DEEP, headers=JSON | headers)
    assert_problem(response, 400 if path == "/capture" else 422, "document.depth")


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_a_capture_with_a_non_finite_number_is_400_and_stores_nothing(
    gateway: Gateway, literal: str
) -> None:
    """Finding 3: a quantity of Infinity or 1e999 was accepted (202) and then failed its own
    receipt; NaN gave 500."""
    actor, body = first_step()
    assert body.count('"quantity": 50') == 1  # the API lot's 50 kg
    before = stored_events(gateway)
    response = post_capture(
        gateway, actor, body.replace('"quantity": 50', f'"quantity": {literal}')
    )
    assert_problem(response, 400, "document.number")
    assert stored_events(gateway) == before


def test_a_capture_with_a_duplicate_key_is_400_and_stores_nothing(gateway: Gateway) -> None:
    """Finding 3: "last wins" let two readers see two different events."""
    actor, body = first_step()
    body = body.replace('"action": "ADD"', '"action": "ADD", "action": "DELETE"', 1)
    before = stored_events(gateway)
    problem = assert_problem(post_capture(gateway, actor, body), 400, "document.duplicate-key")
    assert "'action'" in problem["detail"]
    assert stored_events(gateway) == before


def test_a_valid_capture_is_still_202(capped: Gateway) -> None:
    actor, body = first_step()
    assert post_capture(capped, actor, body).status_code == 202
    assert stored_events(capped) > 0


def chunks(size: int, chunk: int = 1024) -> Iterator[bytes]:
    """A body of ``size`` bytes with no Content-Length (sent chunked)."""
    for start in range(0, size, chunk):
        yield b" " * min(chunk, size - start)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_the_cap_is_413_problem_json_and_stores_nothing(
    capped: Gateway, framing: str
) -> None:
    """Finding 2: a 100 MB body was read and parsed before anything checked it."""
    size = LIMIT + 1
    content: bytes | Iterator[bytes] = b" " * size if framing == "content-length" else chunks(size)
    response = capped.http.post("/recalls", content=content, headers=JSON | capped.regulator)
    problem = assert_problem(response, 413)
    assert problem["type"].endswith("/problems/too-large")
    assert problem["limit"] == LIMIT
    assert f"{LIMIT:,} bytes" in problem["detail"]
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_capture_has_its_own_larger_cap(capped: Gateway, framing: str) -> None:
    actor, body = first_step()
    padded = body.encode() + b" " * (LIMIT * 2)  # over the general cap, under capture's
    assert LIMIT < len(padded) < CAPTURE_LIMIT
    headers = JSON | capped.headers(actor)
    content: bytes | Iterator[bytes] = padded if framing == "content-length" else iter([padded])
    assert capped.http.post("/capture", content=content, headers=headers).status_code == 202
    size = CAPTURE_LIMIT + 1
    over: bytes | Iterator[bytes] = b" " * size if framing == "content-length" else chunks(size)
    problem = assert_problem(capped.http.post("/capture", content=over, headers=headers), 413)
    assert problem["limit"] == CAPTURE_LIMIT


def test_an_unknown_route_and_a_wrong_method_are_problem_json(gateway: Gateway) -> None:
    assert_problem(gateway.http.get("/no/such/route"), 404)
    wrong = assert_problem(gateway.http.delete("/recalls", headers=gateway.regulator), 405)
    assert wrong["type"].endswith("/problems/method")


def test_an_unexpected_error_is_500_problem_json_without_the_error(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(gateway.service.participants, "all", broken)
    http = TestClient(create_app(gateway.service, run_batcher=False), raise_server_exceptions=False)
    response = http.get("/participants", headers=gateway.regulator)
    problem = assert_problem(response, 500)
    assert "secret" not in response.text and "Traceback" not in response.text
    assert problem["type"].endswith("/problems/internal")
    assert any("secret internals" in r.getMessage() or r.exc_info for r in caplog.records)


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also those of included routers (FastAPI includes a router lazily)."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += api_routes(included.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def test_every_route_reads_json_with_the_strict_parser(gateway: Gateway) -> None:
    routes = api_routes(create_app(gateway.service, run_batcher=False).routes)
    assert len(routes) > 20
    assert [r.path for r in routes if not isinstance(r, StrictJSONRoute)] == []


def test_the_app_puts_the_recursion_limit_back(gateway: Gateway) -> None:
    """Finding 1's cause: py_ecc (through web3) raised the limit to 100,000."""
    assert sys.getrecursionlimit() <= RECURSION_LIMIT


def test_a_query_document_posted_to_capture_is_captured_as_its_events(gateway: Gateway) -> None:
    """The REST binding's capture takes an EPCISQueryDocument too (its events sit at
    epcisBody.queryResults.resultsBody.eventList); it was a 500 (a KeyError in the intake), then
    422 (now 400) document.type. A refusal names the event where it is in the query document."""
    actor, text = first_step()
    document = json.loads(text)
    events = document["epcisBody"]["eventList"]
    results = {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}
    query_document = {**document, "type": "EPCISQueryDocument",
                      "epcisBody": {"queryResults": results}}  # fmt: skip
    bad = json.loads(json.dumps(query_document))
    bad["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"] = ["urn:epc:x"]
    before = stored_events(gateway)  # the module's only capture: its events are new here
    refused = assert_problem(post_capture(gateway, actor, json.dumps(bad)), 400, "gs1.identifier")
    assert refused["pointer"] == ("/epcisBody/queryResults/resultsBody/eventList/0/epcList/0"), (
        refused
    )
    assert stored_events(gateway) == before
    response = post_capture(gateway, actor, json.dumps(query_document))
    assert response.status_code == 202, response.text
    assert response.json()["stored"] == len(events) == stored_events(gateway) - before
    not_capturable = {**document, "type": "EPCISMasterDataDocument"}
    assert_problem(post_capture(gateway, actor, json.dumps(not_capturable)), 400)
