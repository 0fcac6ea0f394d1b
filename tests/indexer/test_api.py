"""The query API over HTTP against the indexed journey (both databases): every endpoint, keys,
pagination, and problem+json for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient

from indexer.api.app import create_app
from indexer.service import IndexerService
from medledger.epcis.schema import load_schema
from provenance.journey import API_MAKER, FINISHED_LOT, PHARMACY, Journey
from tests.support.network import Network, start_network

FINISHED_GTIN = "04700123123452"
FIRST_CASE = "urn:epc:id:sscc:4700123.0000000001"
PROBLEM = "application/problem+json"


@dataclass
class Api:
    network: Network
    journey: Journey
    indexed: IndexerService
    http: TestClient
    auth: dict[str, str]

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params, headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()

    def problem(self, path: str, status: int, params: dict[str, Any]) -> dict[str, Any]:
        response = self.http.get(path, params=params, headers=self.auth)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        body: dict[str, Any] = response.json()
        assert body["status"] == status and body["type"].startswith("https://")
        return body


@pytest.fixture(scope="module")
def api(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The ``indexed`` journey behind the API (with the bootstrap regulator key), per module."""
    tmp = tmp_path_factory.mktemp("api")
    network = start_network(tmp / "gateway")
    try:
        journey = network.run_journey()
        yield from _serve(network, journey, module_index_url, tmp)
    finally:
        network.gateway.stop()


def _serve(network: Network, journey: Journey, url: str, tmp: Path) -> Iterator[Api]:
    service = network.indexer(url, tmp / "indexer")
    try:
        service.catch_up()
        assert service.bootstrap_key_file is not None
        token = service.bootstrap_key_file.read_text().strip()
        with TestClient(create_app(service, follow=False)) as http:
            yield Api(network, journey, service, http, {"Authorization": f"Bearer {token}"})
    finally:
        service.stop()


