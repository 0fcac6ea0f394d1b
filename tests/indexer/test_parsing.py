"""The indexer reads JSON bodies (the public POST /check) with the gateway's one strict parser
and size cap (issue 14, findings 1 to 3), and answers every error as problem+json."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.api.app import create_app
from indexer.queries import check as check_queries
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
LIMIT = 4096


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests start indexers of their own, and index nothing."""
    return module_network


@pytest.fixture
def http(make_indexer: IndexerFactory) -> TestClient:
    """The query API of an indexer (nothing indexed: not needed), default settings."""
    return TestClient(create_app(make_indexer(), follow=False))


@pytest.fixture
def capped(make_indexer: IndexerFactory) -> TestClient:
    """The same with a 4 KiB body cap."""
    return TestClient(create_app(make_indexer(max_body_bytes=LIMIT), follow=False))


def assert_problem(response: Any, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    if rule is not None:
        assert body["rule"] == rule, body
    return body


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b'{"code": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "document.depth"),
        (b'{"code": "0104700123123452", "code": "x"}', "document.duplicate-key"),
        (b'{"code": "010470012312345221A1", "n": NaN}', "document.number"),
        (b'{"code": "010470012312345221A1", "n": Infinity}', "document.number"),
        (b'{"code": "010470012312345221A1", "n": 1e999}', "document.number"),
        (b'{"code": "010470012312345221A1"', "document.json"),
    ],
    ids=["deep", "duplicate-key", "NaN", "Infinity", "1e999", "not-json"],
)
def test_a_check_body_the_parser_refuses_is_422_with_its_rule(
    http: TestClient, body: bytes, rule: str
) -> None:
    """Findings 1 and 3 on the public, keyless POST /check."""
    assert_problem(http.post("/check", content=body, headers=JSON), 422, rule)


def test_a_well_formed_check_body_still_answers(http: TestClient) -> None:
    response = http.post("/check", json={"code": "(01)04700123123452(21)A1"})
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "unknown"


def chunks(size: int) -> Iterator[bytes]:
    for start in range(0, size, 1024):
        yield b" " * min(1024, size - start)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_check_body_over_the_cap_is_413(capped: TestClient, framing: str) -> None:
    """Finding 2: 100 MB bodies on the public check grew the process by 290 MB each."""
    size = LIMIT + 1
    content: bytes | Iterator[bytes] = b" " * size if framing == "content-length" else chunks(size)
    problem = assert_problem(capped.post("/check", content=content, headers=JSON), 413)
    assert problem["type"].endswith("/problems/too-large")
    assert problem["limit"] == LIMIT


def test_unknown_routes_and_unexpected_errors_are_problem_json(
    make_indexer: IndexerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(check_queries, "check", broken)  # the module the /check route calls
    http = TestClient(create_app(make_indexer(), follow=False), raise_server_exceptions=False)
    assert_problem(http.get("/no/such/route"), 404)
    response = http.get("/check", params={"code": "(01)04700123123452(21)A1"})
    problem = assert_problem(response, 500)
    assert problem["type"].endswith("/problems/internal")
    assert "secret" not in response.text


@pytest.mark.slow
def test_a_deep_check_body_leaves_the_indexer_process_alive(tmp_path: Path) -> None:
    """Finding 1, as it happened: in a fresh interpreter with web3 imported (py_ecc raised the
    recursion limit to 100,000) the indexer's app answers a 100,000-deep POST /check with 422
    and the process exits normally; before, it died of SIGSEGV (return code -11)."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from fastapi.testclient import TestClient
        from indexer.api.app import create_app
        from tests.support.network import start_network
        assert sys.getrecursionlimit() >= 100_000  # py_ecc, through web3
        tmp = Path({str(tmp_path)!r})
        network = start_network(tmp / "gateway")
        service = network.indexer(f"sqlite:///{{tmp}}/indexer.db", tmp / "indexer")
        http = TestClient(create_app(service, follow=False))
        deep = b"[" * 100_000 + b"]" * 100_000
        response = http.post("/check", content=deep, headers={{"content-type": "application/json"}})
        print(response.status_code, response.json().get("rule"))
        service.stop()
        network.gateway.stop()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    assert done.stdout.split()[-2:] == ["422", "document.depth"]
