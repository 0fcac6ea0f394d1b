"""Origin proofs: one JSON file proving where a pack, a case or a finished batch came from.

An *origin bundle* (format in ``docs/origin.md``) holds receipts, each with its event embedded:
the event that produced the item (for a pack output by a TransformationEvent, the transformation
itself), the packing of a case, the batch's transformation event(s), and for every API lot the
transformation consumed, the event that commissioned that lot and the maker who anchored it. It
also states a mass-balance summary, which a verifier never trusts: :func:`verify_bundle` checks
every receipt, the links between the events, and recomputes the mass balance from the embedded
events.

:func:`build_bundle` gathers a bundle through two small protocols, :class:`GatewayClient`
(receipts) and :class:`IndexerClient` (the trace), so it runs over HTTP
(:mod:`provenance.origin_http`) and in-process alike. It lives in :mod:`indexer.queries.origin`
(the indexer's ``GET /origin/{id}`` builds the same bundle from the index alone, and the
indexer never imports :mod:`provenance`) and is re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from web3 import Web3

from chain.client import Chain
from chain.verification import Check, Verdict, verify_receipt
from indexer.queries.origin import BUNDLE_TYPE as BUNDLE_TYPE
from indexer.queries.origin import BUNDLE_VERSION as BUNDLE_VERSION
from indexer.queries.origin import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from indexer.queries.origin import ROLE_API_LOT as ROLE_API_LOT
from indexer.queries.origin import ROLE_ITEM as ROLE_ITEM
from indexer.queries.origin import ROLE_PACKING as ROLE_PACKING
from indexer.queries.origin import ROLE_TRANSFORMATION as ROLE_TRANSFORMATION
from indexer.queries.origin import ROLES as ROLES
from indexer.queries.origin import GatewayClient as GatewayClient
from indexer.queries.origin import IndexerClient as IndexerClient
from indexer.queries.origin import OriginError as OriginError
from indexer.queries.origin import OriginUnknownError as OriginUnknownError
from indexer.queries.origin import build_bundle as build_bundle
from indexer.queries.origin import parse_tolerance as parse_tolerance
from medledger.epcis.digital_link import gtin_of, is_serial, lot_of_class
from medledger.epcis.event_id import event_id_of
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import ReceiptFormatError, ValidationError
from medledger.formats.mass_balance import COUNT_UNITS as COUNT_UNITS
from medledger.formats.mass_balance import MASS_UNITS as MASS_UNITS
from medledger.formats.mass_balance import MassBalance as MassBalance
from medledger.formats.mass_balance import Strength as Strength
from medledger.formats.mass_balance import compute_mass_balance as compute_mass_balance
from medledger.formats.mass_balance import ilmd_strength as ilmd_strength
from medledger.formats.mass_balance import parse_strength as parse_strength
from medledger.formats.receipt import EventHasher, Receipt
from provenance.journey import MPL_NAMESPACE

#: The project's EPCIS extension namespace; ``mpl:apiPerPack`` in an ILMD (with ``"mpl"``
#: mapped to this IRI in the document's ``@context``) states the API content of one pack.
EXTENSION_NAMESPACE = MPL_NAMESPACE
EXTENSION_PREFIX = "mpl"
API_PER_PACK_TERM = "apiPerPack"


class BundleFormatError(OriginError):
    """A document claims to be an origin bundle but is malformed."""


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# --- reading events -------------------------------------------------------------------------


def _canonical(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return canonical_identifier(value)
    except ValidationError:
        return None


def _canonicals(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [c for c in (_canonical(v) for v in values) if c is not None]


def _term(value: Any) -> str | None:
    """``commissioning`` from ``commissioning``, ``urn:epcglobal:cbv:bizstep:commissioning`` or
    ``https://ref.gs1.org/cbv/BizStep-commissioning``."""
    if not isinstance(value, str):
        return None
    tail = re.split(r"[:/#]", value)[-1]
    return tail.split("-", 1)[1] if tail.startswith(("BizStep-", "Disp-")) else tail


def _ilmd_value(event: dict[str, Any], term: str) -> Any:
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
    lot = _ilmd_value(event, "lotNumber")
    if isinstance(lot, str):
        for epc in _canonicals(event.get("outputEPCList")):
            gtin = gtin_of(epc)
            if gtin is not None:
                lots.add((gtin, lot))
    for item in event.get("outputQuantityList") or []:
        if isinstance(item, dict):
            found = lot_of_class(_canonical(item.get("epcClass")) or "")
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
        if isinstance(item, dict) and (c := _canonical(item.get("epcClass"))) is not None:
            out.add(c)
    return out


# --- mass balance ---------------------------------------------------------------------------


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
    identifier = _canonical(subject.get("identifier"))
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


# --- verifying a bundle ---------------------------------------------------------------------


@dataclass(frozen=True)
class BundleVerdict:
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


