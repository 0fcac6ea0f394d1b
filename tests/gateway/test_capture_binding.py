"""The capture interface as the EPCIS 2.0 REST binding defines it (GS1's ``openapi.json``, issue
16): 400 for a refused document (the gateway's other routes say 422), 415 for what is not JSON or
EPCIS XML, 406 for answers or versions it cannot give (on XML, versions that disagree with the
document's ``schemaVersion``), the ``GS1-*`` headers
on every answer, ``GS1-Capture-Error-Behaviour``, the CaptureJob fields of ``GET
/capture/{id}`` and the paged ``GET /capture``. One gateway (SQLite) serves the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis import xsd
from medledger.epcis.builders import as_document
from medledger.epcis.capture_job_xml import GATEWAY_NS
from medledger.epcis.xml_read import EPCIS_2
from provenance.journey import API_MAKER, PHARMACY, build_journey
from tests.medledger.epcis.epcis_vectors import VECTORS

BINDING = VECTORS / "epcis" / "rest-bindings" / "openapi.json"
LD_JSON = "application/ld+json"
PROBLEM = "application/problem+json"
EPCIS_PARTNER = "EPCIS partner"


@dataclass
class Capture:
    http: TestClient
    keys: dict[str, dict[str, str]]
    document: bytes

    def post(
        self,
        body: bytes | None = None,
        *,
        actor: str = API_MAKER.name,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = {"Content-Type": LD_JSON, **self.keys[actor], **(headers or {})}
        return self.http.post("/capture", content=self.document if body is None else body,
                              headers=sent)  # fmt: skip

    def get(
        self, path: str, *, actor: str = API_MAKER.name, headers: dict[str, str] | None = None
    ) -> Any:
        return self.http.get(path, headers={**self.keys[actor], **(headers or {})})


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    folder = tmp_path_factory.mktemp("binding-gateway")
    settings = GatewaySettings(
        data_dir=folder / "data", database_url=f"sqlite:///{folder}/gateway.db"
    ).allowing_development_password()  # the fast KDF: these tests are not about keystores
    service = GatewayService(settings)
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        keys = {}
        registrations = {a.name: a.registration() for a in (API_MAKER, PHARMACY)}
        registrations[EPCIS_PARTNER] = {
            "name": EPCIS_PARTNER, "roles": ["api-maker"], "gln": "4700000999996",
            "ruleSet": "epcis",
        }  # fmt: skip
        for name, registration in registrations.items():
            created = http.post("/participants", json=registration, headers=regulator)
            assert created.status_code == 201, created.text
            keys[name] = {"Authorization": f"Bearer {created.json()['apiKey']}"}
        document = json.dumps(as_document(build_journey(2, packs_per_case=2).steps[0].events))
        yield Capture(http, keys, document.encode())
    finally:
        service.stop()


def refused(response: Any, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["rule"] == rule, problem
    assert "capture_id" not in problem, "refused at the door: no capture job"
    return problem


def test_a_capture_answers_with_the_bindings_headers(capture: Capture) -> None:
    accepted = capture.post()
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Location"] == f"/capture/{accepted.json()['captureID']}"
    assert accepted.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert accepted.headers["GS1-CBV-Version"] == "2.0.0"
    assert accepted.headers["GS1-Capture-Error-Behaviour"] == "all"  # rollback and proceed
    assert int(accepted.headers["GS1-EPCIS-Capture-File-Size-Limit"]) > 0
    problem = capture.post(b"{}")  # a refusal carries them too
    assert problem.status_code == 400 and problem.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert "GS1-EPCIS-Version" not in capture.get("/healthz").headers  # /capture only


@pytest.mark.parametrize(
    ("content_type", "says"),
    [("text/plain", "application/ld+json"), ("application/yaml", "EPCIS 2.0 XML"),
     ("application/x-www-form-urlencoded", "application/json")],
)  # fmt: skip
def test_a_body_that_is_neither_json_nor_xml_is_415(
    capture: Capture, content_type: str, says: str
) -> None:
    problem = refused(
        capture.post(headers={"Content-Type": content_type}), 415, "capture.content-type"
    )
    assert says in problem["detail"]
    assert capture.post(headers={"Content-Type": "application/json"}).status_code == 202


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "application/json;q=0"])
def test_an_answer_it_cannot_give_is_406(capture: Capture, accept: str) -> None:
    refused(capture.post(headers={"Accept": accept}), 406, "capture.accept")
    if accept != "application/xml":  # a capture job has an XML form
        refused(capture.get("/capture", headers={"Accept": accept}), 406, "capture.accept")


@pytest.mark.parametrize(
    "accept", ["application/json", "application/ld+json", "*/*", "application/xml, */*;q=0.1"]
)
def test_an_answer_in_json_is_given_to_whoever_takes_it(capture: Capture, accept: str) -> None:
    assert capture.post(headers={"Accept": accept}).status_code == 202


@pytest.mark.parametrize(
    ("header", "value"),
    [("GS1-EPCIS-Version", "1.2.0"), ("GS1-EPCIS-Version", "1.2"), ("GS1-EPCIS-Version", "3.0"),
     ("GS1-EPCIS-Version", "two"), ("GS1-CBV-Version", "1.2.0")],
)  # fmt: skip
def test_a_version_other_than_2_is_406_and_stores_nothing(
    capture: Capture, header: str, value: str
) -> None:
    problem = refused(capture.post(headers={header: value}), 406, "capture.version")
    assert problem["pointer"] == header
    ok = capture.post(headers={"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"})
    assert ok.status_code == 202


LEGACY_XML = b"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"
  schemaVersion="1.2" creationDate="2020-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>
  <eventTime>2020-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList><action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep></ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""
XML_2_0 = LEGACY_XML.replace(b"xsd:1", b"xsd:2").replace(b'"1.2"', b'"2.0"')


def test_on_xml_the_version_headers_must_agree_with_the_documents_schema_version(
    capture: Capture,
) -> None:
    def post(body: bytes, headers: dict[str, str]) -> Any:
        sent = {"Content-Type": "application/xml", **headers}
        return capture.post(body, actor=EPCIS_PARTNER, headers=sent)

    for body, headers in [
        (XML_2_0, {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}),
        (LEGACY_XML, {"GS1-EPCIS-Version": "1.2.0", "GS1-CBV-Version": "1.2.0"}),
        (LEGACY_XML, {"GS1-EPCIS-Version": "1.2", "GS1-CBV-Version": "2.0.0"}),
    ]:
        assert post(body, headers).status_code == 202, (body[:60], headers)
    for body, header, value in [
        (XML_2_0, "GS1-EPCIS-Version", "1.2.0"),
        (LEGACY_XML, "GS1-EPCIS-Version", "2.0.0"),
        (XML_2_0, "GS1-EPCIS-Version", "2.1.0"),
        (XML_2_0, "GS1-CBV-Version", "1.2.0"),
        (LEGACY_XML, "GS1-EPCIS-Version", "3.0"),
        (LEGACY_XML, "GS1-EPCIS-Version", "1." + "2" * 5000),
    ]:
        problem = refused(post(body, {header: value}), 406, "capture.version")
        assert problem["pointer"] == header, (header, value)
    json_problem = refused(
        capture.post(headers={"GS1-EPCIS-Version": "1.2.0"}), 406, "capture.version"
    )
    assert "JSON-LD document is EPCIS 2.0" in json_problem["detail"]


def test_an_error_behaviour_other_than_rollback_or_proceed_is_refused(capture: Capture) -> None:
    assert capture.post(headers={"GS1-Capture-Error-Behaviour": "rollback"}).status_code == 202
    for value in ("all", "greedy"):
        problem = refused(
            capture.post(headers={"GS1-Capture-Error-Behaviour": value}),
            400,
            "capture.error-behaviour",
        )
        assert "proceed" in problem["detail"]


def test_a_refused_document_is_the_bindings_400_with_the_usual_problem(capture: Capture) -> None:
    rejected = capture.post(b'{"type": "EPCISDocument"}')
    assert rejected.status_code == 400 and rejected.headers["content-type"] == PROBLEM
    problem = rejected.json()
    assert problem["status"] == 400 and problem["rule"].startswith("schema.")
    assert problem["pointer"] is not None and problem["capture_id"]
    typo = capture.http.post(
        "/capture?dryRun=1",
        content=capture.document,
        headers={"Content-Type": LD_JSON, **capture.keys[API_MAKER.name]},
    )
    assert (typo.status_code, typo.json()["rule"]) == (400, "query.unknown")
    assert capture.get("/capture?perPage=0").status_code == 422, "other routes keep 422"
    documented = capture.http.get("/openapi.json").json()["paths"]["/capture"]["post"]
    assert {"400", "406", "415"} <= set(documented["responses"]) and "422" not in documented[
        "responses"
    ]
    if BINDING.exists():
        binding = json.loads(BINDING.read_text(encoding="utf-8"))["paths"]["/capture"]["post"]
        assert {"400", "406", "415"} <= set(binding["responses"])


PROCEED = {"GS1-Capture-Error-Behaviour": "proceed"}


def events_at(capture: Capture, *times: str) -> list[dict[str, Any]]:
    """The API maker's commissioning event, once per time (distinct events, distinct hashes)."""
    event = json.loads(capture.document)["epcisBody"]["eventList"][0]
    return [{**event, "eventTime": t} for t in times]


