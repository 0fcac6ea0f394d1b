"""What the rules read out of canonical GS1 Digital Link URIs (no parsing beyond splitting)."""

from __future__ import annotations

from urllib.parse import unquote

from medledger.epcis.identifiers import ID_GS1

_PREFIX = ID_GS1 + "/"


def _parts(uri: str) -> list[str]:
    return uri[len(_PREFIX) :].split("/") if uri.startswith(_PREFIX) else []


def gln_of(uri: str | None) -> str | None:
    """The 13-digit GLN of a location (``/414/<gln>[/254/<ext>]``) or party (``/417/<gln>``)."""
    if uri is None:
        return None
    parts = _parts(uri)
    return parts[1] if len(parts) >= 2 and parts[0] in ("414", "417") else None


def gtin_of(uri: str) -> str | None:
    """The GTIN-14 of a pack (``/01/<gtin>/21/<serial>``) or lot (``/01/<gtin>/10/<lot>``)."""
    parts = _parts(uri)
    return parts[1] if len(parts) >= 2 and parts[0] == "01" else None


def is_serial(uri: str) -> bool:
    """A pack: an SGTIN (``/01/<gtin>/21/<serial>``)."""
    parts = _parts(uri)
    return len(parts) == 4 and parts[0] == "01" and parts[2] == "21"


def lot_of_class(uri: str) -> tuple[str, str] | None:
    """(GTIN, lot) of a class-level identifier ``/01/<gtin>/10/<lot>`` (lot percent-decoded)."""
    parts = _parts(uri)
    if len(parts) == 4 and parts[0] == "01" and parts[2] == "10":
        return parts[1], unquote(parts[3])
    return None
