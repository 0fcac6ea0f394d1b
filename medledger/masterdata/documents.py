"""Master data records from an EPCIS 2.0 JSON-LD document.

Where the vocabularies are: ``epcisHeader.epcisMasterData.vocabularyList`` of an EPCISDocument
or EPCISQueryDocument (EPCIS 2.0 section 9.4, "master data in the header"), and
``epcisBody.vocabularyList`` of an EPCISMasterDataDocument. Each element of a location or product
vocabulary (:mod:`.vocabulary`) is one record; other vocabularies are passed over.

Effective time: the element's own ``<MDA_NAMESPACE>effectiveTime`` attribute if it has one (it is
then no attribute of the record), else the document's ``creationDate``, else the time the caller
gives (the gateway: when it received the document). Attribute ids written as CURIEs expand with
the document's ``@context`` (``cbvmda:name`` is ``urn:epcglobal:cbv:mda#name``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from medledger.epcis.event_hash import context_namespaces
from medledger.errors import ValidationError, echo

from .record import MasterDataRecord, make_record, parse_time
from .vocabulary import EFFECTIVE_TIME, attribute_id, kind_of

#: Elements one document may carry.
MAX_RECORDS = 10_000
_RULE = "masterdata.shape"


def vocabulary_list(document: Mapping[str, Any]) -> tuple[list[Any], str] | None:
    """The document's vocabulary list and its JSON pointer, or None when it has none."""
    if document.get("type") == "EPCISMasterDataDocument":
        body = document.get("epcisBody")
        if isinstance(body, Mapping) and "vocabularyList" in body:
            return _list(body["vocabularyList"], "/epcisBody/vocabularyList"), (
                "/epcisBody/vocabularyList"
            )
    header = document.get("epcisHeader")
    if not isinstance(header, Mapping) or "epcisMasterData" not in header:
        return None
    master = header["epcisMasterData"]
    pointer = "/epcisHeader/epcisMasterData"
    if not isinstance(master, Mapping):
        raise ValidationError("epcisMasterData must be an object", rule=_RULE, pointer=pointer)
    if "vocabularyList" not in master:
        return None
    pointer += "/vocabularyList"
    return _list(master["vocabularyList"], pointer), pointer


def _list(value: Any, pointer: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(f"must be a list, got {echo(value)}", rule=_RULE, pointer=pointer)
    return value


def records_from_document(
    document: Mapping[str, Any], *, received: datetime
) -> list[MasterDataRecord]:
    """The records of a JSON-LD document (none when it has no master data), each once."""
    found = vocabulary_list(document)
    if found is None:
        return []
    vocabularies, base = found
    namespaces = context_namespaces(document.get("@context"))
    created = document.get("creationDate")
    default = parse_time(created, pointer="/creationDate") if created is not None else received
    return records_from_vocabularies(
        vocabularies, base=base, namespaces=namespaces, default_time=default
    )


def records_from_vocabularies(
    vocabularies: list[Any],
    *,
    base: str,
    namespaces: Mapping[str, str],
    default_time: datetime,
) -> list[MasterDataRecord]:
    """The records of a JSON ``vocabularyList`` at JSON pointer ``base`` (XML is read into this
    shape too, :mod:`.xml`)."""
    records: dict[bytes, MasterDataRecord] = {}
    count = 0
    for i, vocabulary in enumerate(vocabularies):
        where = f"{base}/{i}"
        if not isinstance(vocabulary, Mapping) or not isinstance(vocabulary.get("type"), str):
            raise ValidationError("a vocabulary needs a type", rule=_RULE, pointer=where)
        vocabulary_type = attribute_id(vocabulary["type"], namespaces)
        if kind_of(vocabulary_type) is None:
            continue
        elements = _list(
            vocabulary.get("vocabularyElementList", []), f"{where}/vocabularyElementList"
        )
        for j, element in enumerate(elements):
            count += 1
            if count > MAX_RECORDS:
                raise ValidationError(
                    f"a document carries at most {MAX_RECORDS} master data elements",
                    rule="masterdata.size",
                    pointer=base,
                )
            record = _record(
                vocabulary_type,
                element,
                f"{where}/vocabularyElementList/{j}",
                namespaces,
                default_time,
            )
            records.setdefault(record.digest, record)
    return list(records.values())


def _record(
    vocabulary_type: str,
    element: Any,
    pointer: str,
    namespaces: Mapping[str, str],
    default_time: datetime,
) -> MasterDataRecord:
    if not isinstance(element, Mapping) or "id" not in element:
        raise ValidationError("a vocabulary element needs an id", rule=_RULE, pointer=pointer)
    attributes = _list(element.get("attributes", []), f"{pointer}/attributes")
    pairs: list[tuple[str, Any]] = []
    effective = default_time
    for k, attribute in enumerate(attributes):
        where = f"{pointer}/attributes/{k}"
        if not isinstance(attribute, Mapping) or not isinstance(attribute.get("id"), str):
            raise ValidationError("an attribute needs an id", rule=_RULE, pointer=where)
        name = attribute_id(attribute["id"], namespaces)
        if "attribute" not in attribute:
            raise ValidationError(f"attribute {echo(name)} has no value", rule=_RULE, pointer=where)
        if name == EFFECTIVE_TIME:
            effective = parse_time(attribute["attribute"], pointer=f"{where}/attribute")
            continue
        pairs.append((name, attribute["attribute"]))
    children = _list(element.get("children", []), f"{pointer}/children")
    return make_record(
        vocabulary_type,
        element["id"],
        pairs,
        effective_time=effective,
        children=children,
        pointer=pointer,
    )
