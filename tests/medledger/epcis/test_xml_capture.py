"""An XML capture body is validated against GS1's XSD of its version (2.0 or 1.2), a 1.2 document
is brought to 2.0 by GS1's own stylesheet, and the result is the JSON-LD a JSON client would send.
The native XSLT processor is loaded only when a 1.2 document arrives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medledger.epcis.event_hash import document_hashes
from medledger.epcis.schema import load_schema
from medledger.epcis.xml_capture import read_capture
from medledger.errors import UnsupportedMediaTypeError, ValidationError
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files

LEGACY_EXAMPLES = vector_files("epcis/xml/examples-1.2", "*.xml")
EXAMPLES = [
    p
    for p in vector_files("epcis/xml/examples-2.0", "*.xml")
    if not p.stem.startswith(("CaptureJob__", "CBV__CBV-11.4", "Mimasu__Example-masterData"))
]
XML_HASH_VECTORS = vector_files("event-hash", "*.xml")
_EVENTS = "/epcis:EPCISDocument/EPCISBody/EventList/"
#: GS1's 1.2 examples that GS1's own stylesheet does not turn into valid 2.0: the XPath (in the
#: converted document) of the first violation of the 2.0 XSD.
LEGACY_REFUSED = {
    # 2.0 AssociationEvents inside the 1.2 EventList's extension, one with childQuantityList
    # after action (and, later, sensorMetaData for 2.0's sensorMetadata)
    "AssociationEvent": _EVENTS + "AssociationEvent[5]/childQuantityList",
    # 1.2's nested <extension><extension><myField> holds an element in no namespace, which 2.0
    # (and JSON-LD, which would have no IRI to name it by) has no place for
    "ObjectEvent": _EVENTS + "ObjectEvent[2]/extension/myField",
}
#: Reference event-hash vectors that GS1's 2.0 XSD refuses (the pure reader still reads them for
#: their hashes, tests/medledger/epcis/test_xml_read.py); the XPath of the first violation.
XSD_REFUSED = {
    # a TransformationEvent with a sensorElementList, which the XSD has only on other events
    "SensorDataExamples": _EVENTS + "TransformationEvent/sensorElementList",
    # QueryResults straight under EPCISBody, not inside a QueryResults-bearing element
    "epcisQueryDocument": "/epcisq:EPCISQueryDocument/EPCISBody/QueryResults",
    # ignoreFields (a repository's annotation) before the standard fields
    "epcisXmlDocHavingEventWithIgnoreFields": None,
    "epcisXmlQueryDocHavingEventWithIgnoreFields": None,
}
OBJECT_EVENT_1_2 = b"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"
  schemaVersion="1.2" creationDate="2020-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>
  <eventTime>2020-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList><action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep></ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""


def _refused(body: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        read_capture(body)
    return refused.value


@pytest.mark.skipif(not EXAMPLES, reason=SKIP_REASON)
@pytest.mark.parametrize("path", EXAMPLES + XML_HASH_VECTORS, ids=lambda p: p.stem)
def test_gs1_2_0_xml_passes_the_2_0_xsd_and_reference_vectors_outside_it_are_refused(
    path: Path,
) -> None:
    if path.stem not in XSD_REFUSED:
        assert read_capture(path.read_bytes())["epcisBody"]
        return
    problem = _refused(path.read_bytes())
    assert problem.rule == "xml.schema"
    assert "line " in str(problem)
    if XSD_REFUSED[path.stem] is not None:
        assert problem.pointer == XSD_REFUSED[path.stem]


@pytest.mark.skipif(not LEGACY_EXAMPLES, reason=SKIP_REASON)
@pytest.mark.parametrize("path", LEGACY_EXAMPLES, ids=lambda p: p.stem)
def test_gs1_1_2_examples_become_2_0_json_ld_the_schema_accepts(path: Path) -> None:
    if path.stem in LEGACY_REFUSED:
        problem = _refused(path.read_bytes())
        assert (problem.rule, problem.pointer) == ("xml.schema", LEGACY_REFUSED[path.stem])
        assert str(problem).startswith("converted to 2.0 by GS1, not valid")
        return
    document = read_capture(path.read_bytes())
    assert document["schemaVersion"] == "2.0"
    load_schema().validate(document)
    events = document["epcisBody"]["eventList"]
    assert events and all(e["type"] == path.stem for e in events)
    assert len(document_hashes(document)) == len(events)


def test_a_1_2_event_hashes_as_its_2_0_twin() -> None:
    twin = OBJECT_EVENT_1_2.replace(b"xsd:1", b"xsd:2").replace(
        b'schemaVersion="1.2"', b'schemaVersion="2.0"'
    )
    assert document_hashes(read_capture(OBJECT_EVENT_1_2)) == document_hashes(read_capture(twin))


def test_a_1_2_object_events_ilmd_is_kept() -> None:
    # 1.2 puts an ObjectEvent's ILMD in its extension; GS1's stylesheet looks for it in the
    # event itself and dropped it (medledger.epcis.legacy lifts it first)
    ilmd = (
        b'<ilmd><cbvmda:lotNumber xmlns:cbvmda="urn:epcglobal:cbv:mda">L1</cbvmda:lotNumber></ilmd>'
    )
    body = OBJECT_EVENT_1_2.replace(
        b"</ObjectEvent>", b"<extension>" + ilmd + b"</extension></ObjectEvent>"
    )
    twin = body.replace(b"xsd:1", b"xsd:2").replace(b'schemaVersion="1.2"', b'schemaVersion="2.0"')
    twin = twin.replace(b"<extension>" + ilmd + b"</extension>", ilmd)
    (event,) = read_capture(body)["epcisBody"]["eventList"]
    assert event["ilmd"] == {"cbvmda:lotNumber": "L1"}  # the prefix it is written with
    assert document_hashes(read_capture(body)) == document_hashes(read_capture(twin))


def test_an_invalid_1_2_document_is_refused_by_the_1_2_xsd_with_its_place() -> None:
    problem = _refused(OBJECT_EVENT_1_2.replace(b"<action>OBSERVE</action>", b""))
    assert problem.rule == "xml.schema"
    assert problem.pointer == "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent/bizStep"
    assert "1.2" in str(problem) and "line 5" in str(problem)


def test_an_invalid_2_0_document_is_refused_by_the_2_0_xsd() -> None:
    body = OBJECT_EVENT_1_2.replace(b"xsd:1", b"xsd:2").replace(b'"1.2"', b'"2.0"')
    problem = _refused(body.replace(b"<action>OBSERVE</action>", b"<action>LOOK</action>"))
    assert (problem.rule, problem.pointer) == (
        "xml.schema",
        "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent/action",
    )


def test_1_2_that_gs1s_stylesheet_does_not_convert_is_415() -> None:
    # the stylesheet matches the root by its qualified name epcis:EPCISDocument only
    other_prefix = (
        OBJECT_EVENT_1_2.replace(b"<epcis:", b"<e:")
        .replace(b"</epcis:", b"</e:")
        .replace(b"xmlns:epcis=", b"xmlns:e=")
    )
    with pytest.raises(UnsupportedMediaTypeError) as refused:
        read_capture(other_prefix)
    assert refused.value.rule == "xml.version"


def test_unreadable_xml_keeps_the_readers_rules() -> None:
    assert _refused(b"<html/>").rule == "xml.document"
    assert _refused(b"<not-closed").rule == "xml.syntax"
    entity = b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
    assert _refused(entity).rule == "xml.dtd"


def test_schema_location_hints_are_not_followed() -> None:
    # a hint naming another schema (here one that does not exist) changes nothing
    hinted = OBJECT_EVENT_1_2.replace(
        b'schemaVersion="1.2"',
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
        b'"urn:epcglobal:epcis:xsd:1 http://127.0.0.1:9/nothing.xsd" schemaVersion="1.2"',
    )
    assert read_capture(hinted)["epcisBody"]["eventList"]


def test_the_domain_imports_without_loading_saxon() -> None:
    code = (
        "import sys, medledger.epcis.xml_capture, medledger.epcis.legacy, gateway.api.app;"
        "assert 'saxonche' not in sys.modules, 'saxonche loaded at import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_1_2_base_extension_gives_the_2_0_event_id_and_error_declaration() -> None:
    # 1.2 keeps eventID and errorDeclaration in baseExtension, which GS1's stylesheet copies
    # where the 2.0 XSD refuses it (medledger.epcis.legacy moves them to their 2.0 place)
    body = OBJECT_EVENT_1_2.replace(
        b"<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>",
        b"<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><baseExtension>"
        b"<eventID>urn:uuid:6d3b3fbe-7a8e-4a8d-9a51-1c0d0b7f6a11</eventID><errorDeclaration>"
        b"<declarationTime>2020-01-02T00:00:00Z</declarationTime><reason>"
        b"urn:epcglobal:cbv:er:incorrect_data</reason></errorDeclaration>"
        b"</baseExtension>",
    )
    (event,) = read_capture(body)["epcisBody"]["eventList"]
    assert event["eventID"] == "urn:uuid:6d3b3fbe-7a8e-4a8d-9a51-1c0d0b7f6a11"
    assert event["errorDeclaration"] == {
        "declarationTime": "2020-01-02T00:00:00Z",
        "reason": "incorrect_data",
    }
