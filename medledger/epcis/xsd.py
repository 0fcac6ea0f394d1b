"""GS1's EPCIS XML schemas (XSD 1.0, vendored under ``schema/xsd-2.0`` and ``schema/xsd-1.2``).

:func:`validate` checks a parsed EPCIS XML document (an ``EPCISDocument`` or
``EPCISQueryDocument``, as :func:`medledger.epcis.xml_read.parse` gives it) against the schema of
its version; the first violation is rule ``xml.schema``, its XPath the pointer and its line in
the message. The schemas are read once per process from the vendored files only: their imports
are relative file names, the parser reads no network and no DTD, and an instance document's
``xsi:schemaLocation`` is never followed (libxml2 validates against the schema it is given).
Validation is linear in the document, which :func:`~medledger.epcis.xml_read.parse` has already
bounded in bytes and depth.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from medledger.epcis.resources import VENDORED_DIR
from medledger.errors import ValidationError, echo

Version = Literal["2.0", "1.2"]

#: The entry schema of each version: the query schema imports the core one, so both document
#: kinds (``EPCISDocument``, ``EPCISQueryDocument``) validate against it.
SCHEMA_FILES: dict[Version, Path] = {
    "2.0": VENDORED_DIR / "xsd-2.0" / "EPCglobal-epcis-query-2_0.xsd",
    "1.2": VENDORED_DIR / "xsd-1.2" / "EPCglobal-epcis-query-1_2.xsd",
}


@cache
def schema(version: Version) -> Any:
    """The compiled schema of ``version`` (read once per process)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    tree = etree.parse(str(SCHEMA_FILES[version]), parser)
    return etree.XMLSchema(tree)


def validate(root: Any, version: Version, *, converted: bool = False) -> None:
    """Raise rule ``xml.schema`` unless ``root`` is valid under GS1's EPCIS ``version`` XSD
    (``converted``: ``root`` is GS1's 2.0 conversion of a 1.2 document, and the message says so).
    """
    checker = schema(version)
    if checker.validate(root):
        return
    log = checker.error_log
    error = log[0] if len(log) else None
    message = str(getattr(error, "message", "") or "invalid")
    line = getattr(error, "line", 0)
    raise ValidationError(
        f"{'converted to 2.0 by GS1, ' if converted else ''}not valid under GS1's EPCIS "
        f"{version} XML schema (line {line}): {echo(message)}",
        rule="xml.schema",
        pointer=str(getattr(error, "path", "") or "") or None,
    )
