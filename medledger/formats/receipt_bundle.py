"""The receipt bundle (format in ``docs/exchange.md``): the receipts of an exported EPCIS document,
one JSON file beside it.

``{"type": "receipt-bundle", "version": 1, "subject": {"identifier", "kind"}, "document":
{"format", "sha256"}, "receipts": [<receipt>, ...]}``: each receipt is the existing format
(:class:`~medledger.formats.receipt.Receipt`, its event embedded), one per event of the document,
in the document's order. ``provenance verify BUNDLE`` checks each receipt (offline, and on-chain
with ``--rpc`` on the chain that anchored it); the document's SHA-256 ties the bundle to the file
it was written with. A bundle proves nothing by its summary fields: only its receipts count.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from medledger.errors import ReceiptFormatError
from medledger.formats.receipt import Receipt

RECEIPT_BUNDLE_TYPE: Final = "receipt-bundle"
RECEIPT_BUNDLE_VERSION: Final = 1


@dataclass(frozen=True)
class ReceiptBundle:
    subject: dict[str, Any]
    document: dict[str, Any]
    receipts: tuple[Receipt, ...]


def is_receipt_bundle(document: Any) -> bool:
    return isinstance(document, dict) and document.get("type") == RECEIPT_BUNDLE_TYPE


def receipt_bundle(
    subject: dict[str, Any], document: dict[str, Any], receipts: list[dict[str, Any]]
) -> dict[str, Any]:
    """The bundle's JSON (``receipts`` as the receipts' own JSON)."""
    return {
        "type": RECEIPT_BUNDLE_TYPE,
        "version": RECEIPT_BUNDLE_VERSION,
        "subject": subject,
        "document": document,
        "receipts": receipts,
    }


def parse_receipt_bundle(document: Any, *, name: str = "the receipt bundle") -> ReceiptBundle:
    """Parse a receipt bundle (``name`` in messages: its file); anything malformed is a
    :class:`ReceiptFormatError`."""
    try:
        return _parse(document)
    except ReceiptFormatError as exc:
        raise ReceiptFormatError(f"{name}: {exc}") from exc


def _parse(document: Any) -> ReceiptBundle:
    if not is_receipt_bundle(document):
        raise ReceiptFormatError(f"not a receipt bundle (type must be {RECEIPT_BUNDLE_TYPE!r})")
    if document.get("version") != RECEIPT_BUNDLE_VERSION:
        raise ReceiptFormatError(
            f"unsupported receipt bundle version {document.get('version')!r}: this tool reads 1"
        )
    subject = document.get("subject")
    described = document.get("document")
    receipts = document.get("receipts")
    if not isinstance(subject, dict) or not isinstance(described, dict):
        raise ReceiptFormatError("a receipt bundle's 'subject' and 'document' are JSON objects")
    if not isinstance(receipts, list) or not receipts:
        raise ReceiptFormatError("a receipt bundle's 'receipts' is a list of receipts")
    parsed = []
    for at, receipt in enumerate(receipts):
        try:
            parsed.append(Receipt.from_json(receipt))
        except ReceiptFormatError as exc:
            raise ReceiptFormatError(f"receipts[{at}]: {exc}") from exc
    return ReceiptBundle(subject, described, tuple(parsed))
