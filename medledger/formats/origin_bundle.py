"""The origin bundle (format in ``docs/origin.md``): one JSON file proving where a pack, a case
or a finished batch came from.

A bundle holds receipts, each with its event embedded and a role: the event that produced the
item (``item``, when not the transformation itself), the packing of a case (``packing``), the
batch's transformation event(s) (``transformation``) and, for every API lot a transformation
consumed, the event that commissioned that lot and the maker who anchored it (``api-lot``). It
also states a mass-balance summary, which a verifier never trusts.

This module is the format, once, for both its writers and its reader: the constants and the
tolerance (``GET /origin/{id}`` in :mod:`indexer.queries.origin` and ``provenance origin-proof``
write bundles), reading one (:func:`parse_bundle`), what a verdict on one holds
(:class:`BundleVerdict`) and reading the events in it (:func:`output_lots`,
:func:`commissioned_classes`). Checking the receipts against the chain and the links between
them is :mod:`provenance.origin`'s work. Errors are :class:`~medledger.errors.OriginError`\\ s.

Pure: no database, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from medledger.epcis.digital_link import gtin_of, lot_of_class
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import (
    BundleFormatError,
    MassBalanceError,
    OriginError,
    ReceiptFormatError,
    ValidationError,
)
from medledger.formats.mass_balance import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from medledger.formats.mass_balance import MassBalance, Strength, parse_strength
from medledger.formats.receipt import Check, Receipt, Verdict

BUNDLE_TYPE = "origin-bundle"
BUNDLE_VERSION = 1

ROLE_ITEM = "item"  # the event that commissioned the item (when not the transformation)
ROLE_PACKING = "packing"  # an AggregationEvent that packed outputs into the case
ROLE_TRANSFORMATION = "transformation"
ROLE_API_LOT = "api-lot"  # the event that commissioned an API lot the transformation consumed
ROLES = (ROLE_ITEM, ROLE_PACKING, ROLE_TRANSFORMATION, ROLE_API_LOT)


def parse_tolerance(text: str) -> Decimal:
    """``5%`` or ``0.05`` -> ``Decimal('0.05')``."""
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation as exc:
        raise MassBalanceError(
            f"tolerance must be a fraction or a percentage, got {text!r}"
        ) from exc
    if not value.is_finite() or value < 0 or value >= 1:
        raise MassBalanceError(f"tolerance must be at least 0 and below 100%, got {text!r}")
    return value


# --- reading events -------------------------------------------------------------------------


def canonical(value: Any) -> str | None:
    """The canonical GS1 Digital Link URI of an identifier, or None if ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return canonical_identifier(value)
    except ValidationError:
        return None


def canonicals(values: Any) -> list[str]:
    """The canonical form of every identifier in a list (the others left out)."""
    if not isinstance(values, list):
        return []
    return [c for c in (canonical(v) for v in values) if c is not None]


def _term(value: Any) -> str | None:
    """``commissioning`` from ``commissioning``, ``urn:epcglobal:cbv:bizstep:commissioning`` or
    ``https://ref.gs1.org/cbv/BizStep-commissioning``."""
    if not isinstance(value, str):
        return None
    tail = re.split(r"[:/#]", value)[-1]
    return tail.split("-", 1)[1] if tail.startswith(("BizStep-", "Disp-")) else tail


def ilmd_value(event: dict[str, Any], term: str) -> Any:
    """The value of an ILMD field by its local name (``lotNumber``), whatever its prefix."""
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, dict):
        return None
    for key, value in ilmd.items():
        if isinstance(key, str) and re.split(r"[:#/]", key)[-1] == term:
            return value
    return None


def output_lots(event: dict[str, Any]) -> set[tuple[str, str]]:
    """(GTIN, lot) of what a TransformationEvent produced: ILMD lot of its serial outputs, and
    the lot classes of its output quantities."""
    lots: set[tuple[str, str]] = set()
    lot = ilmd_value(event, "lotNumber")
    if isinstance(lot, str):
        for epc in canonicals(event.get("outputEPCList")):
            gtin = gtin_of(epc)
            if gtin is not None:
                lots.add((gtin, lot))
    for item in event.get("outputQuantityList") or []:
        if isinstance(item, dict):
            found = lot_of_class(canonical(item.get("epcClass")) or "")
            if found is not None:
                lots.add(found)
    return lots