def walk(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        body = api.get(path, **params, **({"cursor": cursor} if cursor else {}))
        items.extend(body["items"])
        cursor = body["next"]
        if cursor is None:
            return items
    raise AssertionError("the pages never end")


def test_healthz_needs_no_key(api: Api) -> None:
    response = api.http.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["lag"] == 0 and body["checkpoint"] > 0


@pytest.mark.parametrize(
    "path",
    [
        "/trace/" + quote(FIRST_CASE),
        "/epcs/" + FIRST_CASE,
        "/stock",
        "/recalls",
        "/alerts",
        "/participants",
        "/anchors",
        f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope",
    ],
)
def test_every_endpoint_needs_a_reader_key(api: Api, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer ik_000000000000_nope"}, {"Authorization": "x"}):
        response = api.http.get(path, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.headers["www-authenticate"] == "Bearer"


def test_auditor_keys_read_revoked_keys_do_not_inspectors_are_forbidden(api: Api) -> None:
    """Other roles cannot be stored (the table's role check); an inspector reads only its
    region's stock, alerts and recalls (tests/indexer/test_reader_scopes.py)."""
    keys = api.indexed.api_keys
    with api.indexed.sessions() as session:
        auditor = keys.issue(session, "auditor", "auditor")
        revoked = keys.issue(session, "leaver", "auditor")
        keys.revoke(session, revoked.split("_")[1])
        inspector = keys.issue(session, "Bishkek inspector", "inspector", region="KG-GB")
    assert api.http.get("/anchors", headers={"Authorization": f"Bearer {auditor}"}).is_success
    gone = api.http.get("/anchors", headers={"Authorization": f"Bearer {revoked}"})
    assert gone.status_code == 401
    forbidden = api.http.get("/anchors", headers={"Authorization": f"Bearer {inspector}"})
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith(PROBLEM)


def test_trace_of_the_dispensed_pack_from_api_lot_to_dispensing(api: Api) -> None:
    body = api.get("/trace/" + api.journey.dispensed_pack)
    assert body["kind"] == "pack"
    [batch] = body["batches"]
    assert batch["lot"] == FINISHED_LOT
    [transformation] = batch["transformations"]
    [consumed] = transformation["inputs"]
    assert (consumed["quantity"], consumed["uom"]) == ("12.5", "KGM")
    maker = body["participants"][consumed["maker"]]
    assert maker["gln"] == API_MAKER.gln and maker["roles"] == ["api-maker"]
    steps = [transformation, consumed["origin"], *(v["event"] for v in body["history"])]
    anchors = {a["root"]: a for a in api.get("/anchors", limit=1000)["items"]}
    for step in steps:
        assert step["eventID"].startswith("ni:///sha-256;")
        anchored = anchors[step["anchor"]["root"]]
        assert anchored["txHash"] == step["anchor"]["txHash"]
        assert anchored["blockNumber"] == step["anchor"]["blockNumber"]
    assert body["history"][-1]["event"]["bizStep"] == "dispensing"
    assert body["current"]["status"] == "dispensed"
    # a Digital Link URI, percent-encoded, is the same pack
    dl = body["identifier"]
    assert api.get("/trace/" + quote(dl, safe=""))["identifier"] == dl


def test_trace_of_a_case_and_of_a_lot(api: Api) -> None:
    case = api.get("/trace/" + FIRST_CASE)
    assert case["kind"] == "logistic-unit" and len(case["contents"]) == 25
    lot = api.get(f"/trace/https://id.gs1.org/01/{FINISHED_GTIN}/10/{FINISHED_LOT}")
    assert lot["kind"] == "lot" and sum(s["count"] for s in lot["summary"]) == 100


def test_epc_state_and_events(api: Api) -> None:
    pack = api.journey.packs[1]
    state = api.get("/epcs/" + pack)
    assert state["status"] == "active" and state["recalled"] is False
    assert state["participants"][state["holder"]]["gln"] == PHARMACY.gln
    assert state["lastEvent"]["anchor"]["blockNumber"] > 0
    whole = api.http.get(f"/epcs/{pack}/events", headers=api.auth)
    document = whole.json()
    load_schema().validate(document)  # GS1's schema: nothing but an EPCISQueryDocument
    assert document["type"] == "EPCISQueryDocument" and "link" not in whole.headers
    assert "/events/{eventID}/receipt" in whole.headers["link-template"]
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["bizStep"] for e in events][:2] == ["commissioning", "packing"]
    assert len(events) == 8
    first = api.http.get(f"/epcs/{pack}/events", params={"limit": 5}, headers=api.auth)
    link = first.headers["link"]
    assert link.endswith('rel="next"')
    rest = api.http.get(link[1 : link.index(">")], headers=api.auth).json()
    paged = first.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    paged += rest["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in paged] == [e["eventID"] for e in events]


def test_stock(api: Api) -> None:
    body = api.get("/stock", participant=PHARMACY.gln, gtin=FINISHED_GTIN)
    assert [(i["status"], i["count"]) for i in body["items"]] == [("active", 24)]
    by_location = api.get("/stock", location=PHARMACY.sgln)
    assert sum(i["count"] for i in by_location["items"]) == 25  # 24 packs and their case
    assert by_location["holdings"] == []
    assert api.get("/stock")["holdings"][0]["quantity"] == "37.5"


def test_recall_scope_lists_all_hundred_packs_with_holders(api: Api) -> None:
    body = api.get(f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope", limit=10_000)
    assert len(body["items"]) == 100 == body["total"] and body["next"] is None
    assert all(i["holder"] for i in body["items"])
    assert body["recall"] is None  # never registered in the recall registry here
    paged = walk(api, f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope", limit=30)
    first = api.http.get(
        f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope", params={"limit": 30}, headers=api.auth
    )
    assert first.headers["content-type"] == "application/json"
    query = urlencode({"limit": 30, "cursor": first.json()["next"]})  # the filters kept
    link = first.headers["link"]
    assert link == f'</recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope?{query}>; rel="next"'
    following = api.http.get(link[1 : link.index(">")], headers=api.auth).json()
    assert [i["identifier"] for i in following["items"]] == [
        i["identifier"] for i in body["items"][30:60]
    ]
    assert [i["identifier"] for i in paged] == [i["identifier"] for i in body["items"]]
    assert api.get("/recalls") == {"items": [], "next": None}


def test_lists_walk_completely_without_duplicates(api: Api) -> None:
    anchors = walk(api, "/anchors", limit=3)
    assert len(anchors) == len(api.journey.steps) == len({a["root"] for a in anchors})
    participants = walk(api, "/participants", limit=2)
    assert len(participants) == 6 == len({p["address"] for p in participants})
    submitter = api.network.addresses[PHARMACY.name]
    assert len(api.get("/anchors", submitter=submitter.lower())["items"]) == 2
    assert api.get("/alerts", severity="critical") == {
        "participants": {},
        "locations": {},
        "items": [],
        "next": None,
    }


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/trace/not-an-identifier", {}, 422),
        ("/trace/urn:epc:id:sgln:4700123.10000.0", {}, 422),
        ("/trace/urn:epc:id:sgtin:4700123.012345.NEVER", {}, 404),
        ("/epcs/urn:epc:id:sgtin:4700123.012345", {}, 422),
        ("/epcs/urn:epc:id:sgtin:4700123.012345.NEVER", {}, 404),
        ("/epcs/urn:epc:id:sgtin:4700123.012345.NEVER/events", {}, 404),
        ("/epcs/" + FIRST_CASE + "/events", {"limit": 0}, 422),
        ("/epcs/" + FIRST_CASE + "/events", {"cursor": "!!"}, 422),
        ("/anchors", {"limit": 1001}, 422),
        ("/anchors", {"limit": "many"}, 422),
        ("/anchors", {"cursor": "WyJzY29wZSIsWyJ4Il1d"}, 422),  # a scope cursor
        ("/anchors", {"submitter": "0x12"}, 422),
        ("/anchors", {"status": "lost"}, 422),
        ("/alerts", {"severity": "dire"}, 422),
        ("/alerts", {"subject": "nonsense"}, 422),
        ("/participants", {"gln": "12"}, 422),
        ("/stock", {"gtin": "04700123123453"}, 422),  # wrong check digit
        ("/stock", {"participant": "someone"}, 422),
        ("/stock", {"participant": "1234567890128"}, 404),
        ("/stock", {"participant": "1234567890127"}, 422),  # a GLN with a wrong check digit
        ("/stock", {"location": "nowhere"}, 422),
        (f"/recalls/{FINISHED_GTIN}/NO-LOT/scope", {}, 404),
        (f"/recalls/123/{FINISHED_LOT}/scope", {}, 422),
        (f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope", {"limit": 10_001}, 422),
        ("/no-such-endpoint", {}, 404),
    ],
)
def test_bad_input_gives_problem_json(
    api: Api, path: str, params: dict[str, Any], status: int
) -> None:
    api.problem(path, status, params)


def test_openapi_documents_every_endpoint(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    paths = set(spec["paths"])
    for path in (
        "/trace/{id}",
        "/epcs/{epc}",
        "/epcs/{epc}/events",
        "/stock",
        "/recalls",
        "/recalls/{gtin}/{lot}/scope",
        "/alerts",
        "/participants",
        "/anchors",
        "/healthz",
        "/",
    ):
        assert path in paths
    assert "Trace" in spec["components"]["schemas"]
