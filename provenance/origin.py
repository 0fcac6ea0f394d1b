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
(:mod:`provenance.origin_http`) and in-process alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from web3 import Web3

from chain.client import Chain
from chain.errors import ReceiptFormatError, ValidationError
from chain.receipts import EventHasher, Receipt
from chain.verification import Check, Verdict, verify_receipt
from gateway.epcis.event_hash import HASH_PREFIX, HASH_SUFFIX
from gateway.epcis.identifiers import canonical_identifier
from gateway.rules.identifiers import gtin_of, is_serial, lot_of_class
from indexer.detection.mass_balance import COUNT_UNITS as COUNT_UNITS
from indexer.detection.mass_balance import MASS_UNITS as MASS_UNITS
from indexer.detection.mass_balance import MassBalance as MassBalance
from indexer.detection.mass_balance import MassBalanceError
from indexer.detection.mass_balance import Strength as Strength
from indexer.detection.mass_balance import compute_mass_balance as compute_mass_balance
from indexer.detection.mass_balance import ilmd_strength as ilmd_strength
from indexer.detection.mass_balance import parse_strength as parse_strength
from provenance.journey import MPL_NAMESPACE

BUNDLE_TYPE = "origin-bundle"
BUNDLE_VERSION = 1
DEFAULT_TOLERANCE = Decimal("0.05")

#: The project's EPCIS extension namespace; ``mpl:apiPerPack`` in an ILMD (with ``"mpl"``
#: mapped to this IRI in the document's ``@context``) states the API content of one pack.
EXTENSION_NAMESPACE = MPL_NAMESPACE
EXTENSION_PREFIX = "mpl"
API_PER_PACK_TERM = "apiPerPack"

ROLE_ITEM = "item"  # the event that commissioned the item (when not the transformation)
ROLE_PACKING = "packing"  # an AggregationEvent that packed outputs into the case
ROLE_TRANSFORMATION = "transformation"
ROLE_API_LOT = "api-lot"  # the event that commissioned an API lot the transformation consumed
ROLES = (ROLE_ITEM, ROLE_PACKING, ROLE_TRANSFORMATION, ROLE_API_LOT)

#: An origin proof cannot be made or read (unusable input: exit code 2).
OriginError = MassBalanceError


class BundleFormatError(OriginError):
    """A document claims to be an origin bundle but is malformed."""


# --- strength -------------------------------------------------------------------------------


def parse_tolerance(text: str) -> Decimal:
    """``5%`` or ``0.05`` -> ``Decimal('0.05')``."""
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation as exc:
        raise OriginError(f"tolerance must be a fraction or a percentage, got {text!r}") from exc
    if not value.is_finite() or value < 0 or value >= 1:
        raise OriginError(f"tolerance must be at least 0 and below 100%, got {text!r}")
    return value


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# --- reading events -------------------------------------------------------------------------


def event_id_of(event_hash: bytes) -> str:
    return f"{HASH_PREFIX}{event_hash.hex()}{HASH_SUFFIX}"


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


# --- building a bundle ----------------------------------------------------------------------


class GatewayClient(Protocol):
    def receipt(self, event_id: str) -> dict[str, Any]:
        """The receipt (version 1, event embedded) of an anchored event, as JSON."""
        ...


class IndexerClient(Protocol):
    def trace(self, identifier: str) -> dict[str, Any]:
        """The indexer's trace of a pack, case or lot (``GET /trace/{id}``)."""
        ...


