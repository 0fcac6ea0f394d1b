"""Typed structs (msgspec) for the common EPCIS events: the schema's fastest path.

An ObjectEvent or AggregationEvent made only of the fields a supply chain of packs uses
(identifiers, quantities, action, business step and disposition, read point and business
location, business transactions, sources and destinations, ILMD, event time and id) is checked
by :func:`msgspec.convert` into a struct that states the GS1 definition of its type (types,
required fields, no other field, the URI and date-time formats and patterns as fastjsonschema
reads them), then by the few rules a struct cannot state (:meth:`TypedEvents.accepts`: the CBV
vocabularies, unique EPCs, ``ilmd`` only with ``ADD``, at least one identifier list).

It is a *sufficient* condition, never the judge of a refusal: an event it accepts is one the
GS1 schema accepts; any other event (an extension field, a sensor element, an event's own
``@context``, a value it refuses) goes to the schema itself (fastjsonschema), which accepts or
refuses it and words the error (:mod:`medledger.epcis.schema`). The tests hold it to that on
every vector, valid and invalid, and on mutants of them (tests/medledger/epcis).

The structs stand for one text of the schema: :meth:`TypedEvents.for_schema` builds them only
when every definition they state is the one they were written from (:data:`MODELLED`,
compared by digest), so a changed schema turns this path off and never makes it wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from fastjsonschema.draft04 import DOLLAR_FINDER
from fastjsonschema.draft07 import CodeGeneratorDraft07
from msgspec import UNSET, Meta, Struct, UnsetType

#: The definitions of the GS1 EPCIS 2.0 JSON schema the structs below state, and the digest
#: (SHA-256 of their JSON, keys sorted) of the text they were written from.
MODELLED = (
    "Event",
    "ObjectEvent",
    "AggregationEvent",
    "common-event-properties",
    "vocab-uri",
    "vocab-other-uri",
    "time",
    "uri",
    "id",
    "eventID",
    "epcList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransaction",
    "bizTransaction-type",
    "source",
    "destination",
    "source-dest-type",
    "quantityList",
    "quantityElement",
    "uom",
    "decimal",
    "ilmd",
)
MODELLED_DIGEST = "cddd19a2089232b946107b636620e0dac8d22db6005cbe995bbd4a7aee5dabee"

_FORMATS = CodeGeneratorDraft07.FORMAT_REGEXS


def _pattern(schema_pattern: str) -> str:
    """A schema ``pattern`` as fastjsonschema compiles it (``$`` read as end of text)."""
    return str(DOLLAR_FINDER.sub(r"\\Z", schema_pattern))


# format "uri" and "date-time" (fastjsonschema's regular expressions, anchored at both ends,
# so msgspec's search is fastjsonschema's match) and the schema's patterns, as fastjsonschema
# reads them
_URI = _FORMATS["uri"]
_TIME = _FORMATS["date-time"]
_OFFSET = _pattern("^([+]|[-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)$")
_UOM = _pattern("^[A-Z0-9]{2,3}$")
_NOT_CBV = re.compile(_pattern("^(?!(urn:epcglobal:cbv|https?:\\/\\/ns\\.gs1\\.org/cbv\\/))"))
_URI_RE = re.compile(_URI)

Uri = Annotated[str, Meta(pattern=_URI)]
Time = Annotated[str, Meta(pattern=_TIME)]
Offset = Annotated[str, Meta(pattern=_OFFSET)]
Action = Literal["OBSERVE", "ADD", "DELETE"]


class Location(Struct, forbid_unknown_fields=True):
    """``readPoint`` and ``bizLocation`` (the schema allows more fields: those go the slow way)."""

    id: Uri


class BizTransaction(Struct, forbid_unknown_fields=True):
    bizTransaction: Uri
    type: str | UnsetType = UNSET  # bizTransaction-type: TypedEvents.accepts


class Source(Struct, forbid_unknown_fields=True):
    type: str  # source-dest-type: TypedEvents.accepts
    source: Uri


class Destination(Struct, forbid_unknown_fields=True):
    type: str
    destination: Uri


class QuantityElement(Struct, forbid_unknown_fields=True):
    epcClass: Uri
    quantity: int | float | UnsetType = UNSET  # "number": not a bool
    uom: Annotated[str, Meta(pattern=_UOM)] | UnsetType = UNSET


class _Event(Struct, forbid_unknown_fields=True, tag_field="type"):
    """``Event``: what every event type has (``eventTime`` and its offset required)."""

    action: Action
    eventTime: Time
    eventTimeZoneOffset: Offset
    recordTime: Time | UnsetType = UNSET
    eventID: Uri | UnsetType = UNSET
    bizStep: str | UnsetType = UNSET  # vocabularies: TypedEvents.accepts
    disposition: str | UnsetType = UNSET
    readPoint: Location | UnsetType = UNSET
    bizLocation: Location | UnsetType = UNSET
    bizTransactionList: list[BizTransaction] | UnsetType = UNSET
    sourceList: list[Source] | UnsetType = UNSET
    destinationList: list[Destination] | UnsetType = UNSET


class ObjectEvent(_Event, tag="ObjectEvent"):
    epcList: list[Uri] | UnsetType = UNSET
    quantityList: list[QuantityElement] | UnsetType = UNSET
    ilmd: dict[Uri, Any] | UnsetType = UNSET


class AggregationEvent(_Event, tag="AggregationEvent"):
    parentID: Uri | UnsetType = UNSET
    childEPCs: list[Uri] | UnsetType = UNSET
    childQuantityList: list[QuantityElement] | UnsetType = UNSET


TypedEvent = ObjectEvent | AggregationEvent
_TYPES: dict[str, type[TypedEvent]] = {
    "ObjectEvent": ObjectEvent,
    "AggregationEvent": AggregationEvent,
}


def modelled_digest(definitions: Mapping[str, Any]) -> str:
    """The digest of ``definitions``' :data:`MODELLED` ones (absent ones as null)."""
    text = json.dumps({name: definitions.get(name) for name in MODELLED}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _enum(definitions: Mapping[str, Any], name: str) -> frozenset[str]:
    """The terms of a vocabulary definition (``anyOf``: another URI, or one of the terms)."""
    return frozenset(definitions[name]["anyOf"][1]["enum"])


class TypedEvents:
    """The typed path for one schema: :meth:`accepts` an event the schema accepts, or says no."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self._biz_steps = _enum(definitions, "bizStep")
        self._dispositions = _enum(definitions, "disposition")
        self._transaction_types = _enum(definitions, "bizTransaction-type")
        self._source_types = _enum(definitions, "source-dest-type")

    @classmethod
    def for_schema(cls, schema: Mapping[str, Any]) -> TypedEvents | None:
        """The typed path if ``schema`` has the definitions the structs state, else None."""
        definitions = schema.get("definitions")
        if not isinstance(definitions, dict) or modelled_digest(definitions) != MODELLED_DIGEST:
            return None
        return cls(definitions)

    def accepts(self, event: Any) -> bool:
        """Whether ``event`` is a typed event the schema's definition of its type accepts. False
        says nothing: the schema decides."""
        name = event.get("type") if isinstance(event, dict) else None
        kind = _TYPES.get(name) if isinstance(name, str) else None
        if kind is None:
            return False
        try:
            typed: TypedEvent = msgspec.convert(event, kind)
        except msgspec.ValidationError:
            return False
        if not self._vocabularies(typed):
            return False
        if isinstance(typed, ObjectEvent):
            # anyOf: an identifier list (epcList, or quantityList of at least one); and ilmd
            # only when the action is ADD; epcList's items unique
            epcs = typed.epcList
            if epcs is UNSET:
                if typed.quantityList is UNSET or not typed.quantityList:
                    return False
            elif len(set(epcs)) != len(epcs):
                return False
            return typed.ilmd is UNSET or typed.action == "ADD"
        # AggregationEvent, anyOf: children (at least one), or the action is DELETE
        return bool(typed.childEPCs) or bool(typed.childQuantityList) or typed.action == "DELETE"

    def _vocabularies(self, typed: TypedEvent) -> bool:
        if typed.bizStep is not UNSET and not _term(typed.bizStep, self._biz_steps):
            return False
        if typed.disposition is not UNSET and not _term(typed.disposition, self._dispositions):
            return False
        if typed.bizTransactionList is not UNSET:
            for transaction in typed.bizTransactionList:
                kind = transaction.type
                if kind is not UNSET and not _term(kind, self._transaction_types):
                    return False
        for parties in (typed.sourceList, typed.destinationList):
            if parties is not UNSET:
                for party in parties:
                    if not _term(party.type, self._source_types):
                        return False
        return True


def _term(value: str, terms: frozenset[str]) -> bool:
    """``anyOf``: one of the CBV's bare terms, or a URI outside the CBV's namespaces
    (``vocab-other-uri``)."""
    return value in terms or (
        _URI_RE.match(value) is not None and _NOT_CBV.search(value) is not None
    )