def document_of(capture: Capture, events: list[dict[str, Any]]) -> bytes:
    document = json.loads(capture.document)
    document["epcisBody"]["eventList"] = events
    return json.dumps(document).encode()


def test_proceed_stores_the_valid_events_and_lists_the_others_in_the_job(
    capture: Capture,
) -> None:
    good, bad_action, good_too, bad_class = events_at(
        capture, "2026-11-02T10:00:01Z", "2026-11-02T10:00:02Z", "2026-11-02T10:00:03Z",
        "2026-11-02T10:00:04Z",
    )  # fmt: skip
    bad_action["action"] = "JUMP"
    bad_class["quantityList"] = [{"epcClass": "urn:epc:class:lgtin:1.2.3", "quantity": 1}]
    body = document_of(capture, [good, bad_action, good_too, bad_class])
    all_or_nothing = capture.post(body, actor=EPCIS_PARTNER)
    assert all_or_nothing.status_code == 400, "rollback by default"
    answer = capture.post(body, actor=EPCIS_PARTNER, headers=PROCEED)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert (len(accepted["eventIDs"]), accepted["stored"]) == (2, 2)
    job = capture.get(f"/capture/{accepted['captureID']}", actor=EPCIS_PARTNER).json()
    assert (job["captureErrorBehaviour"], job["success"], job["running"]) == (
        "proceed",
        False,
        False,
    )
    assert job["status"] == "accepted" and job["eventIDs"] == accepted["eventIDs"]
    assert [(e["rule"], e["pointer"]) for e in job["errors"]] == [
        ("schema.enum", "/epcisBody/eventList/1/action"),
        ("gs1.identifier", "/epcisBody/eventList/3/quantityList/0/epcClass"),
    ]
    assert job["error"] is None


