"""EPCIS 2.0 XML -> the JSON-LD document a JSON client would send for the same events.

The gateway captures JSON-LD; an XML document (the EPCIS 2.0 XML binding, namespace
``urn:epcglobal:epcis:xsd:2``, or an ``EPCISQueryDocument`` in ``urn:epcglobal:epcis-query:xsd:2``)
is read into that shape and then goes through the same schema, rules and event hash:

* the root's ``schemaVersion`` and ``creationDate``; ``type`` from the root element; the header
  (``EPCISHeader``: SBDH, master data) is not carried (master data is issue 17);
* each event of ``EventList`` (an ``extension`` wrapper, as 1.x wrote Transformation events,
  is looked through) with ``type`` from its element name; standard fields take their JSON shape
  (``epcList`` a list of strings, ``quantity`` a number, ``readPoint`` ``{"id": ...}``,
  ``bizTransactionList`` ``[{"type", "bizTransaction"}]``, ``persistentDisposition``
  ``{"set": [...], "unset": [...]}``, sensor metadata and reports from their attributes,
  ``errorDeclaration`` with ``correctiveEventIDs``), texts verbatim (the event hash
  canonicalises times, numbers and identifiers);
* an element (or attribute) in a user namespace becomes the key ``prefix:local``; every
  namespace the document declares (but the EPCIS and XML Schema ones) is a prefix of the
  document's ``@context``, after the EPCIS context URL (as GS1's JSON examples write it), so
  CURIE values expand as they do in the XML; a namespace declared deeper than the event keeps
  the prefix it is written with where that prefix is free; a namespace without a usable prefix
  (a default namespace, a prefix rebound to another IRI inside the document) gets a generated
  one (``ns1``, ``ns2`` ... in document order: the hash uses the IRI, never the prefix); a
  prefix an event declares itself goes to that event's own ``@context``; the CBV master-data
  namespace (``urn:epcglobal:cbv:mda``) is the EPCIS context's ``cbvmda:`` prefix, never declared
  (:data:`CBV_MDA`);
* an ``EPCISDocument`` in the 1.x namespace with ``schemaVersion="2.0"`` (as the reference event
  hash vectors are written) is read as 2.0; a 1.x document (``schemaVersion`` 1.x) is refused,
  rule ``xml.version``, as an :class:`UnsupportedMediaTypeError`: 1.2 is first converted by
  GS1's stylesheet (:mod:`medledger.epcis.legacy`, through :mod:`medledger.epcis.xml_capture`).

Parsing is safe by construction: no DTD (one that is external or declares anything is refused,
rule ``xml.dtd``; a bare ``<!DOCTYPE name>`` declares nothing and passes), no entity expansion,
no network, no XInclude; the body is bounded in bytes (``xml.size``) and elements in depth
(``xml.depth``; libxml2 itself stops at 256 without its huge-tree option); numbers must be
finite (``xml.number``). Malformed XML is rule ``xml.syntax``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from lxml import etree

from medledger.errors import UnsupportedMediaTypeError, ValidationError, echo

EPCIS_2 = "urn:epcglobal:epcis:xsd:2"
EPCIS_1 = "urn:epcglobal:epcis:xsd:1"
EPCIS_QUERY_2 = "urn:epcglobal:epcis-query:xsd:2"
EPCIS_QUERY_1 = "urn:epcglobal:epcis-query:xsd:1"
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XML = "http://www.w3.org/XML/1998/namespace"
# Namespaces of the XML binding itself: never JSON-LD prefixes (``epcis`` must keep its meaning).
_BINDING = frozenset({
    EPCIS_1, EPCIS_2, EPCIS_QUERY_1, EPCIS_QUERY_2, _XSI, _XML,
    "urn:epcglobal:epcis-masterdata:xsd:1", "urn:epcglobal:epcis-masterdata:xsd:2",
    "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader",
})  # fmt: skip
#: CBV master data (``cbvmda:lotNumber`` in an ILMD): in XML the namespace
#: ``urn:epcglobal:cbv:mda``, in JSON-LD the prefix ``cbvmda`` the EPCIS context declares. Read as
#: ``cbvmda:local`` and never declared in the document's ``@context``, so an XML event is the JSON
#: a JSON client sends and gets its hash (``ilmdcbvmda:lotNumber=...``, as the reference's JSON
#: path), not the expanded ``{urn:epcglobal:cbv:mda}lotNumber`` of the reference's XML path.
CBV_MDA_PREFIX = "cbvmda"
CBV_MDA = frozenset({"urn:epcglobal:cbv:mda", "urn:epcglobal:cbv:mda:"})
_DOCUMENTS = {
    (EPCIS_2, "EPCISDocument"): "EPCISDocument",
    (EPCIS_1, "EPCISDocument"): "EPCISDocument",
    (EPCIS_QUERY_2, "EPCISQueryDocument"): "EPCISQueryDocument",
    (EPCIS_QUERY_1, "EPCISQueryDocument"): "EPCISQueryDocument",
}
EVENT_TYPES = frozenset({
    "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
    "AssociationEvent",
})  # fmt: skip

#: Bytes of XML read at most (the gateway's body limit applies before this).
MAX_BYTES = 64 * 1024 * 1024
#: Element nesting read at most (an EPCIS event document nests about ten).
MAX_DEPTH = 64

_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_PAIR_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
               "destinationList": "destination"}  # fmt: skip
_LOCATIONS = frozenset({"readPoint", "bizLocation"})
_NUMBER_ATTRIBUTES = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)


def parse(body: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The root element of an XML body, parsed safely (see the module docstring)."""
    if len(body) > max_bytes:
        raise ValidationError(f"the XML document is larger than {max_bytes} bytes", rule="xml.size")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ValidationError(f"not well-formed XML: {echo(str(exc))}", rule="xml.syntax") from exc
    _refuse_dtd(root.getroottree().docinfo)
    _check_depth(root, max_depth)
    return root


