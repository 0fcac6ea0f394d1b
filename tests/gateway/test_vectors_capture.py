"""Every JSON-LD EPCIS 2.0 document written by others, posted over HTTP as a trading partner's
system would (issue 16): a participant on the ``epcis`` rule set gets each valid one captured
with the reference event hashes, anchored, and a receipt per event that verifies offline and
on-chain; each invalid one is refused whole with its rule and pointer.

One gateway (SQLite, in-process chain) serves the whole module: the documents are posted as the
files' own bytes, ``application/ld+json``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chain.verification import verify_receipt
from gateway.api.app import create_app
from gateway.intake import KNOWN_CONTEXTS
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis.event_id import EventId
from medledger.formats.receipt import Receipt
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files

EXAMPLES = vector_files("epcis/gs1-examples", "*.jsonld")
HASH_DOCUMENTS = vector_files("event-hash", "*.jsonld")
INVALID = vector_files("epcis/invalid", "*.json")
LD_JSON = {"Content-Type": "application/ld+json"}

#: Documents the GS1 schema refuses, with the rule and pointer they are refused with.
REFUSED: dict[str, tuple[str, str]] = {
    "Combination_of_events_with_missing_mandatory_fields": (
        "schema.required",
        "/epcisBody/eventList/0",
    ),
    "Combination_of_multiple_invalid_fields": ("schema.anyOf", "/epcisBody/eventList/0/bizStep"),
    "Combination_of_non_standard_bizStep_and_disposition": (
        "schema.anyOf",
        "/epcisBody/eventList/0/bizStep",
    ),
    "EPCISDocument_without_context": ("schema.required", "/"),
    "ObjectEvent_with_ilmd_field_without_namespace": (
        "schema.propertyNames",
        "/epcisBody/eventList/0/ilmd",
    ),
    "ObjectEvent_with_invalid_action": ("schema.enum", "/epcisBody/eventList/0/action"),
    "ObjectEvent_with_invalid_certificationInfo": (
        "schema.anyOf",
        "/epcisBody/eventList/0/certificationInfo",
    ),
    "ObjectEvent_with_invalid_eventTime_format": (
        "schema.format",
        "/epcisBody/eventList/0/eventTime",
    ),
    "ObjectEvent_with_non_standard_bizStep": ("schema.anyOf", "/epcisBody/eventList/0/bizStep"),
    "ObjectEvent_with_non_standard_bizStep_in_second_event": (
        "schema.anyOf",
        "/epcisBody/eventList/1/bizStep",
    ),
    "ObjectEvent_with_non_standard_disposition": (
        "schema.anyOf",
        "/epcisBody/eventList/0/disposition",
    ),
    "ObjectEvent_with_quantity_as_text": (
        "schema.type",
        "/epcisBody/eventList/0/quantityList/0/quantity",
    ),
    "ObjectEvent_with_unknown_field_in_quantityList": (
        "schema.additionalProperties",
        "/epcisBody/eventList/0/quantityList/0",
    ),
    "ObjectEvent_without_action_and_eventTime": ("schema.required", "/epcisBody/eventList/0"),
    "ObjectEvent_without_identifier_list": ("schema.anyOf", "/epcisBody/eventList/0"),
    # ignoreFields is no EPCIS 2.0 field (the hash tool's test input): the schema refuses it
    "epcisDocHavingEventWithIgnoreFields": ("schema.propertyNames", "/epcisBody/eventList/0"),
    "epcisQueryDocHavingEventWithIgnoreFields": (
        "schema.propertyNames",
        "/epcisBody/queryResults/resultsBody/eventList/0",
    ),
}
#: Documents the schema takes that a documented rule refuses (docs/rules.md, "What the GS1
#: schema accepts and the gateway refuses").
REFUSED_BY_RULE: dict[str, tuple[str, str]] = {
    # "eventID" twice in one event: JSON parsers disagree on which one counts (RFC 8259 section 4)
    "AssociationEvent__AssociationEvent-h": ("document.duplicate-key", ""),
}
REFUSED.update(REFUSED_BY_RULE)
VALID = [p for p in (*EXAMPLES, *HASH_DOCUMENTS) if p.stem not in REFUSED]
REFUSED_FILES = [*INVALID, *(p for p in (*EXAMPLES, *HASH_DOCUMENTS) if p.stem in REFUSED)]
needs_vectors = pytest.mark.skipif(not VALID, reason=SKIP_REASON)


@dataclass
class Partner:
    """A gateway and one participant on the ``epcis`` rule set: a trading partner's system."""

    service: GatewayService
    http: TestClient
    headers: dict[str, str]
    regulator: dict[str, str]

    def post(self, body: bytes) -> Any:
        return self.http.post("/capture", content=body, headers={**self.headers, **LD_JSON})


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    folder = tmp_path_factory.mktemp("vectors-gateway")
    settings = GatewaySettings(
        data_dir=folder / "data", database_url=f"sqlite:///{folder}/gateway.db"
    ).allowing_development_password()  # the fast KDF: these tests are not about keystores
    service = GatewayService(settings)
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        body = {"name": "EPCIS partner", "roles": ["api-maker"], "gln": "4700000999996"}
        created = http.post("/participants", json={**body, "ruleSet": "epcis"}, headers=regulator)
        assert created.status_code == 201, created.text
        headers = {"Authorization": f"Bearer {created.json()['apiKey']}"}
        yield Partner(service, http, headers, regulator)
    finally:
        service.stop()


