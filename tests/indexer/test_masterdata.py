"""Master data, from capture to index (issue 17 step 2): each participant declares its site
(name, region) and the manufacturer its product; the indexer loads the records from the
declarers' anchored batches, verified against the on-chain roots like events, keeps their
versions in ix_masterdata, and /stock answers by region (``?region=KG-C``, ``byRegion``) with
the names of locations and products. A reorganisation that orphans a record's block removes it.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import delete, func, select

from indexer.api.app import create_app
from indexer.api.schemas import RecallScope
from indexer.chainlogs import BlockHeader
from indexer.masterdata_authority import authorised
from indexer.queries.check import check, for_caller
from indexer.queries.recalls import scope, scope_body
from indexer.queries.stock import stock
from indexer.queries.trace import trace
from indexer.store import writes
from indexer.store.models import (
    AlertRow,
    BlockRow,
    ItemVersionRow,
    MasterDataRow,
    first_sequence_of_block,
)
from medledger.epcis.builders import Actor
from medledger.masterdata.record import make_record
from medledger.masterdata.vocabulary import BUSINESS_LOCATION, NAME, SITE
from provenance import alerts as alerts_cli
from provenance.journey import (
    API_MAKER,
    DISTRIBUTOR,
    IMPORTER,
    MANUFACTURER,
    PACK_ITEM_REF,
    PHARMACY,
)
from tests.support.network import Network, start_network

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SITES = {  # where each holder is: Chüy region, Bishkek, Osh
    MANUFACTURER: ("Bishkek Pharma Plant, Kant", "KG-C"),
    IMPORTER: ("Dordoi Med Import warehouse", "KG-GB"),
    DISTRIBUTOR: ("Tian Shan Distribution, Osh", "KG-GO"),
    PHARMACY: ("Ala-Too Pharmacy No. 7", "KG-GB"),
}
GTIN_CLASS = f"urn:epc:idpat:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.*"


def element(element_id: str, attributes: dict[str, str]) -> dict[str, Any]:
    return {
        "id": element_id,
        "attributes": [{"id": k, "attribute": v} for k, v in attributes.items()],
    }


def declare(network: Network, actor: Actor, vocabularies: list[dict[str, Any]]) -> None:
    document = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": []},
    }
    sent = network.http.post("/capture", json=document, headers=network.keys[actor.name])
    assert sent.status_code == 202, sent.text


def site(actor: Actor) -> dict[str, Any]:
    name, region = SITES[actor]
    return {
        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
        "vocabularyElementList": [
            element(
                actor.sgln,
                {
                    "urn:epcglobal:cbv:mda#name": name,
                    "urn:epcglobal:cbv:mda#countryCode": "KG",
                    "urn:epcglobal:cbv:mda#state": region,
                },
            )
        ],
    }


@pytest.fixture(scope="module")
def index(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("masterdata")
    network = start_network(tmp / "gateway")
    try:
        network.run_journey(20, packs_per_case=5)
        for actor in SITES:
            declare(network, actor, [site(actor)])
        product = {
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [
                element(
                    GTIN_CLASS,
                    {
                        "urn:epcglobal:cbv:mda#regulatedProductName": "Paracetamol 500 mg",
                        "urn:epcglobal:cbv:mda#dosageFormType": "TABLET",
                        "https://ns.medicine-provenance-ledger.org/epcis/mda#atcCode": "N02BE01",
                    },
                )
            ],
        }
        declare(network, MANUFACTURER, [product])
        network.anchor()
        service = network.indexer(module_index_url, tmp / "indexer")
        try:
            service.catch_up()
            yield network, service
        finally:
            service.stop()
    finally:
        network.gateway.stop()


def test_records_are_loaded_verified_from_the_declarers_batches(index: Any) -> None:
    network, service = index
    with service.sessions() as session:
        rows = list(session.scalars(select(MasterDataRow).order_by(MasterDataRow.seq)))
        assert {(r.kind, r.name, r.region) for r in rows} == {
            *(("location", n, r) for n, r in SITES.values()),
            ("product", "Paracetamol 500 mg", None),
        }
        by_declarer = {r.name: r.declared_by.lower() for r in rows}
        assert by_declarer["Ala-Too Pharmacy No. 7"] == network.addresses[PHARMACY.name].lower()
        alerts = session.scalars(select(AlertRow.kind).where(AlertRow.kind == "integrity"))
        assert list(alerts) == []


def test_stock_by_region_with_names(index: Any) -> None:
    _, service = index
    with service.sessions() as session:
        everything = stock(session)
        by_region = {r["region"]: r["count"] for r in everything["byRegion"]}
        assert set(by_region) <= {"KG-C", "KG-GB", "KG-GO"}
        assert sum(by_region.values()) == sum(i["count"] for i in everything["items"])
        pharmacy = f"https://id.gs1.org/414/{PHARMACY.gln}"
        assert everything["locations"][pharmacy]["name"] == "Ala-Too Pharmacy No. 7"
        gtin = next(i["gtin"] for i in everything["items"] if i["gtin"])
        assert everything["products"][gtin]["name"] == "Paracetamol 500 mg"
        assert everything["products"][gtin]["atcCode"] == "N02BE01"
        bishkek = stock(session, region="KG-GB")
        assert bishkek["items"] and {i["region"] for i in bishkek["items"]} == {"KG-GB"}
        assert bishkek["holdings"] == []
        assert sum(i["count"] for i in stock(session, region="KG")["items"]) == sum(
            by_region.values()
        )  # the whole country


def test_get_stock_region_over_http(index: Any) -> None:
    _, service = index
    assert service.bootstrap_key_file is not None
    token = service.bootstrap_key_file.read_text().strip()
    with TestClient(create_app(service, follow=False)) as http:
        auth = {"Authorization": f"Bearer {token}"}
        answer = http.get("/stock", params={"region": "KG-GB"}, headers=auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert {i["region"] for i in body["items"]} == {"KG-GB"}
        assert [r["region"] for r in body["byRegion"]] == ["KG-GB"]
        refused = http.get("/stock", params={"region": "KG-XX"}, headers=auth)
        assert refused.status_code == 422, refused.text


def test_alerts_name_participants_and_locations_and_filter_by_region(
    index: Any, tmp_path: Path
) -> None:
    """`GET /alerts` gives each alert the regions it concerns (its parties' sites, its
    locations: master data), names the participants (with their site) and locations, and
    `?region=` (and `provenance alerts --region`) keeps the alerts concerning a region."""
    network, service = index
    maker = network.addresses[MANUFACTURER.name]
    distributor = network.addresses[DISTRIBUTOR.name]
    api_maker = network.addresses[API_MAKER.name]
    shelf = f"https://id.gs1.org/414/{PHARMACY.gln}/254/shelf1"  # its GLN's record: KG-GB
    alerts = {
        "md-a": ("event-time", f"md-a {maker}", {"submitter": maker}),
        "md-b": ("clone", "md-b", {"holder": distributor, "actorLocation": shelf}),
        "md-c": ("event-time", "md-c", {"submitter": api_maker}),  # no master data
    }
    with service.sessions.begin() as session:
        for key, (kind, message, evidence) in alerts.items():
            writes.add_alert(
                session,
                kind=kind,
                severity="warning",
                block_number=10**9,
                subject=None,
                message=message,
                evidence=evidence,
                key_parts=(key,),
            )
    assert service.bootstrap_key_file is not None
    token = service.bootstrap_key_file.read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(service, follow=False)) as http:

            def listed(**params: str) -> dict[str, Any]:
                answer = http.get("/alerts", params={"limit": 1000, **params}, headers=auth)
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                return body

            def ours(body: dict[str, Any]) -> dict[str, list[str]]:
                return {
                    a["message"][:4]: a["regions"]
                    for a in body["items"]
                    if a["message"].startswith("md-")
                }

            everything = listed()
            assert ours(everything) == {"md-a": ["KG-C"], "md-b": ["KG-GB", "KG-GO"], "md-c": []}
            assert everything["participants"][maker]["site"] == {
                "name": SITES[MANUFACTURER][0],
                "region": "KG-C",
                "city": None,
            }
            assert everything["participants"][api_maker]["site"] is None
            assert everything["locations"][shelf]["name"] == SITES[PHARMACY][0]
            assert everything["locations"][shelf]["region"] == "KG-GB"
            assert set(ours(listed(region="KG-C"))) == {"md-a"}
            assert set(ours(listed(region="KG-GB"))) == {"md-b"}  # by the location
            assert set(ours(listed(region="KG-GO"))) == {"md-b"}  # by the holder's site
            assert set(ours(listed(region="KG"))) == {"md-a", "md-b"}
            refused = http.get("/alerts", params={"region": "KG-XX"}, headers=auth)
            assert refused.status_code == 422, refused.text
            console = Console(record=True, width=300)
            code = alerts_cli.run(
                indexer_url="http://indexer.invalid",
                key_file=service.bootstrap_key_file,
                region="KG-C",
                output="json",
                client=http,
                console=console,
            )
            printed = json.loads(console.export_text())
            assert code == 1
            assert [i["message"][:4] for i in printed["items"]] == ["md-a"]
            table = Console(record=True, width=200)
            alerts_cli.run(
                indexer_url="http://indexer.invalid",
                key_file=service.bootstrap_key_file,
                region="KG-C",
                client=http,
                console=table,
            )
            shown = table.export_text()
            # no registered profile here: the maker's name comes from its site's master data
            assert f"{SITES[MANUFACTURER][0]}, GLN {MANUFACTURER.gln}" in shown
            assert "KG-C" in shown
    finally:
        with service.sessions.begin() as session:
            session.execute(delete(AlertRow).where(AlertRow.block_number == 10**9))


def test_wd_and_attribute_parameters_answer_from_master_data(index: Any) -> None:
    """`WD_readPoint` / `WD_bizLocation`: the location, and every location master data places
    within it (its `children`; the locations naming it as their `cbv:mda:site`), at any depth.
    `EQ_bizLocation_cbvmda:state=KG-GB`, `EQ_readPoint_cbvmda:name=...`: the events at the
    locations whose master data gives the attribute one of the values."""
    _, service = index
    hq, plant = (f"https://id.gs1.org/414/{a.gln}" for a in (API_MAKER, MANUFACTURER))
    warehouse, depot = (f"https://id.gs1.org/414/{a.gln}" for a in (IMPORTER, DISTRIBUTOR))
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    records = [
        make_record(BUSINESS_LOCATION, hq, [(NAME, "Holding")], effective_time=moment,
                    children=[plant]),
        make_record(BUSINESS_LOCATION, warehouse, [(NAME, "Warehouse"), (SITE, DISTRIBUTOR.gln)],
                    effective_time=moment),
    ]  # fmt: skip
    with service.sessions.begin() as session:
        for at, record in enumerate(records):
            session.add(
                MasterDataRow(
                    record_hash=record.digest,
                    seq=2**62 + at,
                    block_number=1,
                    root=bytes(32),
                    declared_by="0x" + "00" * 20,
                    kind=record.kind,
                    vocabulary_type=record.vocabulary_type,
                    element_id=record.element_id,
                    effective_time=record.effective_time,
                    name=None,
                    region=None,
                    salt=bytes(32),
                    raw=json.dumps(record.document(), separators=(",", ":"), ensure_ascii=False),
                )
            )
    assert service.bootstrap_key_file is not None
    auth = {"Authorization": f"Bearer {service.bootstrap_key_file.read_text().strip()}"}
    try:
        with TestClient(create_app(service, follow=False)) as http:

            def ids(**params: str) -> set[str]:
                answer = http.get("/events", params={"perPage": 1000, **params}, headers=auth)
                assert answer.status_code == 200, answer.text
                results = answer.json()["epcisBody"]["queryResults"]["resultsBody"]
                return {e["eventID"] for e in results["eventList"]}

            at_plant = ids(EQ_readPoint=plant)
            assert at_plant and ids(WD_readPoint=hq) == ids(EQ_readPoint=hq) | at_plant
            in_warehouse = ids(EQ_bizLocation=warehouse)
            assert in_warehouse
            assert ids(WD_bizLocation=depot) == ids(EQ_bizLocation=depot) | in_warehouse
            assert ids(WD_bizLocation=warehouse) == in_warehouse  # nothing lies within it
            # EQ_<field>_<attribute>: the locations whose master data says so
            pharmacy = f"https://id.gs1.org/414/{PHARMACY.gln}"
            # (the warehouse's version true now, above, says no state: it is not matched)
            assert ids(EQ_bizLocation=pharmacy)
            assert ids(**{"EQ_bizLocation_cbvmda:state": "KG-GB"}) == ids(EQ_bizLocation=pharmacy)
            named = ids(**{"EQ_readPoint_cbvmda:name": SITES[MANUFACTURER][0]})
            assert named == at_plant
            assert ids(**{"EQ_readPoint_cbvmda:name": "nowhere"}) == set()
    finally:
        with service.sessions.begin() as session:
            session.execute(delete(MasterDataRow).where(MasterDataRow.seq >= 2**62))


def test_a_record_not_its_declarers_is_left_out(index: Any) -> None:
    network, service = index
    with service.sessions() as session:
        (drug,) = session.scalars(select(MasterDataRow).where(MasterDataRow.kind == "product"))
        row = {c.name: getattr(drug, c.name) for c in MasterDataRow.__table__.columns}
        by_pharmacy = {**row, "declared_by": network.addresses[PHARMACY.name]}
        by_regulator = {**row, "declared_by": network.gateway.regulator.address}
        assert authorised(session, [row, by_pharmacy, by_regulator]) == [row, by_regulator]


def test_trace_check_and_recall_scope_name_what_they_show(index: Any) -> None:
    _, service = index
    pharmacy = f"https://id.gs1.org/414/{PHARMACY.gln}"
    with service.sessions() as session:
        on_shelf = next(
            i
            for i in stock(session, region="KG-GB")["items"]
            if i["location"] == pharmacy and i["gtin"]
        )
        gtin, lot = on_shelf["gtin"], on_shelf["lot"]
        pack = session.scalars(
            select(ItemVersionRow.identifier).where(
                ItemVersionRow.location == pharmacy,
                ItemVersionRow.valid_to.is_(None),
                ItemVersionRow.gtin == gtin,
                ItemVersionRow.status == "active",
            )
        ).first()
        assert pack is not None
        traced = trace(session, pack)
        assert traced["products"][gtin]["name"] == "Paracetamol 500 mg"
        named = {u: f["name"] for u, f in traced["locations"].items()}
        assert named[pharmacy] == "Ala-Too Pharmacy No. 7"
        assert named[f"https://id.gs1.org/414/{MANUFACTURER.gln}"] == SITES[MANUFACTURER][0]
        answer = check(session, pack, today=date(2026, 12, 1))
        assert answer["product"]["name"] == "Paracetamol 500 mg"
        assert answer["place"] == {**traced["locations"][pharmacy]}
        assert for_caller(answer, full=False)["place"] is None  # no site for the public
        assert for_caller(answer, full=False)["product"]["atcCode"] == "N02BE01"
        head = scope(session, gtin, lot).to_json()
        assert head["product"]["dosageForm"] == "TABLET"
        assert head["locations"][pharmacy]["region"] == "KG-GB"
        body, _ = scope_body(session, gtin, lot, limit=7)  # PostgreSQL: its own statement
        expected = RecallScope.model_validate(scope(session, gtin, lot, limit=7).to_json())
        assert body == expected.model_dump_json().encode()


def test_a_recall_scope_by_region(index: Any) -> None:
    """`GET /recalls/{gtin}/{lot}/scope?region=`: the lot's items at locations master data
    places there, counted over those alone (as `/stock?region=`)."""
    _, service = index
    assert service.bootstrap_key_file is not None
    auth = {"Authorization": f"Bearer {service.bootstrap_key_file.read_text().strip()}"}
    with service.sessions() as session:
        gtin, lot = next(
            (i["gtin"], i["lot"]) for i in stock(session)["items"] if i["gtin"] and i["lot"]
        )
    with TestClient(create_app(service, follow=False)) as http:

        def scoped(**params: str) -> dict[str, Any]:
            answer = http.get(
                f"/recalls/{gtin}/{lot}/scope", params={"limit": 10000, **params}, headers=auth
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        whole = scoped()
        by_region = {r: scoped(region=r) for r in ("KG-C", "KG-GB", "KG-GO")}
        for region, body in by_region.items():
            assert body["total"] == len(body["items"]) == sum(s["count"] for s in body["summary"])
            places = {i["location"] for i in body["items"]}
            assert all(body["locations"][p]["region"] == region for p in places)
        assert sum(b["total"] for b in by_region.values()) == scoped(region="KG")["total"]
        assert scoped(region="KG")["total"] <= whole["total"]
        assert any(b["total"] for b in by_region.values())
        refused = http.get(f"/recalls/{gtin}/{lot}/scope?region=KG-XX", headers=auth)
        assert refused.status_code == 422, refused.text


def test_a_reorganisation_removes_the_records_of_its_blocks_and_catching_up_restores_them(
    index: Any,
) -> None:
    _, service = index
    with service.sessions() as session:
        before = session.scalar(select(func.count()).select_from(MasterDataRow))
        first = session.scalar(select(func.min(MasterDataRow.block_number)))
        ancestor = session.scalars(
            select(BlockRow).where(BlockRow.number < first).order_by(BlockRow.number.desc())
        ).first()
        assert ancestor is not None and before
        header = BlockHeader(
            ancestor.number, ancestor.hash, ancestor.parent_hash, ancestor.timestamp
        )
        writes.rollback_to(session, header, first_sequence_of_block(header.number + 1))
        session.commit()
        assert session.scalar(select(func.count()).select_from(MasterDataRow)) == 0
        assert stock(session)["locations"] == {}
    service.catch_up()
    with service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MasterDataRow)) == before


def test_get_masterdata_answers_what_was_said_and_when(index: Any) -> None:
    _, service = index
    assert service.bootstrap_key_file is not None
    token = service.bootstrap_key_file.read_text().strip()
    with TestClient(create_app(service, follow=False)) as http:
        auth = {"Authorization": f"Bearer {token}"}
        site = http.get(f"/masterdata/{PHARMACY.gln}", headers=auth)
        assert site.status_code == 200, site.text
        body = site.json()
        assert body["element"] == f"https://id.gs1.org/414/{PHARMACY.gln}"
        assert body["current"]["record"]["type"] == "MasterData"
        assert body["current"]["effectiveTime"].startswith("2026-01-01")
        assert body["current"]["recordID"].endswith("?ver=CBV2.0&masterdata")
        drug = http.get("/masterdata/" + GTIN_CLASS, headers=auth).json()
        assert drug["current"]["kind"] == "product"
        before = http.get(
            f"/masterdata/{PHARMACY.gln}", params={"at": "2025-06-01T00:00:00Z"}, headers=auth
        )
        assert before.json()["current"] is None and len(before.json()["versions"]) == 1
        assert http.get(f"/masterdata/{API_MAKER.gln}", headers=auth).status_code == 404
        assert http.get("/masterdata/urn:example:shelf", headers=auth).status_code == 422
