"""Master data from EPCIS 2.0 JSON-LD and XML documents: the header's vocabularies and an
EPCISMasterDataDocument's body, with GS1's XML examples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from medledger.epcis.terms import MPL_NAMESPACE
from medledger.errors import ValidationError
from medledger.masterdata import vocabulary as v
from medledger.masterdata.documents import records_from_document
from medledger.masterdata.views import location, product
from medledger.masterdata.xml import records_from_xml
from tests.medledger.epcis.epcis_vectors import VECTORS, require_vectors

EXAMPLES = VECTORS / "epcis/xml/examples-2.0"
RECEIVED = datetime(2026, 3, 1, tzinfo=UTC)
DEPOT = "urn:epc:id:sgln:4700000.00001.0"
AMOXICILLIN = "urn:epc:idpat:sgtin:4700000.012345.*"


def header_document() -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                     {"mpl": MPL_NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-02-01T10:00:00+06:00",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": [
            {"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": [
                {"id": DEPOT, "attributes": [
                    {"id": "cbvmda:name", "attribute": "Bishkek depot"},
                    {"id": "urn:epcglobal:cbv:mda#countryCode", "attribute": "KG"},
                    {"id": "urn:epcglobal:cbv:mda#state", "attribute": "KG-C"},
                ]},
            ]},
            {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": [
                {"id": AMOXICILLIN, "attributes": [
                    {"id": "urn:epcglobal:cbv:mda#regulatedProductName",
                     "attribute": "Amoxicillin 500 mg"},
                    {"id": "mpl:mda#atcCode", "attribute": "J01CA04"},
                    {"id": "mpl:mda#effectiveTime", "attribute": "2026-01-15T00:00:00Z"},
                ]},
            ]},
            {"type": "urn:epcglobal:epcis:vtype:BusinessStep", "vocabularyElementList": [
                {"id": "urn:example:step"},
            ]},
        ]}},
        "epcisBody": {"eventList": []},
    }  # fmt: skip


def test_the_header_gives_a_location_and_a_product() -> None:
    records = records_from_document(header_document(), received=RECEIVED)
    assert [r.kind for r in records] == ["location", "product"]  # BusinessStep passed over
    depot, drug = records
    assert location(depot).subdivision == "KG-C"
    assert depot.effective_time == datetime(2026, 2, 1, 4, tzinfo=UTC)  # the creationDate
    assert (product(drug).name, product(drug).atc_code) == ("Amoxicillin 500 mg", "J01CA04")
    assert drug.effective_time == datetime(2026, 1, 15, tzinfo=UTC)  # its own
    assert v.EFFECTIVE_TIME not in dict(drug.attributes)


def test_without_a_creation_date_the_time_received_is_the_effective_time() -> None:
    document = header_document()
    del document["creationDate"]
    assert records_from_document(document, received=RECEIVED)[0].effective_time == RECEIVED


def test_a_master_data_document_body() -> None:
    header = header_document()
    document = {
        "@context": header["@context"],
        "type": "EPCISMasterDataDocument",
        "creationDate": header["creationDate"],
        "epcisBody": {"vocabularyList": header["epcisHeader"]["epcisMasterData"]["vocabularyList"]},
    }
    assert records_from_document(document, received=RECEIVED) == records_from_document(
        header, received=RECEIVED
    )


def test_a_document_without_master_data_has_none() -> None:
    assert (
        records_from_document({"type": "EPCISDocument", "epcisBody": {}}, received=RECEIVED) == []
    )


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda d: d["epcisHeader"].update(epcisMasterData=[]), "/epcisHeader/epcisMasterData"),
        (
            lambda d: d["epcisHeader"]["epcisMasterData"]["vocabularyList"][0][
                "vocabularyElementList"
            ][0]["attributes"][2].update(attribute="KG-XX"),
            "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/attributes",
        ),
        (
            lambda d: d["epcisHeader"]["epcisMasterData"]["vocabularyList"][1][
                "vocabularyElementList"
            ][0].update(id="urn:epc:id:sgln:4700000.00001.0"),
            "/epcisHeader/epcisMasterData/vocabularyList/1/vocabularyElementList/0/id",
        ),
    ],
)
def test_bad_master_data_names_where(change: Any, pointer: str) -> None:
    document = header_document()
    change(document)
    with pytest.raises(ValidationError) as caught:
        records_from_document(document, received=RECEIVED)
    assert caught.value.pointer == pointer


def test_gs1_xml_examples_are_read() -> None:
    require_vectors()
    cbv = records_from_xml((EXAMPLES / "CBV__CBV-11.4-2020-06-16a.xml").read_bytes(),
                           received=RECEIVED)  # fmt: skip
    assert [location(r).element_id for r in cbv] == [
        "https://id.gs1.org/414/0614141003006",
        "https://id.gs1.org/414/0614141003006/254/1",
        "https://id.gs1.org/414/0614141003006/254/2",
    ]
    assert {location(r).parent_site for r in cbv} == {"0614141003006"}
    mimasu = records_from_xml((EXAMPLES / "Mimasu__Example-masterData.xml").read_bytes(),
                              received=RECEIVED)  # fmt: skip
    assert len(mimasu) == 7  # four business locations, three read points
    assert mimasu[0].children == (
        "https://id.gs1.org/414/0037000007296/254/8201",
        "https://id.gs1.org/414/0037000007296/254/8202",
        "https://id.gs1.org/414/0037000007296/254/8203",
    )
    full = EXAMPLES / "WithFullCombinationOfFields__masterdata_all_possible_fields.xml"
    header = records_from_xml(full.read_bytes(), received=RECEIVED)
    assert [r.vocabulary_type for r in header] == [v.BUSINESS_LOCATION, v.READ_POINT]
    assert header[0].values("http://example.com/ext1#array") == ["string1InArray", "string2InArray"]


def test_xml_and_json_of_the_same_facts_have_one_digest() -> None:
    xml = f"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
        creationDate="2026-02-01T10:00:00+06:00"><EPCISHeader><extension><EPCISMasterData>
        <VocabularyList><Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation">
        <VocabularyElementList><VocabularyElement id="{DEPOT}">
          <attribute id="urn:epcglobal:cbv:mda#name">Bishkek depot</attribute>
          <attribute id="urn:epcglobal:cbv:mda#countryCode">KG</attribute>
          <attribute id="urn:epcglobal:cbv:mda#state">C</attribute>
        </VocabularyElement></VocabularyElementList></Vocabulary></VocabularyList>
        </EPCISMasterData></extension></EPCISHeader><EPCISBody><EventList/></EPCISBody>
        </epcis:EPCISDocument>""".encode()
    from_xml = records_from_xml(xml, received=RECEIVED)
    from_json = records_from_document(header_document(), received=RECEIVED)[:1]
    assert [r.digest for r in from_xml] == [r.digest for r in from_json]


def test_xml_with_a_dtd_is_refused() -> None:
    xml = b'<!DOCTYPE x [<!ENTITY a "b">]><EPCISMasterDataDocument/>'
    with pytest.raises(ValidationError) as caught:
        records_from_xml(xml, received=RECEIVED)
    assert caught.value.rule == "xml.dtd"
