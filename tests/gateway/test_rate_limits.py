"""The gateway's budget of failed authentications per client address.

Issue 14, finding 10: wrong keys could be tried without end, each forcing an argon2 check.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError as PydanticValidationError

from gateway.api.app import create_app
from gateway.settings import GatewaySettings
from servicekit.http.ratelimits import client_key, parse_limits
from tests.gateway.conftest import GatewayFactory

PROBLEM = "application/problem+json"


def test_failed_authentications_past_the_budget_answer_429(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(auth_failure_rate_limit="3/hour")  # an hour: no window edge mid-test
    http = TestClient(create_app(gateway.service, run_batcher=False), client=("192.0.2.5", 1))
    wrong = {"Authorization": "Bearer pk_000000000000_wrong"}
    answers = [http.get("/participants", headers=wrong).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    locked = http.get("/participants", headers=gateway.regulator)
    assert locked.status_code == 429 and locked.headers["content-type"] == PROBLEM
    assert 1 <= int(locked.headers["retry-after"]) <= 3600
    # the fixture's own client is another address: not locked out
    assert gateway.http.get("/participants", headers=gateway.regulator).status_code == 200


def test_a_client_is_its_address_an_ipv6_client_its_64() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key(None) == client_key("") == "unknown"


def test_a_budget_is_limits_notation_and_empty_is_none() -> None:
    assert [str(item) for item in parse_limits("20/second;600/minute")] == [
        "20 per 1 second",
        "600 per 1 minute",
    ]
    assert parse_limits("") == parse_limits("  ") == ()
    with pytest.raises(ValueError, match="couldn't parse"):
        parse_limits("lots")
    with pytest.raises(
        PydanticValidationError,
        match=r"(?s)auth_failure_rate_limit.*couldn't parse rate limit string 'often'",
    ):
        GatewaySettings(auth_failure_rate_limit="often")
