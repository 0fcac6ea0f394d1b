"""The gateway's budget of failed authentications per client address.

Issue 14, finding 10: wrong keys could be tried without end, each forcing an argon2 check.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.api.app import create_app
from tests.gateway.conftest import GatewayFactory

PROBLEM = "application/problem+json"


def test_failed_authentications_past_the_budget_answer_429(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(auth_failure_rate_limit="3/minute")
    http = TestClient(create_app(gateway.service, run_batcher=False), client=("192.0.2.5", 1))
    wrong = {"Authorization": "Bearer pk_000000000000_wrong"}
    answers = [http.get("/participants", headers=wrong).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    locked = http.get("/participants", headers=gateway.regulator)
    assert locked.status_code == 429 and locked.headers["content-type"] == PROBLEM
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    # the fixture's own client is another address: not locked out
    assert gateway.http.get("/participants", headers=gateway.regulator).status_code == 200
