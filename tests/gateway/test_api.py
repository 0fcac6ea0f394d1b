"""The gateway's HTTP API: durable, idempotent, strict, and every answer a clear one."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chain.verification import verify_receipt
from gateway.store.batches import unanchored_event_count
from medledger.epcis.builders import as_document
from medledger.formats.receipt import Receipt
from provenance.journey import API_MAKER, MANUFACTURER, PHARMACY, build_journey
from provenance.verify import canonical_event_digest
from tests.gateway.conftest import Gateway

PROBLEM = "application/problem+json"


def first_step(journey: Any = None) -> dict[str, Any]:
    """The API maker commissioning its API lot: valid for a fresh gateway."""
    return as_document((journey or build_journey()).steps[0].events)


def hex_id(event_id: str) -> str:
    return event_id.split(";", 1)[1][:64]


def test_a_valid_document_is_acknowledged_with_its_event_ids(gateway: Gateway) -> None:
    response = gateway.capture(API_MAKER, first_step())
    assert response.status_code == 202
    body = response.json()
    assert body["stored"] == 1 and body["duplicates"] == 0
    assert body["eventIDs"][0].startswith("ni:///sha-256;") and body["eventIDs"][0].endswith(
        "?ver=CBV2.0"
    )
    assert response.headers["location"] == f"/capture/{body['captureID']}"
    status = gateway.http.get(response.headers["location"], headers=gateway.headers(API_MAKER))
    assert status.json()["status"] == "accepted"


def test_sending_the_same_event_again_stores_nothing_new(gateway: Gateway) -> None:
    document = first_step()
    first = gateway.capture(API_MAKER, document).json()
    again = gateway.capture(API_MAKER, copy.deepcopy(document)).json()
    assert again["eventIDs"] == first["eventIDs"]
    assert (again["stored"], again["duplicates"]) == (0, 1)


def test_a_rule_violation_is_problem_json_naming_event_field_and_rule(gateway: Gateway) -> None:
    journey = build_journey()
    gateway.capture(API_MAKER, as_document(journey.steps[0].events))
    # The manufacturer claims to receive an API lot nobody shipped to it.
    response = gateway.capture(MANUFACTURER, as_document(journey.steps[2].events))
    assert response.status_code == 400  # the EPCIS REST binding's code; other routes say 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["rule"].startswith("custody.")
    assert problem["event_index"] == 0
    assert problem["pointer"].startswith("/epcisBody/eventList/0")
    status = gateway.http.get(
        f"/capture/{problem['capture_id']}", headers=gateway.headers(MANUFACTURER)
    ).json()
    assert status["status"] == "rejected" and status["error"]["rule"] == problem["rule"]


def test_a_rejected_document_stores_none_of_its_events(gateway: Gateway) -> None:
    journey = build_journey()
    good = journey.steps[0].events[0]
    bad = copy.deepcopy(good)
    bad["bizStep"] = "dispensing"  # an API maker may not dispense
    response = gateway.capture(API_MAKER, as_document([good, bad]))
    assert response.status_code == 400 and response.json()["event_index"] == 1
    accepted = gateway.capture(API_MAKER, as_document([good])).json()
    assert accepted["stored"] == 1, "the good event of the rejected document was not kept"


def test_schema_errors_and_non_json_bodies_are_problem_json(gateway: Gateway) -> None:
    missing = first_step()
    del missing["epcisBody"]["eventList"][0]["eventTime"]
    response = gateway.capture(API_MAKER, missing)
    assert response.status_code == 400 and response.json()["rule"].startswith("schema.")
    raw = gateway.http.post("/capture", content=b"{not json", headers=gateway.headers(API_MAKER))
    assert raw.status_code == 400 and raw.headers["content-type"] == PROBLEM
    assert raw.json()["rule"] == "document.json"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer pk_000000000000_nope"}, 401)],
    ids=["no-key", "unknown-key"],
)
def test_capture_needs_a_valid_api_key(
    gateway: Gateway, headers: dict[str, str], status: int
) -> None:
    response = gateway.http.post("/capture", json=first_step(), headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM


def test_a_suspended_participant_is_refused_until_reinstated(gateway: Gateway) -> None:
    address = gateway.addresses[API_MAKER.name]
    suspended = gateway.http.post(f"/participants/{address}/suspend", headers=gateway.regulator)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert gateway.service.ledger.participant(address).status.name == "SUSPENDED"
    assert gateway.capture(API_MAKER, first_step()).status_code == 403
    gateway.http.post(f"/participants/{address}/reinstate", headers=gateway.regulator)
    assert gateway.capture(API_MAKER, first_step()).status_code == 202


def test_only_the_regulator_registers_participants(gateway: Gateway) -> None:
    body = {"name": "Rogue", "roles": ["pharmacy"], "gln": "4700999100001"}
    response = gateway.http.post("/participants", json=body, headers=gateway.headers(PHARMACY))
    assert response.status_code == 403
    unknown_role = {**body, "roles": ["chemist"]}
    response = gateway.http.post("/participants", json=unknown_role, headers=gateway.regulator)
    assert response.status_code == 422 and "unknown role" in response.json()["detail"]


def test_an_anchored_event_has_a_receipt_that_verifies_offline_and_on_chain(
    gateway: Gateway,
) -> None:
    accepted = gateway.capture(API_MAKER, first_step()).json()
    event_id = accepted["eventIDs"][0]
    early = gateway.http.get(f"/events/{hex_id(event_id)}/receipt", headers=gateway.regulator)
    assert early.status_code == 409 and early.headers["content-type"] == PROBLEM
    gateway.anchor_all()
    response = gateway.http.get(f"/events/{hex_id(event_id)}/receipt", headers=gateway.regulator)
    assert response.status_code == 200
    receipt = Receipt.from_json(response.json())
    assert receipt.anchored_by == gateway.addresses[API_MAKER.name]
    verdict = verify_receipt(
        receipt, chain=gateway.service.chain, event_hasher=canonical_event_digest
    )
    assert verdict.valid, verdict.failures
    status = gateway.http.get(f"/capture/{accepted['captureID']}", headers=gateway.regulator)
    assert status.json()["status"] == "anchored"


def test_batch_contents_are_for_the_submitter_regulator_and_auditors_only(
    gateway: Gateway,
) -> None:
    accepted = gateway.capture(API_MAKER, first_step()).json()
    gateway.anchor_all()
    receipt = gateway.http.get(
        f"/events/{hex_id(accepted['eventIDs'][0])}/receipt", headers=gateway.regulator
    ).json()
    path = f"/batches/{receipt['root']}"
    own = gateway.http.get(path, headers=gateway.headers(API_MAKER))
    assert own.status_code == 200
    assert own.json()["events"][0]["salt"] == receipt["salt"]
    assert gateway.http.get(path, headers=gateway.regulator).status_code == 200
    assert gateway.http.get(path, headers=gateway.headers(PHARMACY)).status_code == 404
    assert gateway.http.get("/batches/0x1234", headers=gateway.regulator).status_code == 422


def test_events_are_readable_by_their_submitter_not_by_others(gateway: Gateway) -> None:
    event_id = gateway.capture(API_MAKER, first_step()).json()["eventIDs"][0]
    own = gateway.http.get(f"/events/{hex_id(event_id)}", headers=gateway.headers(API_MAKER))
    assert own.status_code == 200 and own.json()["bizStep"] == "commissioning"
    assert canonical_event_digest(own.json()).hex() == hex_id(event_id)
    other = gateway.http.get(f"/events/{hex_id(event_id)}", headers=gateway.headers(PHARMACY))
    assert other.status_code == 404


def test_a_full_backlog_answers_503_with_retry_after(make_gateway: Any) -> None:
    gateway = make_gateway(max_backlog_events=1, retry_after_seconds=7)
    assert gateway.capture(API_MAKER, first_step()).status_code == 202
    response = gateway.capture(API_MAKER, as_document(build_journey().steps[1].events))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == PROBLEM


def test_the_whole_journey_is_accepted_and_anchored(gateway: Gateway) -> None:
    journey = build_journey(pack_count=40, packs_per_case=10)
    actors = {a.name: a for a in (step.actor for step in journey.steps)}
    for step in journey.steps:
        response = gateway.capture(actors[step.actor.name], as_document(step.events))
        assert response.status_code == 202, response.text
        gateway.anchor_all()
    with gateway.service.sessions() as session:
        assert unanchored_event_count(session) == 0


def test_the_openapi_description_lists_every_endpoint(gateway: Gateway) -> None:
    paths = gateway.http.get("/openapi.json").json()["paths"]
    for path in (
        "/capture",
        "/capture/{capture_id}",
        "/events/{event_id}",
        "/events/{event_id}/receipt",
        "/batches/{root}",
        "/participants",
    ):
        assert path in paths


def test_unknown_query_parameters_and_values_are_422_naming_the_allowed(gateway: Gateway) -> None:
    """A typo in a script's query is an error, not a silently wider answer."""
    headers = gateway.headers(API_MAKER)
    typo = gateway.http.get("/recalls", params={"actve": "true"}, headers=headers)
    assert typo.status_code == 422 and typo.headers["content-type"] == PROBLEM
    assert typo.json()["detail"] == "unknown query parameter actve; this endpoint takes: active"
    assert typo.json()["rule"] == "query.unknown"
    wrong = gateway.http.get("/codes/04700123123452/L1", params={"format": "gif"}, headers=headers)
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["detail"] == "query parameter format: Input should be 'png' or 'svg'"