def test_proceed_drops_what_the_rule_set_refuses_and_keeps_the_rest(capture: Capture) -> None:
    elsewhere, own = events_at(capture, "2026-11-02T11:00:01Z", "2026-11-02T11:00:02Z")
    elsewhere["readPoint"] = {"id": "geo:47.506694,11.104301"}  # no GLN of the API maker's
    own["quantityList"] = [  # a lot of its own, not commissioned before
        {"epcClass": "urn:epc:class:lgtin:8901234.099999.APIL-PROCEED", "quantity": 5.0,
         "uom": "KGM"}
    ]  # fmt: skip
    answer = capture.post(document_of(capture, [elsewhere, own]), headers=PROCEED)
    assert answer.status_code == 202, answer.text
    assert answer.json()["stored"] == 1
    job = capture.get(f"/capture/{answer.json()['captureID']}").json()
    assert [(e["rule"], e["pointer"]) for e in job["errors"]] == [
        ("location.not-own", "/epcisBody/eventList/0/readPoint/id")
    ]


def test_proceed_with_no_event_to_keep_is_a_rejection(capture: Capture) -> None:
    (bad,) = events_at(capture, "2026-11-02T12:00:01Z")
    bad["action"] = "JUMP"
    rejected = capture.post(document_of(capture, [bad]), headers=PROCEED)
    assert rejected.status_code == 400 and rejected.json()["rule"] == "schema.enum"
    job = capture.get(f"/capture/{rejected.json()['capture_id']}").json()
    assert (job["status"], job["success"], job["captureErrorBehaviour"]) == (
        "rejected",
        False,
        "proceed",
    )
    assert job["errors"][0]["pointer"] == "/epcisBody/eventList/0/action"
    document = json.loads(document_of(capture, events_at(capture, "2026-11-02T12:00:02Z")))
    del document["@context"]  # the document itself is still all or nothing
    whole = capture.post(json.dumps(document).encode(), headers=PROCEED)
    assert whole.status_code == 400 and whole.json()["pointer"] == "/"


def test_a_capture_job_has_the_bindings_fields_and_the_gateways(capture: Capture) -> None:
    accepted = capture.post().json()
    job = capture.get(f"/capture/{accepted['captureID']}")
    assert job.status_code == 200 and job.headers["GS1-EPCIS-Version"] == "2.0.0"
    body = job.json()
    assert (body["running"], body["success"], body["errors"]) == (False, True, [])
    assert body["captureErrorBehaviour"] == "rollback"
    assert body["createdAt"] == body["finishedAt"] == body["receivedAt"]
    assert body["status"] == "accepted" and body["eventIDs"] == accepted["eventIDs"]

    rejected = capture.post(b'{"type": "EPCISDocument"}')
    assert rejected.status_code == 400
    failed = capture.get(f"/capture/{rejected.json()['capture_id']}").json()
    assert (failed["running"], failed["success"], failed["status"]) == (False, False, "rejected")
    assert failed["errors"][0]["rule"] == rejected.json()["rule"]
    assert failed["errors"][0]["status"] == 400 and failed["errors"][0]["detail"]