def verify_bundle(
    bundle: Bundle,
    *,
    chain: Chain | None = None,
    event_hasher: EventHasher | None = None,
    api_per_pack: Strength | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> BundleVerdict:
    """Every receipt (offline, and on-chain given ``chain``), every link, and the mass balance
    recomputed from the embedded transformation events."""
    receipts = tuple(
        (e, verify_receipt(e.receipt, chain=chain, event_hasher=event_hasher))
        for e in bundle.entries
    )
    links = tuple(check_links(bundle))
    transformations = [e.event for e in bundle.entries if e.role == ROLE_TRANSFORMATION]
    balance: MassBalance | None = None
    try:
        balance = compute_mass_balance(
            transformations, override=api_per_pack, declared=bundle.declared, tolerance=tolerance
        )
    except OriginError as exc:
        mass_check = Check("mass balance", False, f"cannot be computed: {exc}")
    else:
        lot = bundle.subject.get("lot")
        name = f"batch {lot}" if isinstance(lot, str) else "the batch"
        if balance.ok:
            mass_check = Check("mass balance", True, balance.describe())
        else:
            mass_check = Check(
                "mass balance",
                False,
                f"MASS-BALANCE VIOLATION: {name} claims more than its API can make: "
                + balance.describe(),
            )
    if balance is not None and bundle.summary is not None:
        links = (*links, _summary_check(bundle.summary, balance))
    return BundleVerdict(receipts, links, balance, mass_check)


def _summary_check(summary: dict[str, Any], balance: MassBalance) -> Check:
    """The stated summary is never used, but one that misstates the events is a lie."""
    stated = (str(summary.get("apiConsumedKg")), summary.get("packsProduced"))
    computed = (_plain(balance.consumed_kg), balance.produced)
    try:
        same = Decimal(stated[0]) == balance.consumed_kg and stated[1] == balance.produced
    except InvalidOperation:
        same = False
    return Check(
        "stated summary",
        same,
        f"states {stated[0]} kg consumed and {stated[1]} packs; the events say "
        f"{computed[0]} kg and {computed[1]} packs",
    )


def check_links(bundle: Bundle) -> list[Check]:
    """The receipts prove what the bundle says they prove, and fit together."""
    checks: list[Check] = []
    for entry in bundle.entries:
        actual = event_id_of(entry.receipt.event_hash)
        if actual != entry.event_id:
            checks.append(
                Check(
                    "receipt is of its event",
                    False,
                    f"{entry.role} {entry.event_id}: the receipt proves {actual}",
                )
            )
    by_role: dict[str, list[Entry]] = {role: [] for role in ROLES}
    for entry in bundle.entries:
        by_role[entry.role].append(entry)
    transformations = by_role[ROLE_TRANSFORMATION]
    if not transformations:
        return [*checks, Check("transformation", False, "the bundle has no transformation")]
    for t in transformations:
        if t.event.get("type") != "TransformationEvent":
            checks.append(
                Check("transformation", False, f"{t.event_id} is a {t.event.get('type')}")
            )
    outputs: set[str] = set()
    lots: set[tuple[str, str]] = set()
    for t in transformations:
        outputs.update(_canonicals(t.event.get("outputEPCList")))
        lots.update(output_lots(t.event))
    ids = [e.event_id for e in bundle.entries]
    doubled = sorted({i for i in ids if ids.count(i) > 1})
    if doubled:
        checks.append(Check("one receipt per event", False, f"repeated: {', '.join(doubled)}"))
    checks.extend(_batch_links(bundle, transformations, lots))
    checks.extend(_subject_links(bundle, by_role, outputs, lots))
    checks.extend(_input_links(transformations, by_role[ROLE_API_LOT]))
    return checks


def _batch_links(
    bundle: Bundle, transformations: list[Entry], lots: set[tuple[str, str]]
) -> list[Check]:
    """Every transformation made the subject's batch: none may be added to inflate the API."""
    if bundle.subject["kind"] == "logistic-unit":
        packed: set[str] = set()
        for entry in bundle.entries:
            if entry.role == ROLE_PACKING:
                packed.update(_canonicals(entry.event.get("childEPCs")))
        return [
            Check(
                "transformation made the contents",
                bool(packed & set(_canonicals(t.event.get("outputEPCList")))),
                f"{t.event_id} outputs packs of this unit"
                if packed & set(_canonicals(t.event.get("outputEPCList")))
                else f"{t.event_id} outputs nothing packed in this unit",
            )
            for t in transformations
        ]
    checks = []
    for t in transformations:
        own = output_lots(t.event)
        ok = len(lots) == 1 and own == lots
        checks.append(
            Check(
                "one batch",
                ok,
                f"{t.event_id} outputs {_lots_text(own)}"
                + ("" if ok else f"; the bundle's transformations output {_lots_text(lots)}"),
            )
        )
    return checks


def _subject_links(
    bundle: Bundle, by_role: dict[str, list[Entry]], outputs: set[str], lots: set[tuple[str, str]]
) -> list[Check]:
    subject = bundle.subject["identifier"]
    kind = bundle.subject["kind"]
    checks: list[Check] = []
    if kind == "lot":
        found = lot_of_class(subject)
        ok = found is not None and lots == {found}
        return [
            Check(
                "batch made by the transformation",
                ok,
                f"transformations output {_lots_text(lots)}, subject is "
                f"{_lots_text({found} if found else set())}",
            )
        ]
    by_id = {e.event_id: e for e in bundle.entries}
    producer = by_id.get(bundle.produced_by or "")
    if producer is None:
        return [Check("item produced", False, f"no receipt of producedBy {bundle.produced_by}")]
    if kind == "pack":
        if not is_serial(subject):
            return [Check("item produced", False, f"{subject} is not a pack (SGTIN)")]
        return [_pack_link(subject, producer, outputs, lots)]
    # a case or pallet: commissioned by its event, and every pack in it is an output
    commissioned = subject in _canonicals(producer.event.get("epcList")) and (
        producer.event.get("action") == "ADD"
    )
    checks.append(
        Check(
            "unit commissioned",
            commissioned,
            f"{producer.event_id} {'commissions' if commissioned else 'does not commission'} "
            f"{subject}",
        )
    )
    packings = by_role[ROLE_PACKING]
    if not packings:
        checks.append(Check("contents", False, f"no packing event for {subject}"))
    for p in packings:
        event = p.event
        children = _canonicals(event.get("childEPCs"))
        parent_ok = (
            event.get("type") == "AggregationEvent"
            and event.get("action") == "ADD"
            and _canonical(event.get("parentID")) == subject
        )
        strays = [c for c in children if c not in outputs]
        checks.append(
            Check(
                "contents are outputs",
                parent_ok and bool(children) and not strays,
                f"{p.event_id} packs {len(children)} items into "
                f"{_canonical(event.get('parentID'))}"
                + (
                    f"; not outputs of the transformation: {', '.join(strays[:3])}"
                    if strays
                    else ""
                ),
            )
        )
    return checks


def _pack_link(pack: str, producer: Entry, outputs: set[str], lots: set[tuple[str, str]]) -> Check:
    name = "pack is an output"
    if producer.role == ROLE_TRANSFORMATION:
        ok = pack in _canonicals(producer.event.get("outputEPCList"))
        return Check(
            name, ok, f"{producer.event_id} {'outputs' if ok else 'does not output'} {pack}"
        )
    event = producer.event
    lot = _ilmd_value(event, "lotNumber")
    commissioned = (
        event.get("type") == "ObjectEvent"
        and event.get("action") == "ADD"
        and pack in _canonicals(event.get("epcList"))
    )
    gtin = gtin_of(pack)
    ok = pack in outputs or (commissioned and isinstance(lot, str) and (gtin, lot) in lots)
    return Check(
        name,
        ok,
        f"{pack} commissioned by {producer.event_id} in lot {lot!r}; transformations output "
        f"{_lots_text(lots)}",
    )


def _input_links(transformations: list[Entry], api_lots: list[Entry]) -> list[Check]:
    checks: list[Check] = []
    by_lot: dict[str, list[Entry]] = {}
    for entry in api_lots:
        by_lot.setdefault(_canonical(entry.lot) or "", []).append(entry)
    wanted: set[str] = set()
    for t in transformations:
        for item in t.event.get("inputQuantityList") or []:
            cls = _canonical(item.get("epcClass")) if isinstance(item, dict) else None
            if cls is None:
                checks.append(Check("inputs", False, f"{t.event_id}: input {item!r} has no class"))
                continue
            wanted.add(cls)
    for cls in sorted(wanted):
        found = by_lot.get(cls, [])
        if len(found) != 1:
            checks.append(
                Check("input lot", False, f"{cls}: {len(found)} commissioning receipts, expected 1")
            )
            continue
        entry = found[0]
        made = cls in commissioned_classes(entry.event)
        checks.append(
            Check(
                "input lot commissioned",
                made,
                f"{entry.event_id} {'commissions' if made else 'does not commission'} {cls}",
            )
        )
        same = _same_address(entry.maker, entry.receipt.anchored_by)
        checks.append(
            Check(
                "maker",
                same,
                f"{cls}: claimed maker {entry.maker}, anchored by {entry.receipt.anchored_by}",
            )
        )
    for cls, entries in by_lot.items():
        if cls not in wanted:
            checks.append(
                Check(
                    "input lot",
                    False,
                    f"{cls or entries[0].lot!r} is not an input of the transformation",
                )
            )
    return checks


def _same_address(a: str | None, b: str) -> bool:
    try:
        return a is not None and Web3.to_checksum_address(a) == Web3.to_checksum_address(b)
    except ValueError:
        return False


def _lots_text(lots: Iterable[tuple[str, str]]) -> str:
    text = ", ".join(f"lot {lot} of GTIN {gtin}" for gtin, lot in sorted(lots))
    return text or "no lot"
