"""Budgets per client address on the indexer: the public pack check and failed authentications.

Issue 14, finding 10: 2,000 of 2,000 anonymous checks were answered, and wrong keys could be
tried without end.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.api.app import create_app
from indexer.service import IndexerService
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

PROBLEM = "application/problem+json"
#: A well-formed pack code the (empty) index does not know: 200, verdict unknown.
CODE = "(01)04700123123452(21)S00000001"


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests start indexers of their own, and index nothing."""
    return module_network


def client(service: IndexerService, address: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(service, follow=False), client=(address, 40000))


def reader_key(service: IndexerService) -> dict[str, str]:
    with service.sessions() as session:
        token = service.api_keys.issue(session, "inspector", "auditor")
    return {"Authorization": f"Bearer {token}"}


def test_anonymous_checks_past_the_budget_answer_429_with_retry_after(
    make_indexer: IndexerFactory,
) -> None:
    service = make_indexer(check_rate_limit="3/hour")  # an hour: no window edge mid-test
    http = client(service)
    answers = [http.get("/check", params={"code": CODE}).status_code for _ in range(3)]
    answers.append(http.post("/check", json={"code": "not a code"}).status_code)  # 422: counted
    assert answers == [200, 200, 200, 429]
    refused = http.get("/check", params={"code": CODE})
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.json()["type"].endswith("/rate-limited")
    # another address has its own budget; a reader key has none
    assert client(service, "2001:db8::1").get("/check", params={"code": CODE}).status_code == 200
    keyed = http.get("/check", params={"code": CODE}, headers=reader_key(service))
    assert keyed.status_code == 200 and keyed.json()["detail"] == "full"


def test_failed_authentications_past_the_budget_lock_the_address_out(
    make_indexer: IndexerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make_indexer(auth_failure_rate_limit="2/hour")
    good = reader_key(service)
    http = client(service)
    wrong = {"Authorization": "Bearer ik_000000000000_wrong"}
    assert [http.get("/anchors", headers=wrong).status_code for _ in range(2)] == [401, 401]
    tried: list[str] = []
    real = service.api_keys.authenticate

    def counting(session: Any, token: str) -> Any:
        tried.append(token)
        return real(session, token)

    monkeypatch.setattr(service.api_keys, "authenticate", counting)
    for headers in (wrong, good):  # refused before the key is even looked at
        locked = http.get("/anchors", headers=headers)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert tried == []
    assert http.get("/anchors").status_code == 401  # no key sent: nothing guessed, not counted
    assert client(service, "198.51.100.1").get("/anchors", headers=good).status_code == 200
