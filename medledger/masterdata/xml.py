"""Master data records from EPCIS XML: an ``EPCISMasterDataDocument`` (its
``EPCISBody/VocabularyList``) or the header of an ``EPCISDocument`` / ``EPCISQueryDocument``
(``EPCISHeader/extension/EPCISMasterData/VocabularyList``), 2.0 or 1.x namespaces alike.

The XML is parsed as the event reader parses it (:func:`medledger.epcis.xml_read.parse`: no DTD,
no entities, no network, bounded size and depth). Each ``Vocabulary`` is read into the JSON
binding's shape (``{"type", "vocabularyElementList": [{"id", "attributes": [{"id",
"attribute"}], "children"}]}``) and then taken as :mod:`.documents` takes JSON: an ``attribute``
with text is that text; one with child elements is an object keyed by each child's expanded name
(``<namespace IRI><local name>``, or the local name alone without a namespace), a repeated child
a list; an empty ``attribute`` is left out. Pointers in errors name that JSON shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from medledger.epcis.xml_read import MAX_BYTES, MAX_DEPTH, parse
from medledger.errors import ValidationError, echo

from .documents import records_from_vocabularies
from .record import MasterDataRecord, parse_time

_MASTERDATA_DOCUMENT = "EPCISMasterDataDocument"
_DOCUMENTS = frozenset({"EPCISDocument", "EPCISQueryDocument", _MASTERDATA_DOCUMENT})


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2] if isinstance(tag, str) else ""


def _children(element: Any, local: str | None = None) -> Iterator[Any]:
    for child in element:
        if isinstance(child.tag, str) and (local is None or _local(child.tag) == local):
            yield child


def _child(element: Any, local: str) -> Any:
    return next(_children(element, local), None)


def vocabulary_elements(root: Any) -> tuple[Any, str] | None:
    """The ``VocabularyList`` element of a parsed document and the pointer it is read at."""
    kind = _local(root.tag)
    if kind not in _DOCUMENTS:
        raise ValidationError(
            f"not an EPCIS document: root element {echo(root.tag)}", rule="xml.document"
        )
    if kind == _MASTERDATA_DOCUMENT:
        body = _child(root, "EPCISBody")
        found = _child(body, "VocabularyList") if body is not None else None
        return (found, "/epcisBody/vocabularyList") if found is not None else None
    header = _child(root, "EPCISHeader")
    if header is None:
        return None
    holder = _child(header, "extension")
    master = _child(holder, "EPCISMasterData") if holder is not None else None
    if master is None:
        master = _child(header, "EPCISMasterData")
    found = _child(master, "VocabularyList") if master is not None else None
    return (found, "/epcisHeader/epcisMasterData/vocabularyList") if found is not None else None


def records_from_xml(
    body: bytes,
    *,
    received: datetime,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> list[MasterDataRecord]:
    """The records of an XML document's master data (none when it has none)."""
    root = parse(body, max_bytes=max_bytes, max_depth=max_depth)
    return records_from_root(root, received=received)


def records_from_root(root: Any, *, received: datetime) -> list[MasterDataRecord]:
    """As :func:`records_from_xml`, for a document already parsed."""
    found = vocabulary_elements(root)
    if found is None:
        return []
    vocabulary_list, base = found
    created = root.get("creationDate")
    default = parse_time(created, pointer="/creationDate") if created is not None else received
    vocabularies = [_vocabulary(v) for v in _children(vocabulary_list, "Vocabulary")]
    return records_from_vocabularies(vocabularies, base=base, namespaces={}, default_time=default)


def vocabulary_json(root: Any) -> list[dict[str, Any]] | None:
    """The JSON binding's ``vocabularyList`` of a parsed document's master data (None when it has
    none): what the gateway puts in the header of the JSON-LD an XML capture is read into."""
    found = vocabulary_elements(root)
    if found is None:
        return None
    return [_vocabulary(v) for v in _children(found[0], "Vocabulary")]


def _vocabulary(element: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": element.get("type")}
    holder = _child(element, "VocabularyElementList")
    items = [] if holder is None else list(_children(holder, "VocabularyElement"))
    out["vocabularyElementList"] = [_element(item) for item in items]
    return out


def _element(element: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": element.get("id")}
    # an empty <attribute id="..."/> says nothing (as GS1's examples write absent values)
    pairs = [(a.get("id"), _value(a)) for a in _children(element, "attribute")]
    out["attributes"] = [{"id": k, "attribute": value} for k, value in pairs if value != ""]
    children = _child(element, "children")
    if children is not None:
        out["children"] = [(c.text or "").strip() for c in _children(children, "id")]
    return out


def _value(element: Any) -> Any:
    inner = list(_children(element))
    if not inner:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in inner:
        tag = str(child.tag)
        key = tag[1:].replace("}", "", 1) if tag.startswith("{") else tag
        value = _value(child)
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out