def commissioned_classes(event: dict[str, Any]) -> set[str]:
    """Lot classes an event commissioned or produced: an ObjectEvent ADD with bizStep
    commissioning (its quantityList), or a TransformationEvent (its outputQuantityList)."""
    if event.get("type") == "ObjectEvent":
        if event.get("action") != "ADD" or _term(event.get("bizStep")) != "commissioning":
            return set()
        items = event.get("quantityList")
    elif event.get("type") == "TransformationEvent":
        items = event.get("outputQuantityList")
    else:
        return set()
    out = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and (c := canonical(item.get("epcClass"))) is not None:
            out.add(c)
    return out


# --- reading a bundle -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    role: str
    event_id: str
    receipt: Receipt
    lot: str | None = None
    maker: str | None = None

    @property
    def event(self) -> dict[str, Any]:
        return self.receipt.event or {}


@dataclass(frozen=True)
class Bundle:
    subject: dict[str, Any]
    produced_by: str | None
    declared: Strength | None
    summary: dict[str, Any] | None
    entries: tuple[Entry, ...]


def is_bundle(document: Any) -> bool:
    return isinstance(document, dict) and document.get("type") == BUNDLE_TYPE


def parse_bundle(document: Any) -> Bundle:
    """Parse an origin bundle; anything malformed is a :class:`BundleFormatError`."""
    if not is_bundle(document):
        raise BundleFormatError(f"not an origin bundle (type must be {BUNDLE_TYPE!r})")
    if document.get("version") != BUNDLE_VERSION:
        raise BundleFormatError(
            f"unsupported origin bundle version {document.get('version')!r}: this tool reads 1"
        )
    subject = document.get("subject")
    if not isinstance(subject, dict) or subject.get("kind") not in ("pack", "logistic-unit", "lot"):
        raise BundleFormatError("field 'subject' must give the identifier and kind")
    identifier = canonical(subject.get("identifier"))
    if identifier is None:
        raise BundleFormatError("subject.identifier is not a GS1 identifier")
    produced_by = document.get("producedBy")
    if produced_by is not None and not isinstance(produced_by, str):
        raise BundleFormatError("field 'producedBy' must be an event id or null")
    declared_text = document.get("apiPerPack")
    try:
        declared = parse_strength(declared_text) if declared_text is not None else None
    except OriginError as exc:
        raise BundleFormatError(f"field 'apiPerPack': {exc}") from exc
    raw_entries = document.get("receipts")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise BundleFormatError("field 'receipts' must be a non-empty list")
    entries = []
    for i, raw in enumerate(raw_entries):
        if not isinstance(raw, dict) or raw.get("role") not in ROLES:
            raise BundleFormatError(f"receipts[{i}] needs a role, one of {', '.join(ROLES)}")
        event_id = raw.get("eventID")
        if not isinstance(event_id, str):
            raise BundleFormatError(f"receipts[{i}].eventID must be an event id")
        try:
            receipt = Receipt.from_json(raw.get("receipt"))
        except ReceiptFormatError as exc:
            raise BundleFormatError(f"receipts[{i}].receipt: {exc}") from exc
        if receipt.event is None:
            raise BundleFormatError(f"receipts[{i}].receipt must embed its event")
        lot, maker = raw.get("lot"), raw.get("maker")
        if raw["role"] == ROLE_API_LOT and not (isinstance(lot, str) and isinstance(maker, str)):
            raise BundleFormatError(f"receipts[{i}] (api-lot) needs 'lot' and 'maker'")
        entries.append(Entry(raw["role"], event_id, receipt, lot, maker))
    summary = document.get("massBalance")
    return Bundle(
        subject={**subject, "identifier": identifier},
        produced_by=produced_by,
        declared=declared,
        summary=summary if isinstance(summary, dict) else None,
        entries=tuple(entries),
    )


# --- a verdict on a bundle ------------------------------------------------------------------


@dataclass(frozen=True)
class BundleVerdict:
    """What verifying a bundle found: each receipt's checks, the links between the events, and
    the mass balance recomputed from them (:func:`provenance.origin.verify_bundle`)."""

    receipts: tuple[tuple[Entry, Verdict], ...]
    links: tuple[Check, ...]
    mass_balance: MassBalance | None
    mass_check: Check

    @property
    def valid(self) -> bool:
        return (
            all(v.valid for _, v in self.receipts)
            and all(c.ok for c in self.links)
            and self.mass_check.ok
        )

    @property
    def violation(self) -> bool:
        return self.mass_balance is not None and not self.mass_balance.ok
