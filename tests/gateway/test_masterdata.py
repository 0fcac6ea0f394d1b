"""Master data through the gateway (issue 17 step 2): records in a captured document's header
(JSON-LD and XML) and imported files (POST /masterdata, provenance masterdata import) are
stored once, anchored as leaves of kind ``masterdata`` in the declarer's batches and proved by
receipts ``provenance verify`` accepts; who may declare what; a refusal changes nothing.
SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chain.verification import verify_receipt
from gateway.store.models import CaptureRow, MasterDataRow
from medledger.epcis.builders import Actor
from medledger.formats.receipt import Receipt
from medledger.masterdata.record import parse_masterdata_id, read_record
from medledger.masterdata.views import location, product
from provenance.journey import DISTRIBUTOR, IMPORTER, MANUFACTURER, PHARMACY
from provenance.masterdata_command import run_import
from tests.gateway.conftest import Gateway, GatewayFactory
from tests.medledger.epcis.epcis_vectors import VECTORS, require_vectors

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    return make_module_gateway()


def product_id(actor: Actor, item: str = "012345") -> str:
    return f"urn:epc:idpat:sgtin:{actor.company_prefix}.{item}.*"


def document(actor: Actor, *, name: str = "Main site", drug: str | None = None) -> dict[str, Any]:
    vocabularies: list[dict[str, Any]] = [
        {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [
                {
                    "id": actor.sgln,
                    "attributes": [
                        {"id": "urn:epcglobal:cbv:mda#name", "attribute": name},
                        {"id": "urn:epcglobal:cbv:mda#countryCode", "attribute": "KG"},
                        {"id": "urn:epcglobal:cbv:mda#state", "attribute": "C"},
                    ],
                }
            ],
        }
    ]
    if drug is not None:
        vocabularies.append(
            {
                "type": "urn:epcglobal:epcis:vtype:EPCClass",
                "vocabularyElementList": [
                    {
                        "id": drug,
                        "attributes": [
                            {
                                "id": "urn:epcglobal:cbv:mda#regulatedProductName",
                                "attribute": "Amoxicillin 500 mg",
                            }
                        ],
                    }
                ],
            }
        )
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-02-01T00:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": []},
    }


def records(gateway: Gateway) -> int:
    with gateway.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(MasterDataRow)) or 0)


def captures(gateway: Gateway) -> int:
    with gateway.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CaptureRow)) or 0)


def verified_receipt(gateway: Gateway, who: dict[str, str], record_id: str) -> Receipt:
    hex_id = parse_masterdata_id(record_id).hex()
    got = gateway.http.get(f"/masterdata/{hex_id}/receipt", headers=who)
    assert got.status_code == 200, got.text
    receipt = Receipt.from_json(got.json())
    assert receipt.kind == "masterdata" and receipt.masterdata is not None
    verdict = verify_receipt(receipt, chain=gateway.service.chain)
    assert verdict.valid, verdict.failures
    assert "master data hash" in [c.name for c in verdict.checks]
    return receipt


def test_header_master_data_is_stored_anchored_and_proved(gateway: Gateway) -> None:
    who = gateway.headers(MANUFACTURER)
    sent = gateway.capture(MANUFACTURER, document(MANUFACTURER, drug=product_id(MANUFACTURER)))
    assert sent.status_code == 202, sent.text
    answer = sent.json()
    assert answer["masterdataStored"] == 2 and len(answer["masterdataIDs"]) == 2
    again = gateway.capture(MANUFACTURER, document(MANUFACTURER, drug=product_id(MANUFACTURER)))
    assert again.json()["masterdataIDs"] == answer["masterdataIDs"]
    assert again.json()["masterdataStored"] == 0  # the same records: duplicates

    job = gateway.http.get(f"/capture/{answer['captureID']}", headers=who).json()
    assert job["status"] == "accepted"
    gateway.anchor_all()
    job = gateway.http.get(f"/capture/{answer['captureID']}", headers=who).json()
    assert job["status"] == "anchored"  # no events, its master data anchored
    site, drug = (verified_receipt(gateway, who, i) for i in answer["masterdataIDs"])
    assert location(read_record(site.masterdata)).subdivision == "KG-C"
    assert product(read_record(drug.masterdata)).name == "Amoxicillin 500 mg"
    stored = gateway.http.get(
        f"/masterdata/{parse_masterdata_id(answer['masterdataIDs'][0]).hex()}", headers=who
    )
    assert stored.status_code == 200 and stored.json() == site.masterdata
    batch = gateway.http.get(f"/batches/0x{site.root.hex()}", headers=gateway.regulator).json()
    kinds = {e["eventID"]: e["kind"] for e in batch["events"]}
    assert kinds[answer["masterdataIDs"][0]] == "masterdata"
    assert (
        gateway.http.get(
            f"/masterdata/{parse_masterdata_id(answer['masterdataIDs'][0]).hex()}",
            headers=gateway.headers(PHARMACY),
        ).status_code
        == 404
    )  # another participant's record


def test_a_new_effective_time_is_a_new_version(gateway: Gateway) -> None:
    before = records(gateway)
    renamed = document(MANUFACTURER, name="Main site, renamed")
    renamed["creationDate"] = "2026-06-01T00:00:00Z"
    assert gateway.capture(MANUFACTURER, renamed).status_code == 202
    assert records(gateway) == before + 1


def test_others_master_data_is_refused_and_nothing_is_stored(gateway: Gateway) -> None:
    before, jobs = records(gateway), captures(gateway)
    theirs = document(PHARMACY, drug=product_id(MANUFACTURER, "054321"))
    refused = gateway.capture(PHARMACY, theirs)
    assert refused.status_code == 400, refused.text
    assert refused.json()["rule"] == "masterdata.not-yours"
    assert records(gateway) == before
    assert captures(gateway) == jobs + 1  # the rejection is recorded, as any refused document
    # the regulator may declare anyone's master data
    by_regulator = gateway.http.post("/capture", json=theirs, headers=gateway.regulator)
    assert by_regulator.status_code == 202, by_regulator.text


def test_a_bad_record_refuses_the_document(gateway: Gateway) -> None:
    before = records(gateway)
    bad = document(DISTRIBUTOR)
    attributes = bad["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]
    attributes["vocabularyElementList"][0]["attributes"][2]["attribute"] = "XX"
    refused = gateway.capture(DISTRIBUTOR, bad)
    assert refused.status_code == 400, refused.text
    assert refused.json()["rule"] == "masterdata.subdivision"
    assert refused.json()["pointer"].startswith("/epcisHeader/epcisMasterData/vocabularyList/0")
    assert records(gateway) == before


def test_xml_header_master_data_is_captured(gateway: Gateway) -> None:
    xml = f"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
        creationDate="2026-03-01T00:00:00Z"><EPCISHeader><extension><EPCISMasterData>
        <VocabularyList><Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation">
        <VocabularyElementList><VocabularyElement id="{DISTRIBUTOR.sgln}">
          <attribute id="urn:epcglobal:cbv:mda#name">Tian Shan warehouse</attribute>
          <attribute id="urn:epcglobal:cbv:mda#countryCode">KG</attribute>
          <attribute id="urn:epcglobal:cbv:mda#state">KG-GB</attribute>
        </VocabularyElement></VocabularyElementList></Vocabulary></VocabularyList>
        </EPCISMasterData></extension></EPCISHeader><EPCISBody><EventList/></EPCISBody>
        </epcis:EPCISDocument>"""
    sent = gateway.http.post(
        "/capture",
        content=xml.encode(),
        headers={**gateway.headers(DISTRIBUTOR), "Content-Type": "application/xml"},
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["masterdataStored"] == 1


CSV = """kind,id,effective_time,name,city,country_code,subdivision,atc_code,dosage_form
location,{gln},2026-01-01T00:00:00Z,Ala-Too Pharmacy No. 7,Bishkek,KG,KG-GB,,
"""


def test_provenance_masterdata_import(gateway: Gateway, tmp_path: Path) -> None:
    key = tmp_path / "pharmacy.api-key"
    key.write_text(gateway.headers(PHARMACY)["Authorization"].removeprefix("Bearer "))
    good = tmp_path / "sites.csv"
    good.write_text(CSV.format(gln=PHARMACY.gln), encoding="utf-8")
    said: list[str] = []
    code = run_import(good, key_file=key, client=gateway.http, echo=said.append)
    assert code == 0, said
    assert "1 master data records, 1 new" in said[0]
    gateway.anchor_all()
    verified_receipt(gateway, gateway.headers(PHARMACY), said[1].strip())

    before = records(gateway)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        CSV.format(gln=PHARMACY.gln) + f"location,{PHARMACY.gln},,Shop,,KG,KG-GB,J01,\n",
        encoding="utf-8",
    )
    said.clear()
    assert run_import(bad, key_file=key, client=gateway.http, echo=said.append) == 2
    assert "line 3, column atc_code" in said[0], said
    theirs = tmp_path / "theirs.csv"
    theirs.write_text(CSV.format(gln=MANUFACTURER.gln), encoding="utf-8")
    said.clear()
    assert run_import(theirs, key_file=key, client=gateway.http, echo=said.append) == 2
    assert "company prefixes" in said[0], said
    assert records(gateway) == before  # nothing of a refused file
    said.clear()
    assert run_import(tmp_path / "sites.txt", key_file=key, echo=said.append) == 2


