"""The ingest benchmark's XML documents (``--format xml`` and ``xml-1.2``) carry the same events as
its JSON ones: read by the gateway's XML capture (GS1's XSDs, 1.2 through GS1's stylesheet), each
event is its JSON twin, field for field, and 2.0 and 1.2 give the JSON document's event hashes
(the ILMD's ``cbvmda`` namespace, ``urn:epcglobal:cbv:mda``, is read as the JSON prefix
``cbvmda:`` the EPCIS context declares, as :mod:`medledger.epcis.xml_read` says)."""

from __future__ import annotations

import json

import pytest

from bench.ingest import Documents
from bench.xml_documents import xml_document
from medledger.epcis.event_hash import document_hashes
from medledger.epcis.xml_capture import read_capture


def test_the_xml_documents_carry_the_json_documents_events() -> None:
    document = json.loads(Documents("T0", size=3).next())
    read = {
        version: read_capture(xml_document(document, version)) for version in ("xml", "xml-1.2")
    }
    for version, twin in read.items():  # 1.2: the ILMD kept by medledger.epcis.legacy
        assert twin["epcisBody"]["eventList"] == document["epcisBody"]["eventList"], version
    hashes = document_hashes(read["xml"])
    assert len(set(hashes)) == 3 and document_hashes(read["xml-1.2"]) == hashes
    assert hashes == document_hashes(document)


def test_a_field_the_writer_does_not_know_is_refused() -> None:
    document = json.loads(Documents("T1", size=1).next())
    document["epcisBody"]["eventList"][0]["bizTransactionList"] = []
    with pytest.raises(ValueError, match="bizTransactionList"):
        xml_document(document, "xml")
