"""Reader keys over HTTP (issue 15, points 2 and 3): the regulator lists, issues (regulator,
auditor, inspector with a region), rotates with a grace period and revokes reader keys and reads
their audit; any other key is refused; an inspector key authenticates but reads only the routes
scoped to a region; a participant key names its participant and reads the EPCIS routes only."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from fastapi.testclient import TestClient

from indexer.api.app import create_app
from indexer.service import IndexerService
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests start indexers of their own, and index nothing."""
    return module_network


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def regulator(service: IndexerService) -> dict[str, str]:
    path = service.bootstrap_key_file
    assert path is not None
    return bearer(path.read_text().strip())


def issue(http: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = http.post("/keys", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    issued: dict[str, Any] = answer.json()
    return issued


def test_the_regulator_issues_rotates_and_revokes_reader_keys(
    make_indexer: IndexerFactory,
) -> None:
    service = make_indexer()
    http = TestClient(create_app(service, follow=False))
    admin = regulator(service)
    auditor = issue(http, admin, label="ministry audit", role="auditor")
    token = auditor["apiKey"]
    assert token.startswith(f"ik_{auditor['prefix']}_")
    assert (auditor["role"], auditor["region"], auditor["name"], auditor["status"]) == (
        "auditor",
        None,
        "ministry audit",
        "live",
    )
    assert http.get("/anchors", headers=bearer(token)).status_code == 200
    listed = http.get("/keys", headers=admin).json()
    assert [k["label"] for k in listed] == ["bootstrap", "ministry audit"]
    assert all("apiKey" not in k and token not in str(k) for k in listed)

    rotated = http.post(f"/keys/{auditor['id']}/rotate", json={"graceSeconds": 2}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert (new["label"], new["role"], new["name"]) == (
        "ministry audit",
        "auditor",
        "ministry audit",
    )
    assert new["previous"]["id"] == auditor["id"] and new["previous"]["expiresAt"] is not None
    for key in (token, new["apiKey"]):  # both work during the grace period
        assert http.get("/anchors", headers=bearer(key)).status_code == 200
    time.sleep(2.2)
    old = http.get("/anchors", headers=bearer(token))
    assert old.status_code == 401 and old.headers["content-type"] == PROBLEM
    assert http.get("/anchors", headers=bearer(new["apiKey"])).status_code == 200

    revoked = http.delete(f"/keys/{new['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert http.get("/anchors", headers=bearer(new["apiKey"])).status_code == 401

    audit = http.get("/keys/audit", params={"name": "ministry audit"}, headers=admin).json()
    actor = f"key {listed[0]['id']} (bootstrap regulator, regulator)"
    assert [(e["action"], e["keyId"], e["actor"]) for e in audit] == [
        ("issue", auditor["id"], actor),
        ("issue", new["id"], actor),
        ("rotate", auditor["id"], actor),
        ("revoke", new["id"], actor),
    ]


def test_only_a_regulator_key_manages_keys_and_unknown_keys_are_404(
    make_indexer: IndexerFactory,
) -> None:
    service = make_indexer()
    http = TestClient(create_app(service, follow=False))
    admin = regulator(service)
    auditor = bearer(issue(http, admin, label="a", role="auditor")["apiKey"])
    for method, path in (
        ("GET", "/keys"),
        ("POST", "/keys"),
        ("POST", "/keys/1/rotate"),
        ("DELETE", "/keys/1"),
        ("GET", "/keys/audit"),
    ):
        answer = http.request(method, path, json={"role": "auditor"}, headers=auditor)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    assert http.get("/keys").status_code == 401
    for method, path in (("POST", "/keys/9999/rotate"), ("DELETE", "/keys/9999")):
        assert http.request(method, path, json={}, headers=admin).status_code == 404
    huge = 2**63  # one past the largest row id: 422, not an overflow in the driver (found by fuzz)
    for method, path in (("POST", f"/keys/{huge}/rotate"), ("DELETE", "/keys/0")):
        assert http.request(method, path, json={}, headers=admin).status_code == 422


def test_an_inspector_key_needs_a_region_and_reads_only_what_is_scoped_to_it(
    make_indexer: IndexerFactory,
) -> None:
    service = make_indexer()
    http = TestClient(create_app(service, follow=False))
    admin = regulator(service)
    for body, rule in (
        ({"role": "inspector"}, "apikey.region"),
        ({"role": "inspector", "region": "KG-XX"}, "participant.region"),
        ({"role": "auditor", "region": "KG"}, "apikey.region"),
    ):
        answer = http.post("/keys", json=body, headers=admin)
        assert answer.status_code == 422 and answer.json()["rule"] == rule, answer.text
    bad = http.post("/keys", json={"role": "manufacturer"}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert len(http.get("/keys", headers=admin).json()) == 1  # nothing issued
    inspector = issue(http, admin, label="Chui", role="inspector", region="kg-c")
    assert inspector["region"] == "KG-C"
    refused = http.get("/anchors", headers=bearer(inspector["apiKey"]))
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM


def test_a_participant_key_names_its_participant_and_keeps_it_when_rotated(
    make_indexer: IndexerFactory,
) -> None:
    service = make_indexer()
    http = TestClient(create_app(service, follow=False))
    admin = regulator(service)
    pharmacy = "0x" + "ab" * 20
    for body, rule in (
        ({"role": "participant"}, "apikey.participant"),
        ({"role": "participant", "participant": "0x1234"}, "query.address"),
        ({"role": "participant", "participant": pharmacy, "region": "KG-C"}, "apikey.region"),
        ({"role": "auditor", "participant": pharmacy}, "apikey.participant"),
        ({"role": "inspector", "region": "KG-C", "participant": pharmacy}, "apikey.participant"),
    ):
        answer = http.post("/keys", json=body, headers=admin)
        assert answer.status_code == 422 and answer.json()["rule"] == rule, answer.text
        assert answer.json()["pointer"] in ("/participant", "/region"), answer.text
    assert len(http.get("/keys", headers=admin).json()) == 1  # nothing issued
    key = issue(http, admin, label="ERP", role="participant", participant=pharmacy)
    assert (key["role"], key["participant"], key["region"]) == (
        "participant",
        to_checksum_address(pharmacy),  # as the index stores addresses
        None,
    )
    events = http.get("/events", headers=bearer(key["apiKey"]))
    assert events.status_code == 200, events.text
    refused = http.get("/anchors", headers=bearer(key["apiKey"]))
    assert refused.status_code == 403 and "participant" in refused.json()["detail"]
    rotated = http.post(f"/keys/{key['id']}/rotate", json={"graceSeconds": 0}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["participant"] == key["participant"]
    assert [k["participant"] for k in http.get("/keys", headers=admin).json()] == [
        None,
        key["participant"],
        key["participant"],
    ]


def test_a_pharmacovigilance_key_reads_what_a_regulator_reads_but_manages_no_keys(
    make_indexer: IndexerFactory,
) -> None:
    service = make_indexer()
    http = TestClient(create_app(service, follow=False))
    admin = regulator(service)
    refused = http.post("/keys", json={"role": "pharmacovigilance", "region": "KG"}, headers=admin)
    assert refused.status_code == 422 and refused.json()["rule"] == "apikey.region"
    officer = issue(http, admin, label="PV centre", role="pharmacovigilance")
    assert (officer["role"], officer["region"], officer["participant"]) == (
        "pharmacovigilance",
        None,
        None,
    )
    assert http.get("/anchors", headers=bearer(officer["apiKey"])).status_code == 200
    assert http.get("/alerts", headers=bearer(officer["apiKey"])).status_code == 200
    assert http.get("/keys", headers=bearer(officer["apiKey"])).status_code == 403
