"""An EPCIS 2.0 JSON-LD document -> EPCIS 2.0 XML, valid under GS1's 2.0 XSD.

The inverse of :mod:`medledger.epcis.xml_read`: reading the XML this module writes gives back
events with the same CBV 2.0 event hashes as the JSON-LD it was written from.

* ``EPCISDocument`` (namespace ``urn:epcglobal:epcis:xsd:2``) and ``EPCISQueryDocument``
  (``urn:epcglobal:epcis-query:xsd:2``, its ``queryResults`` as ``QueryResults``); the root
  carries ``schemaVersion`` and ``creationDate``; the header's master data
  (``epcisHeader.epcisMasterData``) as ``EPCISHeader/extension/EPCISMasterData``
  (:mod:`medledger.epcis.xml_header`); other document-level fields without an XML 2.0 form
  (``id``, the rest of ``epcisHeader``, SBDH-like fields) are not written: they are no part of
  any event;
* every prefix of the document's ``@context`` (an object entry mapping a prefix to an IRI) is a
  namespace declared on the root, an event's own ``@context`` (or that of an object inside it)
  on its element, so extension keys ``prefix:local`` become elements of that namespace and CURIE
  values keep their meaning;
* each event's fields in the order the XSD's sequence for its type requires; standard CBV terms
  of ``bizStep``, ``disposition``, ``persistentDisposition``, error ``reason`` and the
  bizTransaction/source/destination ``type`` as the XML binding's URNs, sensor report
  ``type``/``exception``/``component`` terms as their Web URIs; sensor metadata and reports as
  attributes; user extensions after the standard fields (objects as nested elements, lists as
  repeated elements, ``#text`` as the element's text).

What has no place in the 2.0 XSD is refused, rule ``xml.write``, with its JSON pointer: a
standard field on an event type that does not have it, a field without a namespace outside an
extension, an extension key whose prefix is not declared, a JSON-LD keyword inside an extension,
more than one ``certificationInfo``, a quantity element with extra fields, an object-valued
extension on a sensor metadata or report (attributes only there).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from medledger.epcis.terms import Vocabulary, default_vocabulary
from medledger.epcis.xml_header import vocabulary_list, write_header
from medledger.epcis.xml_read import EPCIS_2, EPCIS_QUERY_2
from medledger.errors import ValidationError, echo

_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Namespaces the writer binds itself (and prefixes it never gives to a user namespace).
_RESERVED_PREFIXES = frozenset({"xml", "xmlns", "xsi"})
# Prefixes a JSON-LD document may use without declaring them (the EPCIS context declares them).
_STANDARD_PREFIXES = {"gs1": "https://gs1.org/voc/", "cbv": "https://ref.gs1.org/cbv/"}
# Further namespace prefixes of the EPCIS 2.0 context: declared on the element whose key uses one
# the document does not declare itself (``cbvmda:countryOfExport`` in an ILMD).
_CONTEXT_PREFIXES = {
    "cbvmda": "urn:epcglobal:cbv:mda",  # the XML binding's namespace (GS1's XML examples)
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "dcterms": "http://purl.org/dc/terms/",
}

_HEAD = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration",
         "certificationInfo")  # fmt: skip
_TAIL = ("sourceList", "destinationList", "sensorElementList", "persistentDisposition")
_WHERE = ("bizStep", "disposition", "readPoint", "bizLocation")
#: Each event type's standard fields in the order of its XSD sequence.
FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "ObjectEvent": (
        *_HEAD, "epcList", "action", *_WHERE, "bizTransactionList", "quantityList", *_TAIL,
        "ilmd",
    ),
    "AggregationEvent": (
        *_HEAD, "parentID", "childEPCs", "action", *_WHERE, "bizTransactionList",
        "childQuantityList", *_TAIL,
    ),
    "TransactionEvent": (
        *_HEAD, "bizTransactionList", "parentID", "epcList", "action", *_WHERE, "quantityList",
        *_TAIL,
    ),
    "TransformationEvent": (
        *_HEAD, "inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList",
        "transformationID", *_WHERE, "bizTransactionList", *_TAIL, "ilmd",
    ),
    "AssociationEvent": (
        *_HEAD, "parentID", "childEPCs", "childQuantityList", "action", *_WHERE,
        "bizTransactionList", *_TAIL,
    ),
}  # fmt: skip
_STANDARD = frozenset(f for fields in FIELD_ORDER.values() for f in fields)
_NOT_WRITTEN = frozenset({"type", "@context"})

_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_PAIR_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
               "destinationList": "destination"}  # fmt: skip
_CBV_URNS = {
    "bizStep": ("bizStep", "urn:epcglobal:cbv:bizstep:"),
    "disposition": ("disposition", "urn:epcglobal:cbv:disp:"),
    "reason": ("errorReason", "urn:epcglobal:cbv:er:"),
    "bizTransaction": ("bizTransactionType", "urn:epcglobal:cbv:btt:"),
    "source": ("sourceDestType", "urn:epcglobal:cbv:sdt:"),
    "destination": ("sourceDestType", "urn:epcglobal:cbv:sdt:"),
}
_SENSOR_TERMS = {"type": "measurementType", "exception": "sensorAlertType",
                 "component": "component"}  # fmt: skip


def write_document(document: Mapping[str, Any], *, vocabulary: Vocabulary | None = None) -> bytes:
    """The EPCIS 2.0 XML (UTF-8, with an XML declaration) of a JSON-LD EPCIS document."""
    root = to_element(document, vocabulary=vocabulary)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def to_element(document: Mapping[str, Any], *, vocabulary: Vocabulary | None = None) -> Any:
    """The root element (lxml) of the EPCIS 2.0 XML of a JSON-LD EPCIS document."""
    return _Writer(vocabulary or default_vocabulary()).document(document)


def _refuse(message: str, pointer: str) -> ValidationError:
    return ValidationError(message, rule="xml.write", pointer=pointer or "/")


def _context_prefixes(context: Any) -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, Mapping):
            for prefix, iri in entry.items():
                if isinstance(iri, str) and _NCNAME.fullmatch(prefix) and ":" in iri:
                    prefixes[prefix] = iri
    return prefixes


class _Writer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    # -- document ----------------------------------------------------------------------------

    def document(self, document: Mapping[str, Any]) -> Any:
        kind = document.get("type")
        if kind not in ("EPCISDocument", "EPCISQueryDocument"):
            raise _refuse(f"not an EPCIS document type: {echo(kind)}", "/type")
        prefixes = _context_prefixes(document.get("@context"))
        for prefix, iri in _STANDARD_PREFIXES.items():
            if prefix not in prefixes and iri not in prefixes.values():
                prefixes[prefix] = iri
        own = "epcisq" if kind == "EPCISQueryDocument" else "epcis"
        while own in prefixes or own in _RESERVED_PREFIXES:
            own += "x"
        namespace = EPCIS_QUERY_2 if kind == "EPCISQueryDocument" else EPCIS_2
        nsmap: dict[str, str] = {
            own: namespace,
            **{p: i for p, i in prefixes.items() if p not in _RESERVED_PREFIXES},
        }
        root = etree.Element(f"{{{namespace}}}{kind}", nsmap=nsmap)
        root.set("schemaVersion", str(document.get("schemaVersion", "2.0")))
        created = document.get("creationDate")
        if not isinstance(created, str):
            raise _refuse("an EPCIS document needs a creationDate", "/creationDate")
        root.set("creationDate", created)
        body = document.get("epcisBody")
        if not isinstance(body, Mapping):
            raise _refuse("the document has no epcisBody", "/epcisBody")
        vocabularies = vocabulary_list(document)
        if vocabularies is not None:
            write_header(root, vocabularies)
        xml_body = etree.SubElement(root, "EPCISBody")
        if kind == "EPCISQueryDocument":
            self.query_results(xml_body, body.get("queryResults"), prefixes, namespace)
        else:
            self.event_list(xml_body, body.get("eventList", []), prefixes, "/epcisBody/eventList")
        self.top_extensions(root, document, prefixes, "")
        return root

    def top_extensions(
        self, element: Any, holder: Mapping[str, Any], ns: dict[str, str], pointer: str
    ) -> None:
        """A document's (or query result's) extension fields; ``prefix:ignoreFields`` (a list of
        field names) as :mod:`~medledger.epcis.xml_read` reads it: one empty element per name."""
        for key, value in holder.items():
            if ":" not in key:
                continue
            if key.partition(":")[2] == "ignoreFields" and isinstance(value, list):
                fields = etree.SubElement(element, _qualified(key, ns, f"{pointer}/{key}"))
                for i, name in enumerate(value):
                    etree.SubElement(fields, _qualified(str(name), ns, f"{pointer}/{key}/{i}"))
            else:
                self.extension(element, key, value, ns, f"{pointer}/{key}")

    def query_results(self, parent: Any, results: Any, ns: dict[str, str], q: str) -> None:
        pointer = "/epcisBody/queryResults"
        if not isinstance(results, Mapping):
            raise _refuse("the query document has no queryResults", pointer)
        element = etree.SubElement(parent, f"{{{q}}}QueryResults")
        _text(etree.SubElement(element, "queryName"), results.get("queryName", ""))
        if "subscriptionID" in results:
            _text(etree.SubElement(element, "subscriptionID"), results["subscriptionID"])
        body = etree.SubElement(element, "resultsBody")
        events = results.get("resultsBody", {}).get("eventList", [])
        self.event_list(body, events, ns, f"{pointer}/resultsBody/eventList", always=True)
        self.top_extensions(element, results, ns, pointer)

    def event_list(
        self, parent: Any, events: Any, ns: dict[str, str], pointer: str, *, always: bool = False
    ) -> None:
        if not isinstance(events, list):
            raise _refuse("eventList must be a list", pointer)
        if not events and not always:
            return
        element = etree.SubElement(parent, "EventList")
        for i, event in enumerate(events):
            self.event(element, event, ns, f"{pointer}/{i}")

    # -- events ------------------------------------------------------------------------------

    def event(self, parent: Any, event: Any, ns: dict[str, str], pointer: str) -> None:
        kind = event.get("type") if isinstance(event, Mapping) else None
        order = FIELD_ORDER.get(kind) if isinstance(kind, str) else None
        if order is None:
            raise _refuse(f"not an EPCIS event type: {echo(kind)}", f"{pointer}/type")
        own = _context_prefixes(event.get("@context"))
        element = etree.SubElement(parent, str(kind), nsmap=_declared(own, ns))
        ns = {**ns, **own}
        for key in event:
            if key in _NOT_WRITTEN or key in order or ":" in key:
                continue
            where = "of this event type" if key in _STANDARD else "without a namespace"
            raise _refuse(f"{echo(key)}: no place in EPCIS 2.0 XML {where}", f"{pointer}/{key}")
        for name in order:
            if name in event:
                self.field(element, name, event[name], ns, f"{pointer}/{name}")
        for key, value in event.items():
            if ":" in key:
                self.extension(element, key, value, ns, f"{pointer}/{key}")

    def field(self, parent: Any, name: str, value: Any, ns: dict[str, str], pointer: str) -> None:
        if name in _EPC_LISTS:
            element = etree.SubElement(parent, name)
            for item in _items(value, pointer):
                _text(etree.SubElement(element, "epc"), item)
        elif name in _QUANTITY_LISTS:
            element = etree.SubElement(parent, name)
            for i, item in enumerate(_items(value, pointer)):
                self.quantity(element, item, f"{pointer}/{i}")
        elif name in _PAIR_LISTS:
            element = etree.SubElement(parent, name)
            for i, item in enumerate(_items(value, pointer)):
                self.pair(element, _PAIR_LISTS[name], item, f"{pointer}/{i}")
        elif name in ("readPoint", "bizLocation"):
            self.location(parent, name, value, ns, pointer)
        elif name == "persistentDisposition":
            element = etree.SubElement(parent, name)
            mapping = _mapping(value, pointer)
            for part in ("unset", "set"):  # the XSD's order
                for item in _items(mapping.get(part, []), f"{pointer}/{part}"):
                    _text(etree.SubElement(element, part), self.urn("disposition", item))
        elif name == "ilmd":
            element = etree.SubElement(parent, name)
            self.extensions_of(element, _mapping(value, pointer), ns, pointer)
        elif name == "sensorElementList":
            element = etree.SubElement(parent, name)
            for i, item in enumerate(_items(value, pointer)):
                self.sensor_element(element, item, ns, f"{pointer}/{i}")
        elif name == "errorDeclaration":
            self.error_declaration(parent, _mapping(value, pointer), ns, pointer)
        elif name == "certificationInfo":
            values = value if isinstance(value, list) else [value]
            if len(values) != 1:
                raise _refuse("EPCIS 2.0 XML has room for one certificationInfo", pointer)
            _text(etree.SubElement(parent, name), values[0])
        elif name in ("bizStep", "disposition"):
            _text(etree.SubElement(parent, name), self.urn(name, value))
        else:
            _text(etree.SubElement(parent, name), value)

    def urn(self, field: str, value: Any) -> Any:
        """A standard bare CBV term of ``field`` as the XML binding's URN; anything else as is."""
        kind, urn = _CBV_URNS[field]
        if isinstance(value, str) and ":" not in value and kind in self.vocabulary.tables:
            if self.vocabulary.expand(kind, value) is not value:
                return urn + value
        return value

    def quantity(self, parent: Any, item: Any, pointer: str) -> None:
        mapping = _mapping(item, pointer)
        extra = set(mapping) - {"epcClass", "quantity", "uom"}
        if extra:
            raise _refuse(
                f"a quantity element has no room for {echo(sorted(extra))} in EPCIS 2.0 XML",
                pointer,
            )
        element = etree.SubElement(parent, "quantityElement")
        for name in ("epcClass", "quantity", "uom"):
            if name in mapping:
                value = mapping[name]
                text = _decimal(value) if name == "quantity" else value
                _text(etree.SubElement(element, name), text)

    def pair(self, parent: Any, name: str, item: Any, pointer: str) -> None:
        mapping = _mapping(item, pointer)
        element = etree.SubElement(parent, name)
        if "type" in mapping:
            element.set("type", _scalar(self.urn(name, mapping["type"])))
        _text(element, mapping.get(name, ""))

    def location(
        self, parent: Any, name: str, value: Any, ns: dict[str, str], pointer: str
    ) -> None:
        mapping = _mapping(value, pointer)
        element = etree.SubElement(parent, name)
        _text(etree.SubElement(element, "id"), mapping.get("id", ""))
        for key, item in mapping.items():
            if key == "id":
                continue
            if ":" not in key:
                raise _refuse(f"{echo(key)}: no place in EPCIS 2.0 XML", f"{pointer}/{key}")
            self.extension(element, key, item, ns, f"{pointer}/{key}")

    def error_declaration(
        self, parent: Any, mapping: Mapping[str, Any], ns: dict[str, str], pointer: str
    ) -> None:
        element = etree.SubElement(parent, "errorDeclaration")
        for key, value in mapping.items():
            if key == "declarationTime":
                _text(etree.SubElement(element, key), value)
            elif key == "reason":
                _text(etree.SubElement(element, key), self.urn("reason", value))
            elif key == "correctiveEventIDs":
                ids = etree.SubElement(element, key)
                for item in _items(value, f"{pointer}/{key}"):
                    _text(etree.SubElement(ids, "correctiveEventID"), item)
            elif ":" in key:
                self.extension(element, key, value, ns, f"{pointer}/{key}")
            else:
                raise _refuse(f"{echo(key)}: no place in EPCIS 2.0 XML", f"{pointer}/{key}")

    def sensor_element(self, parent: Any, item: Any, ns: dict[str, str], pointer: str) -> None:
        mapping = _mapping(item, pointer)
        element = etree.SubElement(parent, "sensorElement")
        if "sensorMetadata" in mapping:
            metadata = etree.SubElement(element, "sensorMetadata")
            self.attributes(metadata, mapping["sensorMetadata"], ns, f"{pointer}/sensorMetadata")
        for i, report in enumerate(_items(mapping.get("sensorReport", []), pointer)):
            child = etree.SubElement(element, "sensorReport")
            self.attributes(child, report, ns, f"{pointer}/sensorReport/{i}")
        for key, value in mapping.items():
            if key in ("sensorMetadata", "sensorReport"):
                continue
            if ":" not in key:
                raise _refuse(f"{echo(key)}: no place in EPCIS 2.0 XML", f"{pointer}/{key}")
            self.extension(element, key, value, ns, f"{pointer}/{key}")

    def attributes(self, element: Any, value: Any, ns: dict[str, str], pointer: str) -> None:
        for key, item in _mapping(value, pointer).items():
            if isinstance(item, Mapping | list):
                raise _refuse(
                    f"{echo(key)}: a sensor metadata or report field is an XML attribute, "
                    "never an object or a list", f"{pointer}/{key}",
                )  # fmt: skip
            if key in _SENSOR_TERMS and isinstance(item, str):
                item = self.vocabulary.expand(_SENSOR_TERMS[key], item)
            element.set(_qualified(key, ns, f"{pointer}/{key}"), _scalar(item))

    # -- extensions --------------------------------------------------------------------------

    def extensions_of(
        self, element: Any, mapping: Mapping[str, Any], ns: dict[str, str], pointer: str
    ) -> None:
        for key, value in mapping.items():
            if key == "@context":
                continue
            if ":" not in key:
                raise _refuse(f"{echo(key)}: no place in EPCIS 2.0 XML", f"{pointer}/{key}")
            self.extension(element, key, value, ns, f"{pointer}/{key}")

    def extension(
        self, parent: Any, key: str, value: Any, ns: dict[str, str], pointer: str
    ) -> None:
        """``key: value`` as elements of ``parent``: a list as repeated elements, an object as
        an element of elements (``#text`` its text), a scalar as text."""
        if key.startswith("@"):
            raise _refuse(f"{echo(key)}: a JSON-LD keyword has no XML form here", pointer)
        if key in ("#text",):
            return
        prefix = key.partition(":")[0]
        added: dict[str, str] = {}
        if ":" in key and prefix not in ns and prefix in _CONTEXT_PREFIXES:
            added = {prefix: _CONTEXT_PREFIXES[prefix]}
        tag = _qualified(key, {**ns, **added}, pointer)
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.extension(parent, key, item, ns, f"{pointer}/{i}")
            return
        if isinstance(value, Mapping):
            own = {**added, **_context_prefixes(value.get("@context"))}
            element = etree.SubElement(parent, tag, nsmap=_declared(own, ns))
            inner = {**ns, **own}
            for name, item in value.items():
                if name == "@context":
                    continue
                if name == "#text":
                    element.text = _scalar(item)
                else:
                    self.extension(element, name, item, inner, f"{pointer}/{name}")
            return
        _text(etree.SubElement(parent, tag, nsmap=_declared(added, ns)), value)


