"""Captured eventTimes are bounded (issue 14, finding 6: "Time you can trust").

A shipment dated 9999-12-31 was accepted and made the indexer ignore every later event of its
packs; a dispensing dated 0001-01-01 was final at the gateway and history only to the indexer.
Now the first is refused under every rule set (``time.future``), the second under ``pharma``
(``time.backdated``), on SQLite and PostgreSQL (the item's time is stored with its state).
"""

from __future__ import annotations

from typing import Any

import pytest

from medledger.epcis.builders import as_document
from medledger.epcis.gs1 import check_digit
from provenance.journey import build_journey
from tests.gateway.conftest import Gateway, GatewayFactory

GLN = "471234500000" + str(check_digit("471234500000"))


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: one test refuses, the other captures a journey."""
    return make_module_gateway()


def dated(events: list[dict[str, Any]], when: str) -> list[dict[str, Any]]:
    return [{**e, "eventTime": when} for e in events]


def refused_by(response: Any, rule: str) -> None:
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["rule"] == rule, problem
    assert problem["pointer"] == "/epcisBody/eventList/0/eventTime"


def test_an_event_from_the_future_is_refused_under_every_rule_set(gateway: Gateway) -> None:
    commissioning = build_journey(4, packs_per_case=2).steps[0]
    future = as_document(dated(commissioning.events, "9999-12-31T00:00:00Z"))
    refused_by(gateway.capture(commissioning.actor, future), "time.future")

    body = {"name": "schema only", "roles": ["api-maker"], "gln": GLN}
    created = gateway.http.post(
        "/participants", json={**body, "ruleSet": "epcis"}, headers=gateway.regulator
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['apiKey']}"}
    response = gateway.http.post("/capture", json=future, headers=headers)
    refused_by(response, "time.future")


def test_a_backdated_dispensing_is_refused_and_the_real_one_accepted(gateway: Gateway) -> None:
    journey = build_journey(4, packs_per_case=2)
    *before, last = journey.steps
    for step in before:
        response = gateway.capture(step.actor, as_document(step.events))
        assert response.status_code == 202, (step.story, response.text)
    backdated = as_document(dated(last.events, "0001-01-01T00:00:00Z"))
    refused_by(gateway.capture(last.actor, backdated), "time.backdated")
    assert gateway.capture(last.actor, as_document(last.events)).status_code == 202
