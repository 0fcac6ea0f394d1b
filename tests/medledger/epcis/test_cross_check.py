"""Our CBV 2.0 event hash against another implementation (issue 16, point 5): the reference
``epcis-event-hash-generator`` (PyPI, test-only, in the dev extra) over every JSON-LD document in
``../shared/vectors``, every event. Where the two differ, :data:`DIFFERENCES` says why; the test
fails if a listed difference goes away (the table must stay true) or an unlisted one appears.
:data:`XML_DIFFERENCES` lists where the reference's XML path parts from its JSON path and ours
follows the JSON path (an XML-captured event gets the id of its JSON form).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medledger.epcis.event_hash import document_hashes
from medledger.epcis.xml_read import read_document
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files
from tests.medledger.epcis.test_xml_read import CBVMDA_JSON

reference = pytest.importorskip(
    "epcis_event_hash_generator.hash_generator", reason="the dev extra is not installed"
)
reading = pytest.importorskip("epcis_event_hash_generator.events_from_file_reader")
json_to_py = pytest.importorskip("epcis_event_hash_generator.json_to_py")

# the reference opens its bundled contexts with importlib.resources.open_text (deprecated)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DOCUMENTS = [
    *vector_files("epcis/gs1-examples", "*.jsonld"),
    *vector_files("event-hash", "*.jsonld"),
]

#: Where the reference (1.9.3) and our hash part, and why: the reference is older than or wrong
#: against the CBV 2.0 algorithm there (our hashes match every ``.hashes`` file, and the indexer
#: and ``provenance verify`` recompute ours).
DIFFERENCES: dict[str, str] = {
    "WithFullCombinationOfFields__aggregation_event_all_possible_fields": (
        "the reference keeps the CURIE value 'cbv:Comp-latitude' of a sensorReport's component "
        "as it is; the CBV 2.0 algorithm expands a compact URI whose prefix the @context "
        "declares (the EPCIS context declares cbv:), as ours does (epcisEventWithCURIEs)"
    ),
    "WithFullCombinationOfFields__transformation_event_all_possible_fields": (
        "the reference cannot read it: pyld refuses the document's context (it redefines "
        "'cbvmda', a term the EPCIS 2.0 context protects); the GS1 schema accepts it, and "
        "the event hash needs no JSON-LD expansion of the document"
    ),
    "Example-TransactionEvents-2020_07_03y": (
        "the reference cannot read it: its @context defines terms with objects "
        "({'@type': '@id'}), which the reference takes for prefixes (TypeError)"
    ),
    "epcisQueryDocument": (
        "the reference reads no EPCISQueryDocument in JSON (KeyError 'event'); ours gives "
        "the .hashes file's hashes"
    ),
    "epcisQueryDocHavingEventWithIgnoreFields": (
        "the reference reads no EPCISQueryDocument in JSON (KeyError 'event')"
    ),
}


@pytest.fixture(autouse=True)
def quiet_reference() -> Iterator[None]:
    """The reference logs every event it cannot read at ERROR; the verdict is the test's."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def reference_hashes(path: Path) -> list[str] | str:
    """The reference's hashes of every event of ``path``, or why it could not give them."""
    json_to_py._namespaces.clear()  # its prefixes are global: a document's leak into the next
    try:
        hashes: list[str] = reference.epcis_hashes_from_events(
            reading.event_list_from_file(str(path))
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the other implementation is a finding
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return hashes


@pytest.mark.skipif(not DOCUMENTS, reason=SKIP_REASON)
@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.stem for p in DOCUMENTS])
def test_our_event_hash_agrees_with_the_reference_implementation(path: Path) -> None:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    ours = document_hashes(document)
    theirs = reference_hashes(path)
    if path.stem in DIFFERENCES:
        assert theirs != ours, f"no longer differs: drop it from DIFFERENCES ({path.stem})"
    else:
        assert theirs == ours


#: Where the reference's own XML and JSON paths part and ours follows its JSON path, and why (an
#: XML event must get the id of the JSON a JSON client sends for it: one event, one id).
XML_DIFFERENCES: dict[str, str] = {
    "cbvmda in ILMD": (
        "<cbvmda:lotNumber> (namespace urn:epcglobal:cbv:mda) hashes as "
        "'{urn:epcglobal:cbv:mda}lotNumber=L1' on the reference's XML path, while its JSON path "
        'hashes the JSON form {"cbvmda:lotNumber": "L1"} as \'cbvmda:lotNumber=L1\', and so '
        "does ours (stored event ids must stay recomputable): medledger.epcis.xml_read reads the "
        "element as the JSON key cbvmda:lotNumber, so the XML event gets the JSON event's hash"
    ),
}
CBVMDA_XML = b"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"
 xmlns:cbvmda="urn:epcglobal:cbv:mda" schemaVersion="2.0" creationDate="2020-01-01T00:00:00Z">
<EPCISBody><EventList><ObjectEvent><eventTime>2020-01-01T00:00:00Z</eventTime>
<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
<epcList><epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList><action>ADD</action>
<bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
<ilmd><cbvmda:lotNumber>L1</cbvmda:lotNumber></ilmd></ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""


def test_cbvmda_in_ilmd_follows_the_references_json_path_not_its_xml_path(tmp_path: Path) -> None:
    assert "cbvmda in ILMD" in XML_DIFFERENCES
    xml_file = tmp_path / "cbvmda.xml"
    xml_file.write_bytes(CBVMDA_XML)
    ours_from_xml = document_hashes(read_document(CBVMDA_XML))
    json_file = tmp_path / "cbvmda.jsonld"
    json_file.write_text(json.dumps(CBVMDA_JSON), encoding="utf-8")
    assert ours_from_xml == document_hashes(CBVMDA_JSON) == reference_hashes(json_file)
    theirs_from_xml = reference_hashes(xml_file)
    assert isinstance(theirs_from_xml, list) and theirs_from_xml != ours_from_xml