def _declared(own: dict[str, str], ns: dict[str, str]) -> dict[str, str] | None:
    fresh: dict[str, str] = {
        p: i for p, i in own.items() if ns.get(p) != i and p not in _RESERVED_PREFIXES
    }
    return fresh or None


def _qualified(key: str, ns: dict[str, str], pointer: str) -> str:
    prefix, colon, local = key.partition(":")
    if not colon:
        if not _NCNAME.fullmatch(key):
            raise _refuse(f"{echo(key)} is not an XML name", pointer)
        return key
    iri = ns.get(prefix)
    if iri is None or not _NCNAME.fullmatch(local):
        raise _refuse(f"{echo(key)}: its prefix is not declared in the @context", pointer)
    return f"{{{iri}}}{local}"


def _mapping(value: Any, pointer: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _refuse("an object is expected here", pointer)
    return value


def _items(value: Any, pointer: str) -> list[Any]:
    if not isinstance(value, list):
        raise _refuse("a list is expected here", pointer)
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise _refuse(f"{value} is not a number XML can carry", "/")
    return value if isinstance(value, str) else str(value)


def _decimal(value: Any) -> Any:
    # xsd:decimal has no exponent: 1e-05 -> 0.00001
    if isinstance(value, float) and math.isfinite(value) and "e" in repr(value):
        return format(Decimal(repr(value)), "f")
    return value


def _text(element: Any, value: Any) -> None:
    element.text = _scalar(value)
