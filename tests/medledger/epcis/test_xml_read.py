"""EPCIS 2.0 XML is read into the JSON-LD document a JSON client would send: same hashes, same
schema, and no input can make the parser fetch, expand or recurse its way into trouble."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medledger.epcis.event_hash import document_hashes, document_prehashes
from medledger.epcis.schema import load_schema
from medledger.epcis.xml_read import EPCIS_CONTEXT, read_document
from medledger.errors import ValidationError
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, VECTORS, vector_files

XML_HASH_VECTORS = vector_files("event-hash", "*.xml")
EXPECTED_EQUAL = vector_files("event-hash/expected-equal", "*.xml")
EXAMPLES = vector_files("epcis/xml/examples-2.0", "*.xml")

# Where reading XML as JSON-LD cannot give the reference implementation's XML hash, because the
# reference's own XML and JSON paths disagree there (its JSON path is what the gateway hashes):
KNOWN_DIFFERENCES = {
    # A sensorReport type written as a CURIE of a user prefix (``example:someSensorProperty``):
    # the reference hashes the XML text as is, JSON-LD (and our hash) expands the prefix.
    # Event 11 also has <cbvmda:lotNumber> in its ILMD: read as the JSON key "cbvmda:lotNumber",
    # hashed "cbvmda:lotNumber=LOTABC" as the reference's JSON path does, where its XML path
    # writes "{urn:epcglobal:cbv:mda}lotNumber=LOTABC" (test_cbvmda_in_ilmd_hashes_as_its_json).
    "SensorDataExamples": {5, 6, 7, 8, 9, 11},
    # A user extension element named ``...List`` (``c4l:resourceList``) holding one object:
    # the reference's JSON path wraps the object in an item named ``resource``, its XML path not.
    "epcisDocWithTransformationEventWithMultipleExtensions": {0},
}
# Example files that are not event documents: master data (issue 17) and capture jobs.
NOT_EVENT_DOCUMENTS = ("CaptureJob__", "CBV__CBV-11.4", "Mimasu__Example-masterData")
# Example event documents the GS1 JSON schema refuses, as it refuses their JSON form.
SCHEMA_REFUSED = {
    # persistentDisposition on an AggregationEvent: the XSD has it, the JSON schema not
    "Example-PersistentDisposition": "schema.propertyNames",
    # a sensorReport with an exception but no type: the JSON schema requires the type
    "WithSensorData__SensorDataExamples": "schema.required",
    # ignoreFields is a repository's annotation, not an EPCIS field (as for the JSON vectors)
    "epcisXmlDocHavingEventWithIgnoreFields": "schema.propertyNames",
    "epcisXmlQueryDocHavingEventWithIgnoreFields": "schema.propertyNames",
}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read(path: Path) -> dict[str, Any]:
    return read_document(path.read_bytes())


@pytest.mark.skipif(not XML_HASH_VECTORS, reason=SKIP_REASON)
@pytest.mark.parametrize("xml", XML_HASH_VECTORS, ids=lambda p: p.stem)
def test_xml_vectors_hash_as_the_reference_says(xml: Path) -> None:
    expected = _lines(xml.with_suffix(".hashes"))
    got = document_hashes(_read(xml), honour_ignore_fields=True)
    assert len(got) == len(expected)
    differing = {i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b}
    assert differing == KNOWN_DIFFERENCES.get(xml.stem, set())


@pytest.mark.skipif(not XML_HASH_VECTORS, reason=SKIP_REASON)
@pytest.mark.parametrize("xml", XML_HASH_VECTORS, ids=lambda p: p.stem)
def test_xml_and_its_json_twin_hash_alike(xml: Path) -> None:
    twin = xml.with_suffix(".jsonld")
    if not twin.exists():
        pytest.skip(f"{xml.stem}: no JSON-LD twin")
    document = json.loads(twin.read_text(encoding="utf-8"))
    assert document_prehashes(_read(xml), honour_ignore_fields=True) == document_prehashes(
        document, honour_ignore_fields=True
    )


@pytest.mark.skipif(not EXPECTED_EQUAL, reason=SKIP_REASON)
@pytest.mark.parametrize("xml", EXPECTED_EQUAL, ids=lambda p: p.stem)
def test_different_representations_of_one_event_hash_alike(xml: Path) -> None:
    hashes = document_hashes(_read(xml))
    assert len(hashes) >= 2
    assert len(set(hashes)) == 1


@pytest.mark.skipif(not EXAMPLES, reason=SKIP_REASON)
@pytest.mark.parametrize("xml", EXAMPLES, ids=lambda p: p.stem)
def test_gs1_xml_examples_read(xml: Path) -> None:
    if xml.stem.startswith(NOT_EVENT_DOCUMENTS):
        with pytest.raises(ValidationError) as refused:
            _read(xml)
        assert refused.value.rule == "xml.document"
        return
    document = _read(xml)
    body = document["epcisBody"]
    assert isinstance(body, dict)
    if "masterdata" in xml.stem:  # master data in the header only (issue 17): no events
        assert body["eventList"] == []
        return
    assert body["eventList"]
    assert len(document_hashes(document)) == len(body["eventList"])
    _check_schema(xml, document)


@pytest.mark.skipif(not XML_HASH_VECTORS, reason=SKIP_REASON)
@pytest.mark.parametrize("xml", XML_HASH_VECTORS, ids=lambda p: p.stem)
def test_xml_hash_vectors_pass_the_json_schema(xml: Path) -> None:
    _check_schema(xml, _read(xml))


def _check_schema(xml: Path, document: dict[str, object]) -> None:
    schema = load_schema()
    plain = json.loads(json.dumps(document))
    rule = SCHEMA_REFUSED.get(xml.stem)
    if rule is None:
        schema.validate(plain)
    else:
        with pytest.raises(ValidationError) as refused:
            schema.validate(plain)
        assert refused.value.rule == rule


# --- shapes ---------------------------------------------------------------------------------

HEAD = (
    b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
    b'creationDate="2026-01-01T00:00:00Z"'
)


def _doc(event: bytes, namespaces: bytes = b"") -> bytes:
    return (
        HEAD
        + b" "
        + namespaces
        + b"><EPCISBody><EventList>"
        + event
        + (b"</EventList></EPCISBody></epcis:EPCISDocument>")
    )


OBJECT_EVENT = b"""<ObjectEvent>
  <eventTime>2026-01-01T10:00:00.000+01:00</eventTime>
  <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
  <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
  <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
  <bizTransactionList>
    <bizTransaction type="urn:epcglobal:cbv:btt:po"
      >urn:epcglobal:cbv:bt:4012345000009:1</bizTransaction>
  </bizTransactionList>
  <extension><quantityList><quantityElement>
    <epcClass>urn:epc:class:lgtin:4012345.011111.L1</epcClass><quantity>2.50</quantity>
    <uom>KGM</uom></quantityElement></quantityList></extension>
  <errorDeclaration>
    <declarationTime>2026-01-02T00:00:00Z</declarationTime>
    <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
    <correctiveEventIDs><correctiveEventID>urn:uuid:1</correctiveEventID></correctiveEventIDs>
  </errorDeclaration>
  <ex:temperature unit="CEL">4.5</ex:temperature>
  <ex:batch><ex:lot>L1</ex:lot><ex:lot>L2</ex:lot></ex:batch>