def test_post_masterdata_refuses_other_media(gateway: Gateway) -> None:
    refused = gateway.http.post(
        "/masterdata",
        content=b"kind,id\n",
        headers={**gateway.headers(PHARMACY), "Content-Type": "text/plain"},
    )
    assert refused.status_code == 415, refused.text


def test_the_regulator_imports_gs1s_xml_master_data_document(gateway: Gateway) -> None:
    require_vectors()
    example = VECTORS / "epcis/xml/examples-2.0/Mimasu__Example-masterData.xml"
    sent = gateway.http.post(
        "/masterdata",
        content=example.read_bytes(),
        headers={**gateway.regulator, "Content-Type": "application/xml"},
    )
    assert sent.status_code == 201, sent.text
    assert len(sent.json()["masterdataIDs"]) == 7  # four business locations, three read points
    again = gateway.http.post(
        "/masterdata",
        content=example.read_bytes(),
        headers={**gateway.regulator, "Content-Type": "application/xml"},
    )
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 7)


def test_a_json_master_data_document_is_imported_once(gateway: Gateway) -> None:
    header = document(IMPORTER, name="Dordoi Med Import warehouse")
    body = {
        "@context": header["@context"],
        "type": "EPCISMasterDataDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-04-01T00:00:00Z",
        "epcisBody": {"vocabularyList": header["epcisHeader"]["epcisMasterData"]["vocabularyList"]},
    }
    sent = gateway.http.post(
        "/masterdata",
        json=body,
        headers={**gateway.headers(IMPORTER), "Content-Type": "application/ld+json"},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["stored"] == 1
    empty = {**body, "epcisBody": {"vocabularyList": []}}
    refused = gateway.http.post("/masterdata", json=empty, headers=gateway.headers(IMPORTER))
    assert refused.status_code == 422 and refused.json()["rule"] == "masterdata.empty"
