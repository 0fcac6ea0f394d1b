"""EPCIS 2.0 and 1.2 XML over ``POST /capture`` (issue 16 steps 3 and 4): ``application/xml``
bodies are validated against GS1's XSD of their version, 1.2 converted to 2.0 by GS1's
stylesheet, read into the JSON-LD a JSON client would send (:mod:`medledger.epcis.xml_capture`)
and captured under the same schema and rules; the reference event hashes come back, the events
are anchored and every receipt verifies.

One gateway (SQLite, in-process chain) and one participant on the ``epcis`` rule set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chain.verification import verify_receipt
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis.event_id import EventId
from medledger.formats.receipt import Receipt
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files
from tests.medledger.epcis.test_xml_capture import LEGACY_REFUSED, XSD_REFUSED
from tests.medledger.epcis.test_xml_read import KNOWN_DIFFERENCES, SCHEMA_REFUSED

XML_HASH_VECTORS = vector_files("event-hash", "*.xml")
EXAMPLES = [
    p
    for p in vector_files("epcis/xml/examples-2.0", "*.xml")
    if not p.stem.startswith(("CaptureJob__", "CBV__CBV-11.4", "Mimasu__Example-masterData"))
    and "masterdata" not in p.stem
]
#: Example documents the schema takes that a rule of the ``epcis`` rule set refuses.
REFUSED_BY_RULE = {
    # epcList names "urn:example:epcis:id:obj:...": not a GS1 key, which the rule set requires
    "CBV__CBV-11.2-2020-06-16a": ("gs1.identifier", "/epcisBody/eventList/0/epcList/0"),
}
VALID = [
    p
    for p in (*XML_HASH_VECTORS, *EXAMPLES)
    if p.stem not in SCHEMA_REFUSED and p.stem not in REFUSED_BY_RULE and p.stem not in XSD_REFUSED
]
REFUSED = [p for p in EXAMPLES if p.stem in REFUSED_BY_RULE]
#: GS1's EPCIS 1.2 examples (one per event type), and those GS1's stylesheet makes valid 2.0 of.
LEGACY_EXAMPLES = vector_files("epcis/xml/examples-1.2", "*.xml")
LEGACY_VALID = [p for p in LEGACY_EXAMPLES if p.stem not in LEGACY_REFUSED]


@dataclass
class Partner:
    service: GatewayService
    http: TestClient
    headers: dict[str, str]

    def post(self, body: bytes, content_type: str = "application/xml") -> Any:
        return self.http.post(
            "/capture", content=body, headers={**self.headers, "Content-Type": content_type}
        )


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    folder = tmp_path_factory.mktemp("xml-gateway")
    settings = GatewaySettings(
        data_dir=folder / "data", database_url=f"sqlite:///{folder}/gateway.db"
    ).allowing_development_password()  # the fast KDF: these tests are not about keystores
    service = GatewayService(settings)
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        body = {"name": "XML partner", "roles": ["api-maker"], "gln": "4700000999996"}
        created = http.post("/participants", json={**body, "ruleSet": "epcis"}, headers=regulator)
        assert created.status_code == 201, created.text
        yield Partner(service, http, {"Authorization": f"Bearer {created.json()['apiKey']}"})
    finally:
        service.stop()


def _expected(path: Path) -> list[str] | None:
    hashes = path.with_suffix(".hashes")
    if not hashes.exists() or path.stem in KNOWN_DIFFERENCES:
        return None
    return [line for line in hashes.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.skipif(not VALID, reason=SKIP_REASON)
@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_an_xml_document_is_captured_with_the_reference_hashes(
    partner: Partner, path: Path
) -> None:
    response = partner.post(path.read_bytes())
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["eventIDs"]
    expected = _expected(path)
    if expected is not None:
        assert accepted["eventIDs"] == expected


@pytest.mark.skipif(not VALID, reason=SKIP_REASON)
def test_captured_xml_events_are_anchored_and_their_receipts_verify(partner: Partner) -> None:
    event_ids: dict[str, str] = {}
    for path in VALID:
        response = partner.post(path.read_bytes(), "text/xml; charset=utf-8")
        assert response.status_code == 202, (path.stem, response.text)
        event_ids.update((e, path.stem) for e in response.json()["eventIDs"])
    partner.service.batcher.step(flush=True)
    for event_id, source in event_ids.items():
        got = partner.http.get(
            f"/events/{EventId.parse_uri(event_id).hex}/receipt", headers=partner.headers
        )
        assert got.status_code == 200, (source, got.text)
        verdict = verify_receipt(Receipt.from_json(got.json()), chain=partner.service.chain)
        assert verdict.valid, (source, verdict.failures)


@pytest.mark.skipif(not REFUSED, reason=SKIP_REASON)
@pytest.mark.parametrize("path", REFUSED, ids=[p.stem for p in REFUSED])
def test_an_xml_document_a_rule_refuses_is_refused_whole(partner: Partner, path: Path) -> None:
    response = partner.post(path.read_bytes())
    assert response.status_code == 400, response.text
    problem = response.json()
    assert (problem["rule"], problem["pointer"]) == REFUSED_BY_RULE[path.stem]
    job = partner.http.get(f"/capture/{problem['capture_id']}", headers=partner.headers)
    assert job.json()["status"] == "rejected" and job.json()["eventIDs"] == []


LEGACY = b"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"
  schemaVersion="1.2" creationDate="2020-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>
  <eventTime>2020-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList><action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep></ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""


@pytest.mark.skipif(not LEGACY_VALID, reason=SKIP_REASON)
def test_epcis_1_2_xml_is_captured_anchored_and_its_receipts_verify(partner: Partner) -> None:
    event_ids: dict[str, str] = {}
    for path in LEGACY_VALID:
        response = partner.post(path.read_bytes())
        assert response.status_code == 202, (path.stem, response.text)
        assert response.json()["eventIDs"], path.stem
        event_ids.update((e, path.stem) for e in response.json()["eventIDs"])
    partner.service.batcher.step(flush=True)
    for event_id, source in event_ids.items():
        got = partner.http.get(
            f"/events/{EventId.parse_uri(event_id).hex}/receipt", headers=partner.headers
        )
        assert got.status_code == 200, (source, got.text)
        verdict = verify_receipt(Receipt.from_json(got.json()), chain=partner.service.chain)
        assert verdict.valid, (source, verdict.failures)


def test_a_1_2_event_gets_the_event_id_of_its_2_0_twin(partner: Partner) -> None:
    legacy = partner.post(LEGACY)
    assert legacy.status_code == 202, legacy.text
    twin = LEGACY.replace(b"xsd:1", b"xsd:2").replace(
        b'schemaVersion="1.2"', b'schemaVersion="2.0"'
    )
    again = partner.post(twin)
    assert again.status_code == 202, again.text
    assert again.json()["eventIDs"] == legacy.json()["eventIDs"]
    assert again.json()["duplicates"] == 1


@pytest.mark.skipif(not LEGACY_EXAMPLES, reason=SKIP_REASON)
@pytest.mark.parametrize(
    "path",
    [p for p in LEGACY_EXAMPLES if p.stem in LEGACY_REFUSED],
    ids=lambda p: p.stem,
)
def test_1_2_examples_gs1s_stylesheet_cannot_make_valid_2_0_are_refused(
    partner: Partner, path: Path
) -> None:
    response = partner.post(path.read_bytes())
    assert response.status_code == 400, response.text
    problem = response.json()
    assert (problem["rule"], problem["pointer"]) == ("xml.schema", LEGACY_REFUSED[path.stem])


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (
            LEGACY.replace(b"<action>OBSERVE</action>", b""),
            "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent/bizStep",
        ),
        (
            LEGACY.replace(b"xsd:1", b"xsd:2")
            .replace(b'"1.2"', b'"2.0"')
            .replace(b"OBSERVE", b"LOOK"),
            "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent/action",
        ),
    ],
    ids=["1.2", "2.0"],
)
def test_xml_outside_gs1s_xsd_is_refused_with_its_place(
    partner: Partner, body: bytes, pointer: str
) -> None:
    response = partner.post(body)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert (problem["rule"], problem["pointer"]) == ("xml.schema", pointer)
    assert "line " in problem["detail"]


@pytest.mark.skipif(not XML_HASH_VECTORS, reason=SKIP_REASON)
@pytest.mark.parametrize(
    "path", [p for p in XML_HASH_VECTORS if p.stem in XSD_REFUSED], ids=lambda p: p.stem
)
def test_reference_vectors_outside_gs1s_xsd_are_refused(partner: Partner, path: Path) -> None:
    response = partner.post(path.read_bytes())
    assert response.status_code == 400, response.text
    assert response.json()["rule"] == "xml.schema"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"<not-closed", "xml.syntax"),
        (b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', "xml.dtd"),
        (b"<html/>", "xml.document"),
    ],
)
def test_xml_it_cannot_read_is_refused_and_stores_nothing(
    partner: Partner, body: bytes, rule: str
) -> None:
    response = partner.post(body)
    assert response.status_code == 400, response.text
    assert response.json()["rule"] == rule
