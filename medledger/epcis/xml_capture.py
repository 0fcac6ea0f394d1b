"""An EPCIS XML capture body -> the JSON-LD document a JSON client would send.

1. parsed safely (:func:`medledger.epcis.xml_read.parse`: no DTD, entities or network; bounded);
2. an EPCIS 1.x document (``schemaVersion`` 1.x) is validated against GS1's 1.2 XSD and brought
   to 2.0 by GS1's stylesheet (:mod:`medledger.epcis.legacy`, SaxonC-HE, loaded on first use),
   whose result must pass the 2.0 XSD (the message says "converted to 2.0 by GS1": line and
   XPath are then those of the converted document);
   an EPCIS 2.x document is validated against GS1's 2.0 XSD (:mod:`medledger.epcis.xsd`);
   a violation is rule ``xml.schema`` with the element's XPath as pointer and its line;
3. read into JSON-LD (:func:`medledger.epcis.xml_read.read_root`), which then goes through the
   same JSON schema, rules and event hash as JSON; master data in the header
   (``EPCISHeader/extension/EPCISMasterData``) is put in the JSON-LD header
   (``epcisHeader.epcisMasterData``, :func:`medledger.masterdata.xml.vocabulary_json`).

Anything else (no EPCIS root, no ``schemaVersion``) is left to the reader's own refusals
(``xml.document``, ``xml.version``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medledger.epcis import legacy, xml_read, xsd
from medledger.masterdata.xml import vocabulary_json


def read_capture(body: bytes, *, on_version: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The JSON-LD document of an EPCIS 2.0 or 1.2 XML capture body (see the module docstring).

    ``on_version`` is called with the root's ``schemaVersion`` right after parsing, before any
    validation or conversion, to refuse a document by its version (the gateway checks that it
    agrees with the request's ``GS1-EPCIS-Version``)."""
    root = xml_read.parse(body)
    version = xml_read.xml_schema_version(root)
    if on_version is not None:
        on_version(version)
    vocabularies = None
    if version.startswith("1"):
        xsd.validate(root, "1.2")
        vocabularies = vocabulary_json(root) if xml_read.is_epcis_document(root) else None
        root = legacy.to_2_0(root)
        xsd.validate(root, "2.0", converted=True)
    elif version.startswith("2") and xml_read.is_epcis_document(root):
        xsd.validate(root, "2.0")
        vocabularies = vocabulary_json(root)
    document = xml_read.read_root(root)
    if vocabularies is not None:  # master data in the header (docs/masterdata.md)
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    return document
