"""JSON-LD -> EPCIS 2.0 XML -> JSON-LD keeps every event hash: the XML the writer gives is valid
under GS1's 2.0 XSD, and reading it back (medledger.epcis.xml_read) gives events with the same
CBV 2.0 hashes as the JSON they were written from. Where a vector cannot keep a hash, the table
says why; what has no place in the XSD is refused, rule ``xml.write``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medledger.epcis import xml_read, xsd
from medledger.epcis.event_hash import document_hashes
from medledger.epcis.xml_read import EPCIS_CONTEXT
from medledger.epcis.xml_write import write_document
from medledger.errors import ValidationError
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files

JSON_DOCUMENTS = [
    *vector_files("epcis/gs1-examples", "*.jsonld"),
    *vector_files("event-hash", "*.jsonld"),  # every one is a capture or query document
]

#: Events that come back with another hash, and why.
DIFFERENT = {
    # A JSON boolean in a user extension (rail:vehicleUniquelyIdentified: true): the event hash,
    # as the reference implementation's JSON path, writes it as Python's "True"; XML text is
    # "true" (xsd:boolean), which its XML path hashes as is.
    "Example-TransactionEvents-2020_07_03y": [1],
}


def _round_trip(document: dict[str, Any]) -> dict[str, Any]:
    root = xml_read.parse(write_document(document))
    xsd.validate(root, "2.0")
    return xml_read.read_root(root)


@pytest.mark.skipif(not JSON_DOCUMENTS, reason=SKIP_REASON)
@pytest.mark.parametrize("path", JSON_DOCUMENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_json_to_xml_and_back_keeps_every_event_hash(path: Path) -> None:
    before = json.loads(path.read_text(encoding="utf-8"))
    after = _round_trip(before)
    hashes = [document_hashes(d, honour_ignore_fields=True) for d in (before, after)]
    assert len(hashes[0]) == len(hashes[1]) > 0
    differing = [i for i, (a, b) in enumerate(zip(*hashes, strict=True)) if a != b]
    assert differing == DIFFERENT.get(path.stem, [])


@pytest.mark.skipif(not JSON_DOCUMENTS, reason=SKIP_REASON)
@pytest.mark.parametrize(
    "path", [p for p in JSON_DOCUMENTS if "ErrorDeclaration" in p.stem], ids=lambda p: p.stem
)
def test_event_ids_and_error_declarations_survive(path: Path) -> None:
    # neither is part of the event hash, so the hash test above cannot see them go
    before = json.loads(path.read_text(encoding="utf-8"))
    after = _round_trip(before)
    pairs = list(
        zip(before["epcisBody"]["eventList"], after["epcisBody"]["eventList"], strict=True)
    )
    assert any("errorDeclaration" in old for old, _ in pairs)
    for old, new in pairs:
        assert new.get("eventID") == old.get("eventID")
        assert new.get("errorDeclaration") == old.get("errorDeclaration")


# --- shapes ---------------------------------------------------------------------------------


def _document(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT, {"ex": "https://example.com/ns/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": [event]},
    }


AGGREGATION = {
    "type": "AggregationEvent",
    "eventTime": "2026-01-01T10:00:00.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "parentID": "urn:epc:id:sscc:4012345.0000000001",
    "childEPCs": ["urn:epc:id:sgtin:4012345.011111.1"],
    "action": "ADD",
    "bizStep": "packing",
    "persistentDisposition": {"set": ["completeness_verified"], "unset": ["in_progress"]},
    "ex:note": {"ex:lot": ["L1", "L2"], "#text": ""},
}


def test_fields_are_written_in_the_xsd_order_with_cbv_urns() -> None:
    event = {k: AGGREGATION[k] for k in reversed(list(AGGREGATION))}  # any JSON key order
    root = xml_read.parse(write_document(_document(event)))
    xsd.validate(root, "2.0")
    written = root.find("EPCISBody/EventList/AggregationEvent")
    assert [child.tag for child in written] == [
        "eventTime", "eventTimeZoneOffset", "parentID", "childEPCs", "action", "bizStep",
        "persistentDisposition", "{https://example.com/ns/}note",
    ]  # fmt: skip
    assert written.findtext("bizStep") == "urn:epcglobal:cbv:bizstep:packing"
    assert [c.tag for c in written.find("persistentDisposition")] == ["unset", "set"]
    assert document_hashes(xml_read.read_root(root)) == document_hashes(_document(AGGREGATION))


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"ilmd": {"ex:lot": "L1"}}, "/epcisBody/eventList/0/ilmd"),  # no ILMD on aggregations
        ({"note": "x"}, "/epcisBody/eventList/0/note"),  # no namespace
        ({"zz:note": "x"}, "/epcisBody/eventList/0/zz:note"),  # undeclared prefix
        ({"certificationInfo": ["a:1", "a:2"]}, "/epcisBody/eventList/0/certificationInfo"),
    ],
)
def test_what_has_no_place_in_the_xsd_is_refused(change: dict[str, Any], pointer: str) -> None:
    with pytest.raises(ValidationError) as refused:
        write_document(_document({**AGGREGATION, **change}))
    assert (refused.value.rule, refused.value.pointer) == ("xml.write", pointer)
