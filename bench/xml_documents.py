"""The ingest benchmark's commissioning events as EPCIS XML: 2.0 (``xml``) and 1.2 (``xml-1.2``).

Writes exactly the fields :func:`medledger.epcis.builders.commission` gives an event (type,
times, EPCs, action, CBV terms, locations, the lot's ILMD), in the order GS1's XSD of each
version wants them; anything else is refused, so a benchmark never measures a document that
quietly lost a field. 2.0 puts ``ilmd`` in the event; 1.2 puts it in the event's
``extension``. CBV terms are written as the URNs XML uses (``urn:epcglobal:cbv:bizstep:...``).
The gateway reads either into the same JSON-LD, with the same event hashes, as the JSON
document (tests/bench/test_xml_documents.py).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

FORMATS = ("json", "xml", "xml-1.2")
CONTENT_TYPES = {
    "json": "application/ld+json",
    "xml": "application/xml",
    "xml-1.2": "application/xml",
}

_NAMESPACES = {"xml": "urn:epcglobal:epcis:xsd:2", "xml-1.2": "urn:epcglobal:epcis:xsd:1"}
_VERSIONS = {"xml": "2.0", "xml-1.2": "1.2"}
_MDA = "urn:epcglobal:cbv:mda"
_FIELDS = frozenset(
    {"type", "eventTime", "eventTimeZoneOffset", "epcList", "action", "bizStep", "disposition",
     "readPoint", "bizLocation", "ilmd"}
)  # fmt: skip


def _element(name: str, text: str) -> str:
    return f"<{name}>{escape(text)}</{name}>"


def _event(event: dict[str, Any], version: str) -> str:
    unknown = set(event) - _FIELDS
    if event.get("type") != "ObjectEvent" or unknown:
        raise ValueError(f"not a benchmark commissioning event: {sorted(unknown)}")
    fields = event.get("ilmd", {})
    if any(not key.startswith("cbvmda:") for key in fields):
        raise ValueError(f"ILMD outside cbvmda: is not written: {sorted(fields)}")
    ilmd = "".join(_element(key, str(value)) for key, value in fields.items())
    parts = [
        _element("eventTime", event["eventTime"]),
        _element("eventTimeZoneOffset", event["eventTimeZoneOffset"]),
        "<epcList>" + "".join(_element("epc", e) for e in event["epcList"]) + "</epcList>",
        _element("action", event["action"]),
        _element("bizStep", f"urn:epcglobal:cbv:bizstep:{event['bizStep']}"),
        _element("disposition", f"urn:epcglobal:cbv:disp:{event['disposition']}"),
        f"<readPoint>{_element('id', event['readPoint']['id'])}</readPoint>",
        f"<bizLocation>{_element('id', event['bizLocation']['id'])}</bizLocation>",
    ]
    if ilmd:
        block = f"<ilmd>{ilmd}</ilmd>"
        parts.append(block if version == "xml" else f"<extension>{block}</extension>")
    return "<ObjectEvent>" + "".join(parts) + "</ObjectEvent>"


def xml_document(document: dict[str, Any], version: str) -> bytes:
    """``document`` (the benchmark's JSON-LD EPCISDocument) as EPCIS ``version`` XML
    (``"xml"``: 2.0, ``"xml-1.2"``: 1.2)."""
    events = "".join(_event(e, version) for e in document["epcisBody"]["eventList"])
    return (
        f'<epcis:EPCISDocument xmlns:epcis="{_NAMESPACES[version]}" xmlns:cbvmda="{_MDA}" '
        f'schemaVersion="{_VERSIONS[version]}" creationDate="{document["creationDate"]}">'
        f"<EPCISBody><EventList>{events}</EventList></EPCISBody></epcis:EPCISDocument>"
    ).encode()