</ObjectEvent>"""

OBJECT_EVENT_JSON = {
    "@context": [EPCIS_CONTEXT, {"ex": "https://example.com/ns/"}],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-01-01T00:00:00Z",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-01-01T10:00:00.000+01:00",
                "eventTimeZoneOffset": "+01:00",
                "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
                "bizTransactionList": [
                    {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"}
                ],
                "quantityList": [
                    {
                        "epcClass": "urn:epc:class:lgtin:4012345.011111.L1",
                        "quantity": 2.5,
                        "uom": "KGM",
                    }
                ],
                "errorDeclaration": {
                    "declarationTime": "2026-01-02T00:00:00Z",
                    "reason": "incorrect_data",
                    "correctiveEventIDs": ["urn:uuid:1"],
                },
                # an unprefixed attribute is in no namespace: a plain key
                "ex:temperature": {"unit": "CEL", "#text": "4.5"},
                "ex:batch": {"ex:lot": ["L1", "L2"]},
            }
        ]
    },
}


def test_an_event_reads_as_its_json_ld_form() -> None:
    document = read_document(_doc(OBJECT_EVENT, b'xmlns:ex="https://example.com/ns/"'))
    assert document == OBJECT_EVENT_JSON


def test_a_default_namespace_gets_a_generated_prefix_and_the_same_hash() -> None:
    prefixed = _doc(
        b"<ObjectEvent><eventTime>2026-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00"
        b"</eventTimeZoneOffset><action>OBSERVE</action><ex:note>hi</ex:note></ObjectEvent>",
        b'xmlns:ex="https://example.com/ns/"',
    )
    default = _doc(
        b"<ObjectEvent><eventTime>2026-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00"
        b'</eventTimeZoneOffset><action>OBSERVE</action><note xmlns="https://example.com/ns/">'
        b"hi</note></ObjectEvent>"
    )
    read = read_document(default)
    assert read["@context"] == [EPCIS_CONTEXT, {"ns1": "https://example.com/ns/"}]
    assert read["epcisBody"]["eventList"][0]["ns1:note"] == "hi"
    assert document_hashes(read) == document_hashes(read_document(prefixed))


def test_a_prefix_an_event_rebinds_goes_to_its_own_context() -> None:
    body = _doc(
        b'<ObjectEvent xmlns:ex="https://other.example/"><eventTime>2026-01-01T00:00:00Z'
        b"</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action>"
        b"<ex:note>hi</ex:note><ex:ref>ex:thing</ex:ref></ObjectEvent>",
        b'xmlns:ex="https://example.com/ns/"',
    )
    read = read_document(body)
    event = read["epcisBody"]["eventList"][0]
    assert event["@context"] == [{"ex": "https://other.example/"}]
    prehash = document_prehashes(read)[0]
    assert "{https://other.example/}note=hi" in prehash
    assert "{https://other.example/}ref=https://other.example/thing" in prehash


def test_a_query_document_reads_as_one() -> None:
    body = (
        b'<q:EPCISQueryDocument xmlns:q="urn:epcglobal:epcis-query:xsd:2" schemaVersion="2.0" '
        b'creationDate="2026-01-01T00:00:00Z"><EPCISBody><QueryResults>'
        b"<queryName>SimpleEventQuery</queryName><resultsBody><EventList>"
        + OBJECT_EVENT.replace(b"ex:", b"").replace(b' unit="CEL"', b"")
        + b"</EventList></resultsBody></QueryResults></EPCISBody></q:EPCISQueryDocument>"
    )
    read = read_document(body)
    assert read["type"] == "EPCISQueryDocument"
    results = read["epcisBody"]["queryResults"]
    assert results["queryName"] == "SimpleEventQuery"
    assert len(results["resultsBody"]["eventList"]) == 1


# --- refusals -------------------------------------------------------------------------------


def _refused(body: bytes, **limits: int) -> str | None:
    with pytest.raises(ValidationError) as refused:
        read_document(body, **limits)
    return refused.value.rule


def test_entities_are_never_expanded() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<lolz>&lol2;</lolz>"
    )
    assert _refused(laughs) == "xml.dtd"


def test_nothing_is_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    external = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://'
        + str(secret).encode()
        + b'">]><d>&x;</d>'
    )
    assert _refused(external) == "xml.dtd"
    assert _refused(b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd"><d/>') == "xml.dtd"


def test_a_bare_doctype_is_let_through() -> None:
    document = read_document(b"<!DOCTYPE project>" + _doc(OBJECT_EVENT.replace(b"ex:", b"")))
    assert len(document["epcisBody"]["eventList"]) == 1


def test_depth_size_and_syntax_are_bounded() -> None:
    deep = b"<a>" * 100 + b"</a>" * 100
    assert _refused(deep) == "xml.depth"
    assert _refused(b"<a>" * 100_000 + b"</a>" * 100_000) in ("xml.syntax", "xml.depth")
    assert _refused(_doc(OBJECT_EVENT), max_bytes=100) == "xml.size"
    assert _refused(b"<epcis:EPCISDocument") == "xml.syntax"
    assert _refused(b"\x00\x01") == "xml.syntax"


def test_other_documents_and_versions_are_refused() -> None:
    assert _refused(b"<html/>") == "xml.document"
    legacy = _doc(b"").replace(b'schemaVersion="2.0"', b'schemaVersion="1.2"')
    assert _refused(legacy) == "xml.version"
    assert _refused(_doc(b"<Nonsense/>")) == "xml.event"


@pytest.mark.parametrize("text", [b"INF", b"NaN", b"1e999", b"lots"])
def test_quantities_must_be_finite_numbers(text: bytes) -> None:
    event = OBJECT_EVENT.replace(b"2.50", text)
    assert _refused(_doc(event, b'xmlns:ex="https://example.com/ns/"')) == "xml.number"


@pytest.mark.skipif(not VECTORS.is_dir(), reason=SKIP_REASON)
def test_nil_values_are_absent() -> None:
    examples = VECTORS / "epcis" / "xml" / "examples-2.0"
    path = examples / "WithErrorDeclaration__ErrorDeclarationAndCorrectiveEvent.xml"
    event = _read(path)["epcisBody"]["eventList"][0]
    assert event["inputQuantityList"][0] == {
        "epcClass": "urn:epc:class:lgtin:4012345.022222.87545GHGH"
    }


CBVMDA_JSON = {
    "@context": [EPCIS_CONTEXT],
    "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2020-01-01T00:00:00Z",
    "epcisBody": {"eventList": [{
        "type": "ObjectEvent", "eventTime": "2020-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "action": "ADD",
        "bizStep": "commissioning", "ilmd": {"cbvmda:lotNumber": "L1"},
    }]},
}  # fmt: skip


@pytest.mark.parametrize("namespace", ["urn:epcglobal:cbv:mda", "urn:epcglobal:cbv:mda:"])
def test_cbvmda_in_ilmd_hashes_as_its_json(namespace: str) -> None:
    # The JSON hash of "cbvmda:lotNumber" is "ilmdcbvmda:lotNumber=L1" (the reference's JSON path;
    # stored ids must stay recomputable), so the XML element reads as that JSON key, undeclared
    # in @context, and the XML-captured event gets the JSON event's id.
    xml = (
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
        f'xmlns:cbvmda="{namespace}" schemaVersion="2.0" creationDate="2020-01-01T00:00:00Z">'
        "<EPCISBody><EventList><ObjectEvent><eventTime>2020-01-01T00:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList>"
        "<epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList><action>ADD</action>"
        "<bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>"
        "<ilmd><cbvmda:lotNumber>L1</cbvmda:lotNumber></ilmd></ObjectEvent></EventList>"
        "</EPCISBody></epcis:EPCISDocument>"
    ).encode()
    document = read_document(xml)
    (event,) = document["epcisBody"]["eventList"]
    assert event["ilmd"] == {"cbvmda:lotNumber": "L1"}
    assert document["@context"] == [EPCIS_CONTEXT], "cbvmda keeps the EPCIS context's meaning"
    assert document_prehashes(document)[0].endswith("ilmdcbvmda:lotNumber=L1")
    assert document_hashes(document) == document_hashes(CBVMDA_JSON)


def test_another_namespace_written_cbvmda_gets_a_prefix_of_its_own() -> None:
    xml = (
        b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
        b'xmlns:cbvmda="https://example.com/mine/" schemaVersion="2.0" '
        b'creationDate="2020-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>'
        b"<eventTime>2020-01-01T00:00:00Z</eventTime>"
        b"<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList/><action>OBSERVE</action>"
        b"<cbvmda:note>x</cbvmda:note></ObjectEvent></EventList></EPCISBody>"
        b"</epcis:EPCISDocument>"
    )
    document = read_document(xml)
    (event,) = document["epcisBody"]["eventList"]
    assert event["ns1:note"] == "x"
    assert document["@context"] == [EPCIS_CONTEXT, {"ns1": "https://example.com/mine/"}]