def build_bundle(
    identifier: str,
    gateway: GatewayClient,
    indexer: IndexerClient,
    *,
    api_per_pack: Strength | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The origin bundle of a pack, case or finished lot (raises :class:`OriginError`)."""
    trace = indexer.trace(identifier)
    kind = trace.get("kind")
    canonical = trace.get("identifier")
    if kind not in ("pack", "logistic-unit", "lot") or not isinstance(canonical, str):
        raise OriginError(f"the indexer's trace of {identifier} is not usable")
    plan: list[tuple[str, str, dict[str, Any]]] = []  # (role, eventID, extra fields)
    seen: set[str] = set()

    def add(role: str, event_id: Any, **extra: Any) -> None:
        if not isinstance(event_id, str):
            raise OriginError(f"the trace of {identifier} has a {role} step without eventID")
        if event_id not in seen:
            seen.add(event_id)
            plan.append((role, event_id, extra))

    batches = trace.get("batches") or []
    transformations = [t for b in batches for t in b.get("transformations") or []]
    if not transformations:
        raise OriginError(f"the index knows no transformation that made {canonical}")
    transformation_ids = {t.get("eventID") for t in transformations}
    produced_by: str | None = None
    history = trace.get("history") or []
    if kind in ("pack", "logistic-unit"):
        first = (history[0].get("event") or {}) if history else {}
        produced_by = first.get("eventID")
        if produced_by is None:
            raise OriginError(f"the index does not know what produced {canonical}")
        if produced_by not in transformation_ids:
            add(ROLE_ITEM, produced_by)
    if kind == "logistic-unit":
        for event_id in _packing_events(canonical, trace, indexer):
            add(ROLE_PACKING, event_id)
    for t in transformations:
        add(ROLE_TRANSFORMATION, t.get("eventID"))
    for t in transformations:
        for put in t.get("inputs") or []:
            origin = put.get("origin") or {}
            if origin.get("eventID") is None:
                raise OriginError(f"the index does not know where {put.get('identifier')} began")
            add(ROLE_API_LOT, origin["eventID"], lot=put.get("identifier"), maker=put.get("maker"))
    entries: list[dict[str, Any]] = []
    for role, event_id, extra in plan:
        receipt = gateway.receipt(event_id)
        try:
            parsed = Receipt.from_json(receipt)
        except ReceiptFormatError as exc:
            raise OriginError(f"the gateway's receipt of {event_id} is malformed: {exc}") from exc
        if parsed.event is None:
            raise OriginError(f"the gateway's receipt of {event_id} does not embed the event")
        entries.append({"role": role, "eventID": event_id, **extra, "receipt": receipt})
    events = [e["receipt"]["event"] for e in entries if e["role"] == ROLE_TRANSFORMATION]
    balance = compute_mass_balance(events, declared=api_per_pack, tolerance=tolerance)
    if api_per_pack is not None:  # an explicit strength wins over the ILMD when building
        balance = compute_mass_balance(events, override=api_per_pack, tolerance=tolerance)
    subject: dict[str, Any] = {"requested": identifier, "identifier": canonical, "kind": kind}
    if len(batches) == 1:
        subject |= {"gtin": batches[0].get("gtin"), "lot": batches[0].get("lot")}
    moment = now or datetime.now(UTC)
    return {
        "type": BUNDLE_TYPE,
        "version": BUNDLE_VERSION,
        "created": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "subject": subject,
        "producedBy": produced_by,
        "apiPerPack": api_per_pack.text if api_per_pack is not None else None,
        "massBalance": balance.to_json(),
        "receipts": entries,
    }


def _packing_events(unit: str, trace: dict[str, Any], indexer: IndexerClient) -> list[str]:
    """AggregationEvents that packed the unit's contents into it (one trace per uncovered pack)."""
    contents = [
        c["identifier"]
        for c in trace.get("contents") or []
        if isinstance(c, dict) and c.get("parent") == unit and isinstance(c.get("identifier"), str)
    ]
    found: list[str] = []
    covered: set[str] = set()
    for item in contents:
        if item in covered:
            continue
        for version in indexer.trace(item).get("history") or []:
            event = version.get("event") or {}
            if version.get("parent") == unit and event.get("type") == "AggregationEvent":
                if event["eventID"] not in found:
                    found.append(event["eventID"])
                covered.add(item)
        covered.add(item)
    if not found:
        raise OriginError(f"the index knows no packing of contents into {unit}")
    return found


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
