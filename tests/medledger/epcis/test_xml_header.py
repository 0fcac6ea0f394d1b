"""The header's master data written as EPCIS XML (medledger/epcis/xml_header.py) reads back as
the same records, to the digest: over GS1's XML examples that carry master data, and in the 1.2
form (after the Standard Business Document Header 1.2 requires), valid under GS1's XSDs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medledger.epcis import legacy, xml_read, xsd
from medledger.epcis.xml_header import SBDH, write_header
from medledger.epcis.xml_write import to_element, write_document
from medledger.masterdata.documents import records_from_document
from medledger.masterdata.xml import records_from_root, records_from_xml, vocabulary_json
from tests.medledger.epcis.epcis_vectors import VECTORS

NOW = datetime(2026, 12, 4, tzinfo=UTC)
EXAMPLES = sorted(
    p
    for p in (VECTORS / "epcis" / "xml" / "examples-2.0").glob("*.xml")
    if b"VocabularyList" in p.read_bytes()
)


def document_with(vocabularies: list[Any], created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,  # the effective time of records without their own
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": []},
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_gs1s_master_data_written_back_gives_the_same_records(path: Path) -> None:
    root = xml_read.parse(path.read_bytes())
    vocabularies = vocabulary_json(root)
    assert vocabularies
    try:
        ours = records_from_root(root, received=NOW)
    except Exception as exc:  # a record this ledger refuses (another country's subdivision...)
        pytest.skip(f"not a record this ledger keeps: {exc}")
    written = write_document(document_with(vocabularies, root.get("creationDate")))
    xsd.validate(xml_read.parse(written), "2.0")
    again = records_from_xml(written, received=NOW)
    assert {r.digest for r in again} == {r.digest for r in ours}


def test_objects_lists_and_text_keep_their_digest_a_number_does_not() -> None:
    attributes: list[dict[str, Any]] = [
        {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Bishkek depot"},
        {
            "id": "https://example.org/md#address",
            "attribute": {
                "https://example.org/md#street": "Chui 1",
                "https://example.org/md#line": ["a", "b"],
                "plain": "x",
            },
        },
    ]
    element = {"id": "https://id.gs1.org/414/4700000000012", "attributes": attributes}
    vocabularies = [{"type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                     "vocabularyElementList": [element]}]  # fmt: skip
    document = document_with(vocabularies)
    (ours,) = records_from_document(document, received=NOW)
    (back,) = records_from_xml(write_document(document), received=NOW)
    assert back.digest == ours.digest
    attributes.append({"id": "https://example.org/md#floors", "attribute": 3})
    (ours,) = records_from_document(document, received=NOW)
    (back,) = records_from_xml(write_document(document), received=NOW)
    assert back.digest != ours.digest  # "3" in XML: provenance export leaves it out


def test_the_1_2_form_has_the_header_after_a_standard_business_document_header() -> None:
    vocabularies = [
        {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [
                {
                    "id": "https://id.gs1.org/414/4700000000012",
                    "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Depot"}],
                }
            ],
        }
    ]
    document = document_with(vocabularies)
    (ours,) = records_from_document(document, received=NOW)
    old = legacy.to_1_2(to_element(document), sender="eip155:1337:0xabc")
    xsd.validate(old, "1.2")
    sender = old.find(f"EPCISHeader/{{{SBDH}}}StandardBusinessDocumentHeader/{{{SBDH}}}Sender")
    assert sender is not None and sender.findtext(f"{{{SBDH}}}Identifier") == "eip155:1337:0xabc"
    (back,) = records_from_root(old, received=NOW)
    assert back.digest == ours.digest


def test_a_header_goes_first() -> None:
    from lxml import etree

    root = etree.Element("{urn:epcglobal:epcis:xsd:2}EPCISDocument")
    etree.SubElement(root, "EPCISBody")
    write_header(root, [])
    assert [c.tag for c in root] == ["EPCISHeader", "EPCISBody"]