def expected_hashes(path: Path) -> list[str] | None:
    hashes = path.with_suffix(".hashes")
    if not hashes.exists():
        return None
    return [line for line in hashes.read_text(encoding="utf-8").splitlines() if line.strip()]


@needs_vectors
@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_every_valid_document_is_captured_with_the_reference_event_hashes(
    partner: Partner, path: Path
) -> None:
    response = partner.post(path.read_bytes())
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["eventIDs"], "a captured document names its events"
    assert accepted["stored"] + accepted["duplicates"] == len(accepted["eventIDs"])
    expected = expected_hashes(path)
    if expected is not None:
        assert accepted["eventIDs"] == expected


@needs_vectors
def test_every_captured_event_is_anchored_and_its_receipt_verifies(partner: Partner) -> None:
    event_ids: dict[str, str] = {}
    for path in VALID:  # again: idempotent, the same ids (whichever test ran first)
        response = partner.post(path.read_bytes())
        assert response.status_code == 202, (path.stem, response.text)
        event_ids.update((e, path.stem) for e in response.json()["eventIDs"])
    partner.service.batcher.step(flush=True)
    for event_id, source in event_ids.items():
        hex_id = EventId.parse_uri(event_id).hex
        got = partner.http.get(f"/events/{hex_id}/receipt", headers=partner.headers)
        assert got.status_code == 200, (source, got.text)
        receipt = Receipt.from_json(got.json())
        verdict = verify_receipt(receipt, chain=partner.service.chain)
        assert verdict.valid, (source, verdict.failures)


@pytest.mark.skipif(not REFUSED_FILES, reason=SKIP_REASON)
@pytest.mark.parametrize("path", REFUSED_FILES, ids=[p.stem for p in REFUSED_FILES])
def test_every_invalid_document_is_refused_whole_with_its_rule(
    partner: Partner, path: Path
) -> None:
    response = partner.post(path.read_bytes())
    assert response.status_code == 400, response.text
    problem = response.json()
    assert (problem["rule"], problem["pointer"]) == REFUSED[path.stem]
    if problem["rule"].startswith("document."):
        return  # refused by the JSON parser, before a capture job exists
    job = partner.http.get(f"/capture/{problem['capture_id']}", headers=partner.headers)
    assert job.json()["status"] == "rejected" and job.json()["eventIDs"] == []


def _document(name: str) -> dict[str, Any]:
    matches = [p for p in VALID if p.stem == name]
    if not matches:
        pytest.skip(SKIP_REASON)
    document: dict[str, Any] = json.loads(matches[0].read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("url", KNOWN_CONTEXTS)
def test_every_published_context_url_is_resolved_offline_to_the_same_events(
    partner: Partner, url: str
) -> None:
    document = _document("epcisDocWithCustomSchemaInContext")
    document["@context"] = [url, *document["@context"][1:]]
    response = partner.post(json.dumps(document).encode())
    assert response.status_code == 202, response.text
    assert response.json()["eventIDs"] == expected_hashes(
        next(p for p in VALID if p.stem == "epcisDocWithCustomSchemaInContext")
    )


def test_prefixes_scoped_to_an_event_or_a_nested_object_hash_as_the_documents_own(
    partner: Partner,
) -> None:
    """A prefix declared on the document, on the event, or on the very object that uses it (in
    names and in CURIE values): the same event, the same hash (JSON-LD scoping), stored and
    proved either way."""
    document = _document("epcisDocWithCustomSchemaInContext")
    expected = expected_hashes(
        next(p for p in VALID if p.stem == "epcisDocWithCustomSchemaInContext")
    )
    assert expected is not None
    example = {"example": "https://ns.example.com/epcis/"}
    on_event = copy.deepcopy(document)
    on_event["@context"] = [c for c in document["@context"] if c != example]
    on_event["epcisBody"]["eventList"][0]["@context"] = [example]
    response = partner.post(json.dumps(on_event).encode())
    assert response.status_code == 202, response.text
    assert response.json()["eventIDs"][0] == expected[0]

    nested = copy.deepcopy(document)
    event = nested["epcisBody"]["eventList"][0]
    scoped = {"ex2": example["example"]}  # another prefix for the same namespace
    event["example:myField"] = {"@context": scoped, "ex2:inner": "ex2:value"}
    with_scope = partner.post(json.dumps(nested).encode())
    moved = copy.deepcopy(nested)
    moved_event = moved["epcisBody"]["eventList"][0]
    moved_event["example:myField"] = {"example:inner": "example:value"}
    without_scope = partner.post(json.dumps(moved).encode())
    assert with_scope.status_code == without_scope.status_code == 202, with_scope.text
    assert with_scope.json()["eventIDs"][0] == without_scope.json()["eventIDs"][0]
    assert with_scope.json()["eventIDs"][0] != expected[0]  # a different extension value

    partner.service.batcher.step(flush=True)
    for event_id in (response.json()["eventIDs"][0], with_scope.json()["eventIDs"][0]):
        hex_id = EventId.parse_uri(event_id).hex
        got = partner.http.get(f"/events/{hex_id}/receipt", headers=partner.headers)
        assert got.status_code == 200, got.text
        verdict = verify_receipt(Receipt.from_json(got.json()), chain=partner.service.chain)
        assert verdict.valid, verdict.failures