def _refuse_dtd(docinfo: Any) -> None:
    # A bare ``<!DOCTYPE name>`` (as some GS1 examples have) declares nothing and is let
    # through; a DTD that is external or declares anything (entities above all) is refused.
    dtd = docinfo.internalDTD
    declares = dtd is not None and (any(dtd.iterelements()) or any(dtd.iterentities()))
    if docinfo.system_url or docinfo.public_id or declares:
        raise ValidationError(
            "an XML document with a DTD (external, or declaring elements or entities) is not read",
            rule="xml.dtd",
        )


def _check_depth(root: Any, max_depth: int) -> None:
    # iterative: no input can exhaust the stack here, and the reader below recurses at most
    # max_depth deep
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise ValidationError(
                f"the XML document nests deeper than {max_depth} elements", rule="xml.depth"
            )
        for child in element:
            if isinstance(child.tag, str):
                stack.append((child, depth + 1))
            else:  # an entity reference left unexpanded
                raise ValidationError("XML entities are not read", rule="xml.dtd")


def read_document(
    body: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """The JSON-LD document (a dict as ``json.loads`` gives it) of an EPCIS 2.0 XML body."""
    return read_root(parse(body, max_bytes=max_bytes, max_depth=max_depth))


def read_root(root: Any) -> dict[str, Any]:
    """The JSON-LD document of an EPCIS 2.0 XML document already parsed by :func:`parse`."""
    return _Reader(root).document()


def is_epcis_document(root: Any) -> bool:
    """Whether ``root`` is an ``EPCISDocument`` or ``EPCISQueryDocument`` (1.x or 2.0)."""
    return _split(root.tag) in _DOCUMENTS


def xml_schema_version(root: Any) -> str:
    """The root's ``schemaVersion`` attribute ("" when absent)."""
    return str(root.get("schemaVersion", "")).strip()


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


class _Reader:
    def __init__(self, root: Any) -> None:
        self.root = root
        namespace, local = _split(root.tag)
        kind = _DOCUMENTS.get((namespace, local))
        if kind is None:
            raise ValidationError(
                f"not an EPCIS 2.0 document: root element {echo(root.tag)}", rule="xml.document"
            )
        self.kind = kind
        version = xml_schema_version(root)
        if not version.startswith("2"):
            raise UnsupportedMediaTypeError(
                f"EPCIS {echo(version or 'without schemaVersion')} XML is not read here: "
                "EPCIS 2.0 only (1.2 is converted first, medledger.epcis.xml_capture)",
                rule="xml.version",
            )
        # prefix -> IRI of the document's @context, and IRI -> the prefix keys are written with
        self.prefixes: dict[str, str] = {}
        self.names: dict[str, str] = dict.fromkeys(CBV_MDA, CBV_MDA_PREFIX)
        self._generated = 0
        self._declare(root.nsmap, self.prefixes)

    # -- namespaces ------------------------------------------------------------------------

    def _declare(self, nsmap: dict[str | None, str], into: dict[str, str]) -> None:
        for prefix, iri in nsmap.items():
            if prefix is None or iri in _BINDING or prefix in into or _mda(prefix, iri):
                continue
            if prefix in self.prefixes and self.prefixes[prefix] != iri:
                continue  # rebound: keys of this IRI get a generated prefix
            into[prefix] = iri
            self.names.setdefault(iri, prefix)

    def _prefix(self, iri: str, written: str | None = None) -> str:
        name = self.names.get(iri)
        if name is None and written and written not in self.prefixes and written != CBV_MDA_PREFIX:
            # declared below the root and the event (as SaxonC writes GS1's stylesheet's
            # output: on each element that uses it): the prefix it is written with, if free
            name = written
            self.prefixes[name] = iri
            self.names[iri] = name
        if name is None:
            taken = set(self.prefixes)
            while name is None or name in taken:
                self._generated += 1
                name = f"ns{self._generated}"
            self.prefixes[name] = iri
            self.names[iri] = name
        return name

    def key(self, tag: str, written: str | None = None) -> str:
        namespace, local = _split(tag)
        if not namespace or namespace in _BINDING:
            return local
        return self._prefix(namespace, written) + ":" + local

    # -- document ----------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"@context": None, "type": self.kind}
        for name in ("schemaVersion", "creationDate"):
            value = self.root.get(name)
            if value is not None:
                out[name] = value
        for attr, value in self.root.attrib.items():
            namespace, _ = _split(attr)
            if namespace and namespace not in _BINDING:
                out[self.key(attr)] = value
        body: dict[str, Any] | None = None
        for child in _elements(self.root):
            namespace, local = _split(child.tag)
            if local == "EPCISBody" and (not namespace or namespace in _BINDING):
                body = self.body(child)
            elif local == "resultsBody" and self.kind == "EPCISQueryDocument":
                # a query document written without EPCISBody/QueryResults (as one reference
                # event hash vector is): its query results are the root's own children
                body = self.body(self.root)
            elif namespace and namespace not in _BINDING:
                out[self.key(child.tag, child.prefix)] = self.extension(child, top=True)
        if body is None:
            raise ValidationError("the XML document has no EPCISBody", rule="xml.document")
        out["epcisBody"] = body
        context: list[Any] = [EPCIS_CONTEXT]
        if self.prefixes:
            context.append(dict(self.prefixes))
        out["@context"] = context
        return out

    def body(self, element: Any) -> dict[str, Any]:
        if self.kind == "EPCISQueryDocument":
            results = _child(element, "QueryResults")
            if results is None and _child(element, "resultsBody") is not None:
                results = element  # QueryResults' children right under the root
            if results is None:
                raise ValidationError("the query document has no QueryResults", rule="xml.document")
            query: dict[str, Any] = {}
            for child in _elements(results):
                local = _split(child.tag)[1]
                if local == "resultsBody":
                    events = _child(child, "EventList")
                    query["resultsBody"] = {"eventList": self.events(events)}
                elif _split(child.tag)[0] and _split(child.tag)[0] not in _BINDING:
                    query[self.key(child.tag, child.prefix)] = self.extension(child, top=True)
                else:
                    query[local] = _text(child)
            return {"queryResults": query}
        return {"eventList": self.events(_child(element, "EventList"))}

    def events(self, element: Any) -> list[dict[str, Any]]:
        if element is None:
            return []
        out: list[dict[str, Any]] = []
        for child in _elements(element):
            namespace, local = _split(child.tag)
            if local == "extension" and not namespace:
                out.extend(self.events(child))
            elif local in EVENT_TYPES and (not namespace or namespace in _BINDING):
                out.append(self.event(child, local))
            else:
                raise ValidationError(
                    f"not an EPCIS event: {echo(child.tag)}", rule="xml.event",
                    pointer=f"/epcisBody/eventList/{len(out)}",
                )  # fmt: skip
        return out

    # -- events ------------------------------------------------------------------------------

    def event(self, element: Any, kind: str) -> dict[str, Any]:
        own: dict[str, str] = {}
        parent = element.getparent()
        inherited = parent.nsmap if parent is not None else {}
        declared = {p: i for p, i in element.nsmap.items() if inherited.get(p) != i}
        for prefix, iri in declared.items():
            if prefix is None or iri in _BINDING or _mda(prefix, iri):
                continue
            if self.prefixes.get(prefix, iri) == iri:
                self.prefixes.setdefault(prefix, iri)
                self.names.setdefault(iri, prefix)
            else:
                own[prefix] = iri
        out: dict[str, Any] = {"type": kind}
        if own:
            out["@context"] = [own]
        self.fields(element, out)
        return out

    def fields(self, element: Any, out: dict[str, Any]) -> None:
        certifications: list[str] = []
        for child in _elements(element):
            namespace, local = _split(child.tag)
            if namespace and namespace not in _BINDING:
                _add(out, self.key(child.tag, child.prefix), self.extension(child))
            elif local in ("extension", "baseExtension"):
                self.fields(child, out)  # 1.x wrappers: their fields are the event's
            elif local in _EPC_LISTS:
                out[local] = [_text(e) for e in _elements(child)]
            elif local in _QUANTITY_LISTS:
                out[local] = [self.quantity(q) for q in _elements(child)]
            elif local in _PAIR_LISTS:
                out[local] = [self.pair(p, _PAIR_LISTS[local]) for p in _elements(child)]
            elif local in _LOCATIONS:
                out[local] = self.location(child)
            elif local == "persistentDisposition":
                out[local] = self.persistent_disposition(child)
            elif local == "ilmd":
                out[local] = self.object_of_extensions(child)
            elif local == "sensorElementList":
                out[local] = [self.sensor_element(s) for s in _elements(child)]
            elif local == "errorDeclaration":
                out[local] = self.error_declaration(child)
            elif local == "certificationInfo":
                certifications.append(_text(child))
            elif local in ("bizStep", "disposition"):
                out[local] = _term(local, _text(child))
            else:
                out[local] = self.extension(child)
        if certifications:
            out["certificationInfo"] = (
                certifications[0] if len(certifications) == 1 else certifications
            )

    def quantity(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in _elements(element):
            namespace, local = _split(child.tag)
            if namespace and namespace not in _BINDING:
                _add(out, self.key(child.tag, child.prefix), self.extension(child))
            elif local == "quantity":
                out[local] = _number(_text(child), local)
            else:
                out[local] = _text(child)
        return out

    def pair(self, element: Any, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind = element.get("type")
        if kind is not None:
            out["type"] = _term(name, kind)
        out[name] = _text(element)
        return out

    def location(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in _elements(element):
            namespace, local = _split(child.tag)
            if namespace and namespace not in _BINDING:
                _add(out, self.key(child.tag, child.prefix), self.extension(child))
            elif local == "extension":
                out.update(self.object_of_extensions(child))
            else:
                out[local] = _text(child)
        return out

    def persistent_disposition(self, element: Any) -> dict[str, Any]:
        out: dict[str, list[str]] = {}
        for child in _elements(element):
            local = _split(child.tag)[1]
            out.setdefault(local, []).append(_term(local, _text(child)))
        return out

    def error_declaration(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in _elements(element):
            namespace, local = _split(child.tag)
            if namespace and namespace not in _BINDING:
                _add(out, self.key(child.tag, child.prefix), self.extension(child))
            elif local == "correctiveEventIDs":
                out[local] = [_text(e) for e in _elements(child)]
            elif local == "extension":
                out.update(self.object_of_extensions(child))
            else:
                out[local] = _term(local, _text(child))
        return out

    def sensor_element(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in _elements(element):
            namespace, local = _split(child.tag)
            if namespace and namespace not in _BINDING:
                _add(out, self.key(child.tag, child.prefix), self.extension(child))
            elif local == "sensorMetadata":
                out[local] = self.attributes(child)
            elif local == "sensorReport":
                out.setdefault(local, []).append(self.attributes(child))
            else:
                out[local] = self.extension(child)
        return out

    def attributes(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, value in element.attrib.items():
            namespace, local = _split(attr)
            if namespace in _BINDING and namespace:
                continue
            if namespace:
                out[self.key(attr)] = value
            elif local in _NUMBER_ATTRIBUTES:
                out[local] = _number(value, local)
            elif local == "booleanValue":
                out[local] = _boolean(value)
            else:
                out[local] = value
        for child in _elements(element):
            _add(out, self.key(child.tag, child.prefix), self.extension(child))
        return out

    def object_of_extensions(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in _elements(element):
            _add(out, self.key(child.tag, child.prefix), self.extension(child))
        return out

    def extension(self, element: Any, *, top: bool = False) -> Any:
        """A user element: its text, or an object of its children (a name repeated: a list);
        attributes become keys too, the text then ``#text``. At the document's top level an
        ``ignoreFields`` element lists its children's names."""
        children = list(_elements(element))
        if top and _split(element.tag)[1] == "ignoreFields":
            return [self.key(c.tag, c.prefix) for c in children]
        attributes = {
            self.key(a): v for a, v in element.attrib.items() if _split(a)[0] not in _BINDING
        }
        if not children and not attributes:
            return _text(element)
        out: dict[str, Any] = dict(attributes)
        for child in children:
            _add(out, self.key(child.tag, child.prefix), self.extension(child))
        if not children and _text(element):
            out["#text"] = _text(element)
        return out


_NIL = "{" + _XSI + "}nil"


def _mda(prefix: str, iri: str) -> bool:
    """Whether a namespace declaration is left out of ``@context``: the CBV master data one
    (read as ``cbvmda:``), or another IRI bound to ``cbvmda`` (its keys get a generated prefix:
    ``cbvmda`` keeps the EPCIS context's meaning)."""
    return iri in CBV_MDA or prefix == CBV_MDA_PREFIX


def _elements(element: Any) -> Iterator[Any]:
    """The child elements, but those marked ``xsi:nil="true"`` (absent values)."""
    for child in element:
        if isinstance(child.tag, str) and child.get(_NIL) not in ("true", "1"):
            yield child


def _child(element: Any, local: str) -> Any:
    for child in _elements(element):
        if _split(child.tag)[1] == local:
            return child
    return None


def _text(element: Any) -> str:
    return (element.text or "").strip()


class _Many(list[Any]):
    """The values of a name repeated among an element's children (a JSON array)."""


def _add(out: dict[str, Any], key: str, value: Any) -> None:
    if key not in out:
        out[key] = value
    elif isinstance(out[key], _Many):
        out[key].append(value)
    else:
        out[key] = _Many([out[key], value])


# The XML binding writes standard CBV values as URNs, the JSON binding as bare terms (the event
# hash reads both as the same CBV Web URI).
_CBV_URNS = {
    "bizStep": "urn:epcglobal:cbv:bizstep:",
    "disposition": "urn:epcglobal:cbv:disp:",
    "set": "urn:epcglobal:cbv:disp:",
    "unset": "urn:epcglobal:cbv:disp:",
    "reason": "urn:epcglobal:cbv:er:",
    "bizTransaction": "urn:epcglobal:cbv:btt:",
    "source": "urn:epcglobal:cbv:sdt:",
    "destination": "urn:epcglobal:cbv:sdt:",
}


def _term(field: str, value: str) -> str:
    """A standard CBV URN of ``field`` as the JSON binding's bare term; anything else as is."""
    urn = _CBV_URNS.get(field)
    if urn is not None and value.startswith(urn) and len(value) > len(urn):
        return value[len(urn) :]
    return value


def _number(text: str, field: str) -> int | float:
    try:
        if text.lstrip("+-").isdigit():
            return int(text)
        number = float(text)
    except ValueError:
        raise ValidationError(
            f"{field} must be a number, not {echo(text)}", rule="xml.number"
        ) from None
    if not math.isfinite(number):
        raise ValidationError(
            f"{field} must be a finite number, not {echo(text)}", rule="xml.number"
        )
    return number


def _boolean(text: str) -> bool | str:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return text
