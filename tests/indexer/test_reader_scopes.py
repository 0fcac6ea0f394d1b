"""Reader roles over HTTP (both databases): a regulator's and an auditor's key read every route;
an inspector's key reads only /stock, /alerts, /recalls and /suspensions, each scoped to the
participants whose region (from the gateway's participant list) lies in the key's, and the EPCIS
event routes (tests/indexer/test_epcis_visibility.py), and gets 403 everywhere else.

The journey's participants are placed: the pharmacy in Bishkek (KG-GB), the distributor and the
manufacturer in Chuy (KG-C), the API maker in Maharashtra (IN-MH), the importer nowhere."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from gateway.store.participants import get_participant
from indexer.api.app import create_app
from indexer.profiles import GatewayProfileSource
from indexer.service import IndexerService
from indexer.store.models import AlertRow
from provenance.journey import (
    API_MAKER,
    DISTRIBUTOR,
    FINISHED_LOT,
    IMPORTER,
    MANUFACTURER,
    PHARMACY,
    Journey,
)
from tests.support.network import Network, start_network

FINISHED_GTIN = "04700123123452"
UNSHIPPED_LOT = "NEVER-SHIPPED"
PROBLEM = "application/problem+json"
REGIONS = {
    PHARMACY.name: "KG-GB",
    DISTRIBUTOR.name: "KG-C",
    MANUFACTURER.name: "KG-C",
    API_MAKER.name: "IN-MH",
}


@dataclass
class Readers:
    network: Network
    journey: Journey
    indexed: IndexerService
    http: TestClient

    def address(self, name: str) -> str:
        return self.network.addresses[name]

    def key(self, role: str, region: str | None = None) -> dict[str, str]:
        with self.indexed.sessions() as session:
            token = self.indexed.api_keys.issue(session, f"{role} {region}", role, region=region)
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, key: dict[str, str], **params: Any) -> Any:
        response = self.http.get(path, params=params, headers=key)
        assert response.status_code == 200, (path, response.text)
        return response.json()


def _register_lots(network: Network) -> None:
    """The finished lot and one nobody holds, registered on-chain by their manufacturer."""
    gateway = network.gateway
    maker = network.addresses[MANUFACTURER.name]
    with gateway.sessions() as session:
        record = get_participant(session, maker)
    assert record is not None
    account = gateway.keys.account(maker, record.keystore_path)
    gateway.ledger.register_batch(account, int(FINISHED_GTIN), FINISHED_LOT, 100)
    gateway.ledger.register_batch(account, int(FINISHED_GTIN), UNSHIPPED_LOT, 5)
    for lot in (FINISHED_LOT, UNSHIPPED_LOT):  # suspended on chain, scoped as recalls
        gateway.ledger.suspend_lot(gateway.regulator, int(FINISHED_GTIN), lot, 1, "PV-1")


@pytest.fixture(scope="module")
def readers(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Readers]:
    tmp: Path = tmp_path_factory.mktemp("readers")
    network = start_network(tmp / "gateway")
    for name, region in REGIONS.items():
        response = network.http.put(
            f"/participants/{network.addresses[name]}/region",
            json={"region": region},
            headers=network.regulator,
        )
        assert response.status_code == 200, response.text
    token = network.regulator["Authorization"].removeprefix("Bearer ")
    source = GatewayProfileSource(None, token, client=network.http)
    service = network.indexer(module_index_url, tmp / "indexer", profiles=source)
    try:
        journey = network.run_journey()
        _register_lots(network)
        service.catch_up()
        service.refresh_profiles()
        with service.sessions.begin() as session:
            for key, field, name in (
                ("at-the-pharmacy", "holder", PHARMACY.name),
                ("by-the-distributor", "submitter", DISTRIBUTOR.name),
                ("from-the-api-maker", "supplier", API_MAKER.name),
                ("at-the-importer", "actor", IMPORTER.name),
            ):
                session.add(
                    AlertRow(
                        key=key,
                        kind="clone",
                        severity="critical",
                        block_number=10**6,
                        subject=None,
                        message=key,
                        evidence={field: network.addresses[name]},
                    )
                )
        with TestClient(create_app(service, follow=False)) as http:
            yield Readers(network, journey, service, http)
    finally:
        service.stop()
        network.gateway.stop()


def _holders(stock: dict[str, Any]) -> set[str]:
    return {i["holder"] for i in stock["items"]} | {h["holder"] for h in stock["holdings"]}


def test_an_inspector_sees_its_regions_stock_only(readers: Readers) -> None:
    pharmacy = readers.address(PHARMACY.name)
    everything = readers.get("/stock", readers.key("regulator"))
    assert len(_holders(everything)) > 1
    bishkek = readers.get("/stock", readers.key("inspector", "KG-GB"))
    assert _holders(bishkek) == {pharmacy}
    assert bishkek["items"] == [i for i in everything["items"] if i["holder"] == pharmacy]
    assert bishkek["participants"][pharmacy]["region"] == "KG-GB"
    # a country's inspector sees every subdivision of it; a filter outside the region, nothing
    kyrgyzstan = readers.key("inspector", "KG")
    country = readers.get("/stock", kyrgyzstan)
    placed = {readers.address(n) for n, r in REGIONS.items() if r.startswith("KG")}
    assert pharmacy in _holders(country) and _holders(country) <= placed
    outside = readers.get("/stock", readers.key("inspector", "KG-GB"), participant=IMPORTER.gln)
    assert outside["items"] == [] and outside["holdings"] == []
    assert readers.get("/stock", readers.key("inspector", "KG-O"))["items"] == []


def test_an_inspector_sees_the_alerts_naming_its_regions_participants(readers: Readers) -> None:
    def keys(key: dict[str, str]) -> list[str]:
        return sorted(a["key"] for a in readers.get("/alerts", key, kind="clone")["items"])

    assert keys(readers.key("inspector", "KG-GB")) == ["at-the-pharmacy"]
    assert keys(readers.key("inspector", "KG")) == ["at-the-pharmacy", "by-the-distributor"]
    assert keys(readers.key("inspector", "IN-MH")) == ["from-the-api-maker"]
    every = ["at-the-importer", "at-the-pharmacy", "by-the-distributor", "from-the-api-maker"]
    assert keys(readers.key("auditor")) == every


def test_an_inspector_sees_the_recalls_its_region_holds_or_made(readers: Readers) -> None:
    def lots(key: dict[str, str]) -> list[str]:
        return [r["lot"] for r in readers.get("/recalls", key)["items"]]

    assert lots(readers.key("regulator")) == sorted([FINISHED_LOT, UNSHIPPED_LOT])
    assert lots(readers.key("inspector", "KG-GB")) == [FINISHED_LOT]  # the pharmacy holds it
    assert lots(readers.key("inspector", "KG-C")) == sorted([FINISHED_LOT, UNSHIPPED_LOT])
    assert lots(readers.key("inspector", "IN-MH")) == []


def test_an_inspector_sees_the_suspensions_its_region_holds_or_made(readers: Readers) -> None:
    def lots(key: dict[str, str]) -> list[str]:
        return sorted(r["lot"] for r in readers.get("/suspensions", key)["items"])

    assert lots(readers.key("regulator")) == sorted([FINISHED_LOT, UNSHIPPED_LOT])
    assert lots(readers.key("inspector", "KG-GB")) == [FINISHED_LOT]
    assert lots(readers.key("inspector", "KG-C")) == sorted([FINISHED_LOT, UNSHIPPED_LOT])
    assert lots(readers.key("inspector", "IN-MH")) == []


def test_an_inspectors_recall_scope_is_its_regions_packs(readers: Readers) -> None:
    path = f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope"
    pharmacy = readers.address(PHARMACY.name)
    whole = readers.get(path, readers.key("auditor"), limit=10_000)
    mine = readers.get(path, readers.key("inspector", "KG-GB"), limit=10_000)
    held = [i for i in whole["items"] if i["holder"] == pharmacy]
    assert held and mine["items"] == held and mine["total"] == len(held) < whole["total"]
    assert {s["holder"] for s in mine["summary"]} == {pharmacy}
    assert set(mine["participants"]) == {pharmacy}
    first = readers.get(path, readers.key("inspector", "KG-GB"), limit=5)
    assert first["items"] == held[:5] and first["next"] is not None


@pytest.mark.parametrize(
    "path",
    [
        "/trace/" + quote(f"https://id.gs1.org/01/{FINISHED_GTIN}/10/{FINISHED_LOT}", safe=""),
        "/epcs/urn:epc:id:sscc:4700123.0000000001",
        "/participants",
        "/anchors",
        "/origin/" + quote(f"https://id.gs1.org/01/{FINISHED_GTIN}/10/{FINISHED_LOT}", safe=""),
        "/events/" + "00" * 32 + "/receipt",
        "/check?code=" + quote(f"https://id.gs1.org/01/{FINISHED_GTIN}/21/S1", safe=""),
    ],
)
def test_an_inspector_is_refused_every_other_route(readers: Readers, path: str) -> None:
    response = readers.http.get(path, headers=readers.key("inspector", "KG-GB"))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "inspector" in response.json()["detail"]


def test_an_auditor_reads_everything_the_regulator_reads(readers: Readers) -> None:
    auditor, regulator = readers.key("auditor"), readers.key("regulator")
    pack = quote(readers.journey.dispensed_pack, safe="")
    for path in ("/stock", "/alerts", "/recalls", "/participants", "/anchors", f"/trace/{pack}"):
        assert readers.get(path, auditor) == readers.get(path, regulator), path
    bundle = readers.get(f"/origin/{pack}", auditor)
    event_id = bundle["receipts"][0]["eventID"]
    receipt = readers.get(f"/events/{quote(event_id, safe='')}/receipt", auditor)
    assert receipt["event_hash"] == bundle["receipts"][0]["receipt"]["event_hash"]
    check = readers.get("/check", auditor, code=readers.journey.dispensed_pack)
    assert check["detail"] == "full"


def test_no_route_writes_for_a_reader_but_the_regulators_key_routes(readers: Readers) -> None:
    """Every route but POST /check (a read), the key routes (the regulator's), a reader's own
    named queries and subscriptions (/queries: its own, never the index's) and
    POST /adverse-reactions (a pharmacy's or a hospital's participant key only) is a GET: an
    auditor (or inspector) can change nothing of the index."""
    spec = readers.http.get("/openapi.json").json()
    writes = {
        (method, path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method not in ("get", "head", "parameters")
    }
    assert {w for w in writes if not w[1].startswith(("/keys", "/queries"))} == {
        ("post", "/check"),
        ("post", "/adverse-reactions"),
    }
    report = {"code": "(01)09521234543213(21)X1", "description": "rash after the first dose"}
    for role, region in (("auditor", None), ("inspector", "KG-C")):
        response = readers.http.post(
            "/adverse-reactions", json=report, headers=readers.key(role, region)
        )
        assert response.status_code == 403, (role, response.text)
