"""What a person or a partner names an item by, as the index's identifier.

One parser for every place that takes "whatever a scanner or a person has" (the dashboard's
trace search, ``GET /exports/{id}``): a DataMatrix element string, a GS1 Digital Link URI, an EPC
URN, a GTIN and a lot (``04700123123452 B2026-117``, or ``(01)...(10)...`` without a serial), and,
for an export, an anchored batch's Merkle root (``0x`` and 64 hex digits).
"""

from __future__ import annotations

import re
from typing import Final

from indexer.queries import check as check_queries
from indexer.queries.common import lot_class_id
from medledger.errors import ValidationError

#: "04700123123452 B2026-117", or with (01) and (10) and no serial.
_GTIN_LOT: Final = re.compile(r"^\(?0?1?\)?\s*(\d{14})\s*(?:\(10\)|\s)\s*(\S{1,20})$")
#: An anchored batch's Merkle root.
_ROOT: Final = re.compile(r"^(?:0x)?([0-9a-fA-F]{64})$")


def identifier_of(query: str) -> str:
    """The identifier to trace: a lot's class for a GTIN and a lot, else the scanned pack's
    canonical identifier, else the text as given (an SSCC, an LGTIN URI, an EPC pattern)."""
    text = query.strip()
    lot = _GTIN_LOT.match(text)
    if lot is not None:
        return lot_class_id(lot.group(1), lot.group(2))
    try:
        return check_queries.parse_code(text).identifier
    except ValidationError:
        return text


def batch_root(query: str) -> bytes | None:
    """The 32 bytes of a batch root written as ``0x`` and 64 hex digits (or the digits alone),
    else None."""
    found = _ROOT.match(query.strip())
    return bytes.fromhex(found.group(1)) if found is not None else None
