"""EPCIS error declarations through the gateway (issue 16 step 6): an event captured, then sent
again with an ``errorDeclaration``, has its declaration stored, anchored as a leaf of its own and
proved by a receipt of kind ``errorDeclaration``; only the event's submitter or the regulator
may declare it, only an event the gateway holds, and a refusal changes nothing.

One gateway (SQLite, in-process chain) and GS1's examples with error declarations serve the
whole module.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from chain.verification import verify_receipt
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.store.models import ErrorDeclarationRow
from medledger.epcis.error_declaration import parse_declaration_id, read_declaration
from medledger.epcis.event_hash import event_hash
from medledger.formats.receipt import Receipt
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, VECTORS

LD_JSON = {"Content-Type": "application/ld+json"}
XML = {"Content-Type": "application/xml"}
EXAMPLES = VECTORS / "epcis/gs1-examples"
CORRECTIVE = EXAMPLES / "WithErrorDeclaration__ErrorDeclarationAndCorrectiveEvent.jsonld"
OBJECT_EVENT = EXAMPLES / (
    "WithErrorDeclaration__Example_9.6.1-ObjectEvent-with-error-declaration.jsonld"
)
XML_VECTOR = VECTORS / "event-hash/epcisDocWithXMLstartTagAndErrorDeclaration.xml"
pytestmark = pytest.mark.skipif(not CORRECTIVE.exists(), reason=SKIP_REASON)


@dataclass
class Network:
    service: GatewayService
    http: TestClient
    alice: dict[str, str]
    bob: dict[str, str]
    regulator: dict[str, str]

    def post(self, who: dict[str, str], document: Any) -> Any:
        return self.http.post(
            "/capture", content=json.dumps(document).encode(), headers={**who, **LD_JSON}
        )

    def declarations(self) -> int:
        with self.service.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(ErrorDeclarationRow)) or 0)

    def anchor(self) -> None:
        self.service.batcher.step(flush=True)

    def verified_receipt(self, who: dict[str, str], declaration_id: str) -> Receipt:
        hex_id = parse_declaration_id(declaration_id).hex()
        got = self.http.get(f"/declarations/{hex_id}/receipt", headers=who)
        assert got.status_code == 200, got.text
        receipt = Receipt.from_json(got.json())
        verdict = verify_receipt(receipt, chain=self.service.chain)
        assert verdict.valid, verdict.failures
        assert "declaration hash" in [c.name for c in verdict.checks]
        return receipt


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    folder = tmp_path_factory.mktemp("declarations-gateway")
    settings = GatewaySettings(
        data_dir=folder / "data", database_url=f"sqlite:///{folder}/gateway.db"
    ).allowing_development_password()
    service = GatewayService(settings)
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        keys = []
        for name, gln in (("Alice", "4700000999996"), ("Bob", "4700000888887")):
            body = {"name": name, "roles": ["api-maker"], "gln": gln, "ruleSet": "epcis"}
            created = http.post("/participants", json=body, headers=regulator)
            assert created.status_code == 201, created.text
            keys.append({"Authorization": f"Bearer {created.json()['apiKey']}"})
        yield Network(service, http, keys[0], keys[1], regulator)
    finally:
        service.stop()


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _without_declarations(document: dict[str, Any]) -> dict[str, Any]:
    bare = copy.deepcopy(document)
    for event in bare["epcisBody"]["eventList"]:
        event.pop("errorDeclaration", None)
    return bare


def test_a_declaration_of_a_captured_event_is_stored_anchored_and_proved(
    network: Network,
) -> None:
    document = _load(CORRECTIVE)
    original = network.post(network.alice, _without_declarations(document))
    assert original.status_code == 202, original.text
    assert original.json()["stored"] == 2 and original.json()["declarationIDs"] == []

    declared = network.post(network.alice, document)
    assert declared.status_code == 202, declared.text
    answer = declared.json()
    assert answer["eventIDs"] == original.json()["eventIDs"]
    assert (answer["stored"], answer["duplicates"], answer["declarationsStored"]) == (0, 2, 1)
    (declaration_id,) = answer["declarationIDs"]

    again = network.post(network.alice, document).json()  # the same declaration: a duplicate
    assert (again["declarationIDs"], again["declarationsStored"]) == ([declaration_id], 0)

    network.anchor()
    receipt = network.verified_receipt(network.alice, declaration_id)
    assert receipt.kind == "errorDeclaration" and receipt.event is None
    assert receipt.declaration is not None
    declared_event = read_declaration(receipt.declaration)
    assert declared_event.event_id == answer["eventIDs"][0]
    assert declared_event.reason == "https://ref.gs1.org/cbv/ER-incorrect_data"
    assert declared_event.corrective_event_ids == ("urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8",)

    batch = network.http.get(f"/batches/0x{receipt.root.hex()}", headers=network.regulator)
    assert batch.status_code == 200, batch.text
    kinds = [(e["kind"], e["eventID"]) for e in batch.json()["events"]]
    assert ("errorDeclaration", declaration_id) in kinds
    assert batch.json()["eventCount"] == len(kinds)

    job = network.http.get(f"/capture/{answer['captureID']}", headers=network.alice)
    assert job.json()["status"] == "anchored"
    stored = network.http.get(
        f"/declarations/{parse_declaration_id(declaration_id).hex()}", headers=network.alice
    )
    assert stored.status_code == 200 and stored.json() == receipt.declaration
    event = network.http.get(
        f"/events/{answer['eventIDs'][0].split(';')[1][:64]}", headers=network.alice
    )
    served = event.json()
    assert served["errorDeclaration"] == {
        "declarationTime": "2020-01-14T23:00:00Z",  # +01:00 in UTC
        "reason": "incorrect_data",
        "correctiveEventIDs": ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"],
    }  # EPCIS 2.0 section 7.4.1.4, as the index serves it; stored once, as the declaration
    assert event_hash(served) == answer["eventIDs"][0], "errorDeclaration is not hashed"
    undeclared = network.http.get(
        f"/events/{answer['eventIDs'][1].split(';')[1][:64]}", headers=network.alice
    )
    assert "errorDeclaration" not in undeclared.json()


def test_an_event_and_its_declaration_sent_together_are_both_stored(network: Network) -> None:
    answer = network.post(network.alice, _load(OBJECT_EVENT))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["stored"], body["declarationsStored"], len(body["declarationIDs"])) == (2, 1, 1)
    network.anchor()
    network.verified_receipt(network.alice, body["declarationIDs"][0])


def test_an_xml_declaration_of_an_xml_captured_event(network: Network) -> None:
    text = XML_VECTOR.read_text(encoding="utf-8")
    bare = re.sub(r"\s*<errorDeclaration>.*?</errorDeclaration>", "", text, flags=re.S)
    expected = XML_VECTOR.with_suffix(".hashes").read_text(encoding="utf-8").split()
    original = network.http.post("/capture", content=bare.encode(), headers={**network.bob, **XML})
    assert original.status_code == 202, original.text
    assert original.json()["eventIDs"] == expected
    declared = network.http.post("/capture", content=text.encode(), headers={**network.bob, **XML})
    assert declared.status_code == 202, declared.text
    assert declared.json()["declarationsStored"] == 1
    network.anchor()
    receipt = network.verified_receipt(network.bob, declared.json()["declarationIDs"][0])
    assert receipt.anchored_by != ""


def test_only_the_submitter_or_the_regulator_may_declare_an_event(network: Network) -> None:
    document = _load(CORRECTIVE)
    document["epcisBody"]["eventList"][0]["errorDeclaration"]["reason"] = "did_not_occur"
    before = network.declarations()
    refused = network.post(network.bob, document)
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert (problem["rule"], problem["pointer"]) == (
        "errorDeclaration.not-yours",
        "/epcisBody/eventList/0/errorDeclaration",
    )
    assert network.declarations() == before
    job = network.http.get(f"/capture/{problem['capture_id']}", headers=network.bob)
    assert job.json()["status"] == "rejected"

    by_regulator = network.post(network.regulator, document)
    assert by_regulator.status_code == 202, by_regulator.text
    assert by_regulator.json()["declarationsStored"] == 1
    network.anchor()
    receipt = network.verified_receipt(network.regulator, by_regulator.json()["declarationIDs"][0])
    assert receipt.anchored_by.lower() == network.service.regulator.address.lower()
    # the event's submitter reads the declaration of its event
    hex_id = parse_declaration_id(by_regulator.json()["declarationIDs"][0]).hex()
    assert network.http.get(f"/declarations/{hex_id}", headers=network.alice).status_code == 200
    assert network.http.get(f"/declarations/{hex_id}", headers=network.bob).status_code == 404


def test_a_declaration_of_an_event_never_captured_is_refused(network: Network) -> None:
    document = _load(CORRECTIVE)
    document["epcisBody"]["eventList"][0]["eventTime"] = "2020-01-13T00:00:00+01:00"  # unknown
    before = network.declarations()
    refused = network.post(network.regulator, document)
    assert refused.status_code == 400, refused.text
    assert refused.json()["rule"] == "errorDeclaration.unknown-event"
    assert network.declarations() == before


def test_provenance_verify_takes_a_declaration_receipt(network: Network, tmp_path: Path) -> None:
    from provenance.verify import run

    document = _load(OBJECT_EVENT)
    declaration_id = network.post(network.alice, document).json()["declarationIDs"][0]
    network.anchor()
    receipt = network.verified_receipt(network.alice, declaration_id)
    path = tmp_path / "declaration.json"
    path.write_text(receipt.dumps(), encoding="utf-8")
    assert run([path], rpc_url=None) == 0
    forged = receipt.to_json()
    forged["declaration"]["errorDeclaration"]["reason"] = "did_not_occur"
    path.write_text(json.dumps(forged), encoding="utf-8")
    assert run([path], rpc_url=None) == 1


def test_under_proceed_a_refused_declaration_drops_its_event_only(network: Network) -> None:
    document = _load(CORRECTIVE)
    events = document["epcisBody"]["eventList"]
    events[0]["errorDeclaration"]["declarationTime"] = "2020-01-16T00:00:00Z"  # another one
    events[1] = {**events[1], "eventTime": "2021-01-29T00:00:00+01:00"}  # a new event of Bob's
    events[1].pop("eventID")
    before = network.declarations()
    answer = network.http.post(
        "/capture",
        content=json.dumps(document).encode(),
        headers={**network.bob, **LD_JSON, "GS1-Capture-Error-Behaviour": "proceed"},
    )
    assert answer.status_code == 202, answer.text
    assert (answer.json()["stored"], answer.json()["declarationIDs"]) == (1, [])
    job = network.http.get(f"/capture/{answer.json()['captureID']}", headers=network.bob).json()
    assert [(e["rule"], e["pointer"]) for e in job["errors"]] == [
        ("errorDeclaration.not-yours", "/epcisBody/eventList/0/errorDeclaration")
    ]
    assert network.declarations() == before


def test_an_event_is_declared_with_its_stored_json_as_served(network: Network) -> None:
    """How an XML event stored before CBV master data was read as ``cbvmda:`` (keeping its old
    id) is declared (docs/gateway.md): its JSON as ``GET /events/{id}`` serves it, sent back with
    an ``errorDeclaration``, names the stored event."""
    document = _load(CORRECTIVE)
    bare = _without_declarations(document)
    bare["epcisBody"]["eventList"] = bare["epcisBody"]["eventList"][:1]
    bare["epcisBody"]["eventList"][0]["eventTime"] = "2020-01-15T10:00:00+01:00"  # a new event
    original = network.post(network.bob, bare)
    assert original.status_code == 202, original.text
    (event_id,) = original.json()["eventIDs"]
    served = network.http.get(f"/events/{event_id.split(';')[1][:64]}", headers=network.bob)
    event = served.json()
    event.pop("errorDeclaration", None)
    sent = {
        "@context": event["@context"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2020-01-16T00:00:00Z",
        "epcisBody": {
            "eventList": [
                {**event, "errorDeclaration": {"declarationTime": "2020-01-16T00:00:00Z"}}
            ]
        },
    }
    declared = network.post(network.bob, sent)
    assert declared.status_code == 202, declared.text
    assert declared.json()["eventIDs"] == [event_id]
    assert (declared.json()["stored"], declared.json()["declarationsStored"]) == (0, 1)