def test_the_job_answers_what_the_bindings_capturejob_schema_names(capture: Capture) -> None:
    if not BINDING.exists():
        pytest.skip(f"the REST binding is not at {BINDING}")
    schema = json.loads(BINDING.read_text(encoding="utf-8"))["components"]["schemas"]
    named = set()
    for part in schema["CaptureJob"]["allOf"]:
        named |= set(part.get("properties", {}))
        for choice in part.get("oneOf", []):
            named |= set(choice["properties"]) - {"errorFile"}  # errors, not a file
    accepted = capture.post().json()
    assert named <= set(capture.get(f"/capture/{accepted['captureID']}").json())


def test_the_callers_capture_jobs_are_listed_in_pages_linked_by_a_next_token(
    capture: Capture,
) -> None:
    mine = [capture.post(actor=PHARMACY.name, body=b"{}").json()["capture_id"] for _ in range(5)]
    seen: list[str] = []
    path: str | None = "/capture?perPage=2"
    pages = 0
    while path is not None:
        page = capture.get(path, actor=PHARMACY.name)
        assert page.status_code == 200, page.text
        assert page.headers["GS1-EPCIS-Version"] == "2.0.0"
        seen.extend(job["captureID"] for job in page.json())
        link = page.headers.get("Link")
        path = None if link is None else link.split(">")[0].lstrip("<")
        assert link is None or link.endswith('rel="next"')
        pages += 1
    assert seen == mine and pages == 3
    others = capture.get("/capture?perPage=500").json()
    assert not set(mine) & {job["captureID"] for job in others}, "only the caller's own jobs"


def _xml(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/xml"
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    return etree.fromstring(answer.content, etree.XMLParser(resolve_entities=False))


def test_a_capture_job_answers_in_gs1s_xml_when_asked(capture: Capture) -> None:
    accepted = capture.post().json()
    path = f"/capture/{accepted['captureID']}"
    for accept in ("application/xml", "text/xml", "application/json;q=0.5, application/xml"):
        job = _xml(capture.get(path, headers={"Accept": accept}))
        xsd.validate(job, "2.0")
        assert job.tag == f"{{{EPCIS_2}}}EPCISCaptureJob"
        assert (job.get("captureID"), job.get("running"), job.get("success")) == (
            accepted["captureID"], "false", "true",
        )  # fmt: skip
        assert job.findtext("captureErrorBehaviour") == "rollback"
        ids = [e.text for e in job.iterfind(f"{{{GATEWAY_NS}}}eventIDs/{{{GATEWAY_NS}}}eventID")]
        assert ids == accepted["eventIDs"]
    assert capture.get(path, headers={"Accept": "application/xml, application/json"}).json()

    rejected = capture.post(b'{"type": "EPCISDocument"}').json()
    failed = _xml(capture.get(f"/capture/{rejected['capture_id']}", headers={"Accept": "text/xml"}))
    xsd.validate(failed, "2.0")
    assert failed.get("success") == "false"
    assert failed.findtext(f"errors/error/{{{GATEWAY_NS}}}rule") == rejected["rule"]
    refused(capture.get(path, headers={"Accept": "text/html"}), 406, "capture.accept")


def test_the_callers_capture_jobs_are_listed_in_xml_paged_as_in_json(capture: Capture) -> None:
    for _ in range(3):
        capture.post(actor=PHARMACY.name, body=b"{}")
    json_page = capture.get("/capture?perPage=2", actor=PHARMACY.name)
    xml_page = capture.get(
        "/capture?perPage=2", actor=PHARMACY.name, headers={"Accept": "application/xml"}
    )
    jobs = _xml(xml_page)
    assert jobs.tag == f"{{{GATEWAY_NS}}}captureJobs"
    for job in jobs:
        xsd.validate(job, "2.0")
    listed = [job.get("captureID") for job in jobs]
    assert listed == [job["captureID"] for job in json_page.json()]
    assert len(listed) == 2
    assert xml_page.headers["Link"] == json_page.headers["Link"]


@pytest.mark.parametrize(
    "query", ["perPage=0", "perPage=501", "nextPageToken=bm9wZQ", "nextPageToken=%F0%9F%92%A9"]
)
def test_a_page_it_cannot_make_is_422(capture: Capture, query: str) -> None:
    answer = capture.get(f"/capture?{query}")
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_capture_endpoint_says_what_it_supports(capture: Capture) -> None:
    discovery = capture.http.options("/capture", headers=capture.keys[API_MAKER.name])
    assert discovery.status_code == 204, discovery.text
    assert discovery.headers["Allow"] == "OPTIONS, POST, GET"
    assert discovery.headers["GS1-EPCIS-Max"] == "2.0.0"
    assert discovery.headers["GS1-Capture-Error-Behaviour"] == "all"
    assert capture.http.options("/capture").status_code == 401
