"""EPCIS 1.2 XML -> EPCIS 2.0 XML with GS1's own stylesheet (``schema/xsl/convert-1.2-to-2.0.xsl``),
and back (``convert-2.0-to-1.2.xsl``, :func:`to_1_2`, for exports).

The stylesheet is XSLT 2.0 (lxml's libxslt runs 1.0 only), so it runs on SaxonC-HE (the
``saxonche`` wheel, native code). The processor is made lazily, once per process (a forked child
makes its own), on the first conversion, never when this module or :mod:`medledger` is imported;
conversions are serialised on one lock (SaxonC's processor is not documented as thread-safe).

Saxon reads only what lxml has already parsed safely and serialised again (no DTD, no entity,
no XInclude: :func:`medledger.epcis.xml_read.parse`), and the stylesheet reads no other document.
GS1's stylesheet converts a root written exactly ``epcis:EPCISDocument`` with ``schemaVersion``
``1.2`` and copies anything else unchanged; :func:`to_2_0` refuses what it did not convert
(rule ``xml.version``). One fix-up goes before it: the stylesheet takes an ObjectEvent's
``ilmd`` from the event itself, where 1.2 never has it (1.2 puts it in the event's
``extension``), so it silently dropped every 1.2 ObjectEvent's ILMD (a commissioning event's lot
and expiry); the ILMD is moved up for the stylesheet to find (``_lift_object_event_ilmd``).
One fix-up follows it: the stylesheet copies an event's 1.2
``baseExtension`` (which holds 1.2's ``eventID`` and ``errorDeclaration``) verbatim after the
event's other fields, where the 2.0 XSD refuses it, so any 1.2 event with an eventID or an
error declaration would be refused; ``eventID`` and ``errorDeclaration`` are moved to their 2.0
place (see ``_place_base_extensions``).
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from lxml import etree

from medledger.epcis import xml_read
from medledger.epcis.resources import VENDORED_DIR
from medledger.epcis.xml_header import SBDH, standard_business_document_header
from medledger.errors import UnsupportedMediaTypeError, echo

STYLESHEET = VENDORED_DIR / "xsl" / "convert-1.2-to-2.0.xsl"
#: GS1's inverse, 2.0 to 1.2 (``provenance export --format xml-1.2``).
DOWN_STYLESHEET = VENDORED_DIR / "xsl" / "convert-2.0-to-1.2.xsl"
_EPCIS_2 = "urn:epcglobal:epcis:xsd:2"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _executable(stylesheet: Path) -> Any:
    # under _lock
    if _state.get("pid") != os.getpid():
        from saxonche import PySaxonProcessor  # native; imported on first use only

        _state.clear()
        _state.update(pid=os.getpid(), processor=PySaxonProcessor(license=False), compiled={})
    compiled: dict[Path, Any] = _state["compiled"]
    if stylesheet not in compiled:
        compiler = _state["processor"].new_xslt30_processor()
        compiled[stylesheet] = compiler.compile_stylesheet(stylesheet_file=str(stylesheet))
    return compiled[stylesheet]


def transform(root: Any, stylesheet: Path = STYLESHEET) -> str:
    """``stylesheet`` (GS1's 1.2 to 2.0 one unless told) applied to a parsed ``root``, as text,
    on this process's one Saxon processor."""
    text = etree.tostring(root, encoding="unicode")
    with _lock:
        executable = _executable(stylesheet)
        node = _state["processor"].parse_xml(xml_text=text)
        out = executable.transform_to_string(xdm_node=node)
    return str(out or "")


def to_2_0(root: Any) -> Any:
    """The parsed EPCIS 2.0 document GS1's stylesheet makes of an EPCIS 1.2 document's ``root``
    (which it changes: see :func:`_lift_object_event_ilmd`)."""
    _lift_object_event_ilmd(root)
    converted = xml_read.parse(transform(root).encode("utf-8"))
    if not (
        converted.tag.startswith(f"{{{_EPCIS_2}}}")
        and xml_read.xml_schema_version(converted) == "2.0"
    ):
        raise UnsupportedMediaTypeError(
            f"EPCIS {echo(xml_read.xml_schema_version(root) or 'without schemaVersion')} XML is "
            "converted only as GS1's stylesheet does it: an epcis:EPCISDocument (written with the "
            "prefix epcis) with schemaVersion 1.2",
            rule="xml.version",
        )
    _place_base_extensions(converted)
    return converted


def to_1_2(root: Any, *, sender: str | None = None) -> Any:
    """The parsed EPCIS 1.2 document GS1's 2.0 to 1.2 stylesheet makes of an EPCIS 2.0
    ``EPCISDocument`` (written with the prefix ``epcis``, as :mod:`medledger.epcis.xml_write`
    writes it). What 1.2 has no place for is GS1's stylesheet's choice (docs/exchange.md lists
    what survives), except the header's master data, which the stylesheet drops and which is
    carried over (the 1.2 XSD has the same form, after the Standard Business Document Header
    it requires: ``sender``, a CAIP-10 account id, names the sender; None: unspecified); the
    caller validates the result against the 1.2 XSD."""
    converted = xml_read.parse(transform(root, DOWN_STYLESHEET).encode("utf-8"))
    if xml_read.xml_schema_version(converted) != "1.2":
        raise UnsupportedMediaTypeError(
            "GS1's stylesheet converts only an epcis:EPCISDocument with schemaVersion 2.0 to 1.2",
            rule="xml.version",
        )
    _carry_header(root, converted, sender)
    return converted


def _carry_header(root: Any, converted: Any, sender: str | None) -> None:
    # GS1's stylesheet writes only the body; the header's master data
    # (EPCISHeader/extension/EPCISMasterData, unqualified elements) has the same form in the
    # 1.2 XSD, which requires a Standard Business Document Header before it.
    header = root.find("EPCISHeader")
    if header is None or converted.find("EPCISHeader") is not None:
        return
    carried = copy.deepcopy(header)
    if carried.find(f"{{{SBDH}}}StandardBusinessDocumentHeader") is None:
        created = str(root.get("creationDate", ""))
        digest = hashlib.sha256(etree.tostring(root)).hexdigest()
        carried.insert(
            0,
            standard_business_document_header(sender=sender, created=created, instance=digest),
        )
    converted.insert(0, carried)


def _lift_object_event_ilmd(root: Any) -> None:
    # 1.2: ObjectEvent/extension/ilmd; GS1's stylesheet copies ObjectEvent/ilmd (and leaves
    # extension/ilmd out of everything else it copies), so the ILMD is moved to where it looks.
    for event in root.iterfind("EPCISBody/EventList/ObjectEvent"):
        ilmd = event.find("extension/ilmd")
        if ilmd is not None and event.find("ilmd") is None:
            ilmd.getparent().remove(ilmd)
            event.append(ilmd)


def _place_base_extensions(root: Any) -> None:
    # GS1's stylesheet copies a 1.2 event's <baseExtension> (1.2's place for eventID and
    # errorDeclaration) verbatim after the event's other fields; 2.0 has eventID and
    # errorDeclaration right after eventTimeZoneOffset and keeps baseExtension for user
    # extension elements only. So: eventID and errorDeclaration move to their 2.0 place, 1.2's
    # empty <extension> placeholder goes, and what is left of baseExtension (user elements)
    # stays, after the base fields; anything else is left for the 2.0 XSD to refuse.
    for event in root.iterfind("EPCISBody/EventList/*"):
        base = event.find("baseExtension")
        if base is None:
            continue
        event.remove(base)
        offset = event.find("eventTimeZoneOffset")
        at = 0 if offset is None else event.index(offset) + 1
        for name in ("eventID", "errorDeclaration"):
            moved = base.find(name)
            if moved is not None:
                base.remove(moved)
                event.insert(at, moved)
                at += 1
        placeholder = base.find("extension")
        if placeholder is not None and len(placeholder) == 0 and not placeholder.attrib:
            base.remove(placeholder)
        if len(base):
            certification = event.find("certificationInfo")
            event.insert(at if certification is None else event.index(certification) + 1, base)
