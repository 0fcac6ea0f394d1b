"""The master data of a JSON-LD EPCIS document's header as EPCIS XML: ``EPCISHeader/extension/
EPCISMasterData/VocabularyList`` (the same unqualified elements in the 2.0 and 1.2 XSDs).

The inverse of :mod:`medledger.masterdata.xml`, which reads it back into the JSON binding's
shape: ``Vocabulary/@type``, ``VocabularyElement/@id``, each attribute an ``attribute`` element
with its ``id``, ``children/id``. A text value is the element's text; an object is nested
elements, each key an element (``<namespace><local name>`` split at its last ``#``, ``/`` or
``:`` into a namespace and an XML name, or an XML name alone), a list repeated elements. A
number is written as its text (XML has no numbers: it reads back as text, so such a record
changes; :func:`provenance.export.render` checks every record).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from medledger.errors import ValidationError, echo

_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_SPLIT = re.compile(r"^(.*[#/:])([A-Za-z_][A-Za-z0-9_.-]*)$")


def _refuse(message: str, pointer: str) -> ValidationError:
    return ValidationError(message, rule="xml.write", pointer=pointer)


def vocabulary_list(document: Mapping[str, Any]) -> list[Any] | None:
    """The header's ``vocabularyList`` (None when the document has none)."""
    header = document.get("epcisHeader")
    if not isinstance(header, Mapping):
        return None
    master = header.get("epcisMasterData")
    if not isinstance(master, Mapping):
        return None
    found = master.get("vocabularyList")
    return found if isinstance(found, list) and found else None


def write_header(root: Any, vocabularies: list[Any]) -> Any:
    """An ``EPCISHeader`` holding ``vocabularies`` (the JSON binding's list), inserted as the
    first child of ``root`` (an EPCIS document element); the header element."""
    header = etree.Element("EPCISHeader")
    root.insert(0, header)
    holder = etree.SubElement(etree.SubElement(header, "extension"), "EPCISMasterData")
    listing = etree.SubElement(holder, "VocabularyList")
    base = "/epcisHeader/epcisMasterData/vocabularyList"
    for i, vocabulary in enumerate(vocabularies):
        where = f"{base}/{i}"
        if not isinstance(vocabulary, Mapping) or not isinstance(vocabulary.get("type"), str):
            raise _refuse("a vocabulary needs a type", where)
        element = etree.SubElement(listing, "Vocabulary", type=vocabulary["type"])
        items = vocabulary.get("vocabularyElementList") or []
        if not isinstance(items, list):
            raise _refuse("vocabularyElementList must be a list", f"{where}/vocabularyElementList")
        if items:
            holder = etree.SubElement(element, "VocabularyElementList")
            for j, item in enumerate(items):
                _element(holder, item, f"{where}/vocabularyElementList/{j}")
    return header


def _element(parent: Any, item: Any, pointer: str) -> None:
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
        raise _refuse("a vocabulary element needs an id", pointer)
    element = etree.SubElement(parent, "VocabularyElement", id=item["id"])
    for k, attribute in enumerate(item.get("attributes") or []):
        where = f"{pointer}/attributes/{k}"
        if not isinstance(attribute, Mapping) or not isinstance(attribute.get("id"), str):
            raise _refuse("an attribute needs an id", where)
        written = etree.SubElement(element, "attribute", id=attribute["id"])
        _value(written, attribute.get("attribute", ""), f"{where}/attribute")
    children = item.get("children") or []
    if children:
        listed = etree.SubElement(element, "children")
        for child in children:
            etree.SubElement(listed, "id").text = str(child)


def _value(element: Any, value: Any, pointer: str) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            for one in inner if isinstance(inner, list) else [inner]:
                _value(etree.SubElement(element, _tag(str(key), pointer)), one, pointer)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, float) and not math.isfinite(value):
        raise _refuse(f"{value} is not a number XML can carry", pointer)
    else:
        element.text = value if isinstance(value, str) else str(value)


def _tag(key: str, pointer: str) -> str:
    if _NCNAME.fullmatch(key):
        return key
    found = _SPLIT.match(key)
    if found is None:
        raise _refuse(f"{echo(key)} cannot be an XML element name", pointer)
    return f"{{{found.group(1)}}}{found.group(2)}"


SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
#: The receiver an export names in EPCIS 1.2's header: it does not know who will capture it.
UNSPECIFIED = "unspecified"


def standard_business_document_header(*, sender: str | None, created: str, instance: str) -> Any:
    """The Standard Business Document Header EPCIS 1.2 requires first in an ``EPCISHeader``
    (the 2.0 XSD makes it optional): ``sender`` (None: unspecified) names who sends the
    document, the receiver is unspecified, ``instance`` identifies the document, ``created``
    is its creation time."""
    header = etree.Element(f"{{{SBDH}}}StandardBusinessDocumentHeader", nsmap={"sbdh": SBDH})
    etree.SubElement(header, f"{{{SBDH}}}HeaderVersion").text = "1.0"
    for role, name in (("Sender", sender), ("Receiver", None)):
        partner = etree.SubElement(header, f"{{{SBDH}}}{role}")
        identifier = etree.SubElement(partner, f"{{{SBDH}}}Identifier")
        identifier.set("Authority", "CAIP-10" if name else UNSPECIFIED)
        identifier.text = name or UNSPECIFIED
    identification = etree.SubElement(header, f"{{{SBDH}}}DocumentIdentification")
    for field, text in (
        ("Standard", "EPCglobal"),
        ("TypeVersion", "1.2"),
        ("InstanceIdentifier", instance),
        ("Type", "Events"),
        ("CreationDateAndTime", created),
    ):
        etree.SubElement(identification, f"{{{SBDH}}}{field}").text = text
    return header
