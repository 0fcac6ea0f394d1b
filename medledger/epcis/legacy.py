"""EPCIS 1.2 XML -> EPCIS 2.0 XML with GS1's own stylesheet (``schema/xsl/convert-1.2-to-2.0.xsl``).

The stylesheet is XSLT 2.0 (lxml's libxslt runs 1.0 only), so it runs on SaxonC-HE (the
``saxonche`` wheel, native code). The processor is made lazily, once per process (a forked child
makes its own), on the first conversion, never when this module or :mod:`medledger` is imported;
conversions are serialised on one lock (SaxonC's processor is not documented as thread-safe).

Saxon reads only what lxml has already parsed safely and serialised again (no DTD, no entity,
no XInclude: :func:`medledger.epcis.xml_read.parse`), and the stylesheet reads no other document.
GS1's stylesheet converts a root written exactly ``epcis:EPCISDocument`` with ``schemaVersion``
``1.2`` and copies anything else unchanged; :func:`to_2_0` refuses what it did not convert
(rule ``xml.version``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from lxml import etree

from medledger.epcis import xml_read
from medledger.epcis.resources import VENDORED_DIR
from medledger.errors import UnsupportedMediaTypeError, echo

STYLESHEET = VENDORED_DIR / "xsl" / "convert-1.2-to-2.0.xsl"
_EPCIS_2 = "urn:epcglobal:epcis:xsd:2"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _executable() -> Any:
    # under _lock
    if _state.get("pid") != os.getpid():
        from saxonche import PySaxonProcessor  # native; imported on first use only

        processor = PySaxonProcessor(license=False)
        compiler = processor.new_xslt30_processor()
        _state.update(
            pid=os.getpid(),
            processor=processor,
            executable=compiler.compile_stylesheet(stylesheet_file=str(STYLESHEET)),
        )
    return _state["executable"]


def to_2_0(root: Any) -> Any:
    """The parsed EPCIS 2.0 document GS1's stylesheet makes of an EPCIS 1.2 document's ``root``."""
    text = etree.tostring(root, encoding="unicode")
    with _lock:
        executable = _executable()
        node = _state["processor"].parse_xml(xml_text=text)
        out = executable.transform_to_string(xdm_node=node)
    converted = xml_read.parse((out or "").encode("utf-8"))
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
    return converted
