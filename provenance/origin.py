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
indexer never imports :mod:`provenance`) and is re-exported here. The format itself (constants,
roles, the tolerance, :func:`parse_bundle`, :class:`BundleVerdict`) is the domain's,
:mod:`medledger.formats.origin_bundle`, re-exported here too; this module verifies.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from web3 import Web3

from chain.client import Chain
from chain.verification import Check, verify_receipt
from indexer.queries.origin import GatewayClient as GatewayClient
from indexer.queries.origin import IndexerClient as IndexerClient
from indexer.queries.origin import build_bundle as build_bundle
from medledger.epcis.digital_link import gtin_of, is_serial, lot_of_class
from medledger.epcis.event_id import event_id_of
from medledger.errors import BundleFormatError as BundleFormatError
from medledger.errors import OriginError as OriginError
from medledger.errors import OriginUnknownError as OriginUnknownError
from medledger.formats.mass_balance import COUNT_UNITS as COUNT_UNITS
from medledger.formats.mass_balance import MASS_UNITS as MASS_UNITS
from medledger.formats.mass_balance import MassBalance as MassBalance
from medledger.formats.mass_balance import Strength as Strength
from medledger.formats.mass_balance import compute_mass_balance as compute_mass_balance
from medledger.formats.mass_balance import ilmd_strength as ilmd_strength
from medledger.formats.mass_balance import parse_strength as parse_strength
from medledger.formats.origin_bundle import BUNDLE_TYPE as BUNDLE_TYPE
from medledger.formats.origin_bundle import BUNDLE_VERSION as BUNDLE_VERSION
from medledger.formats.origin_bundle import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from medledger.formats.origin_bundle import ROLE_API_LOT as ROLE_API_LOT
from medledger.formats.origin_bundle import ROLE_ITEM as ROLE_ITEM
from medledger.formats.origin_bundle import ROLE_PACKING as ROLE_PACKING
from medledger.formats.origin_bundle import ROLE_TRANSFORMATION as ROLE_TRANSFORMATION
from medledger.formats.origin_bundle import ROLES as ROLES
from medledger.formats.origin_bundle import Bundle as Bundle
from medledger.formats.origin_bundle import BundleVerdict as BundleVerdict
from medledger.formats.origin_bundle import Entry as Entry
from medledger.formats.origin_bundle import canonical, canonicals, ilmd_value
from medledger.formats.origin_bundle import commissioned_classes as commissioned_classes
from medledger.formats.origin_bundle import is_bundle as is_bundle
from medledger.formats.origin_bundle import output_lots as output_lots
from medledger.formats.origin_bundle import parse_bundle as parse_bundle
from medledger.formats.origin_bundle import parse_tolerance as parse_tolerance
from medledger.formats.receipt import EventHasher


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# --- verifying a bundle ---------------------------------------------------------------------


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
        outputs.update(canonicals(t.event.get("outputEPCList")))
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
                packed.update(canonicals(entry.event.get("childEPCs")))
        return [
            Check(
                "transformation made the contents",
                bool(packed & set(canonicals(t.event.get("outputEPCList")))),
                f"{t.event_id} outputs packs of this unit"
                if packed & set(canonicals(t.event.get("outputEPCList")))
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
    commissioned = subject in canonicals(producer.event.get("epcList")) and (
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
        children = canonicals(event.get("childEPCs"))
        parent_ok = (
            event.get("type") == "AggregationEvent"
            and event.get("action") == "ADD"
            and canonical(event.get("parentID")) == subject
        )
        strays = [c for c in children if c not in outputs]
        checks.append(
            Check(
                "contents are outputs",
                parent_ok and bool(children) and not strays,
                f"{p.event_id} packs {len(children)} items into "
                f"{canonical(event.get('parentID'))}"
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
        ok = pack in canonicals(producer.event.get("outputEPCList"))
        return Check(
            name, ok, f"{producer.event_id} {'outputs' if ok else 'does not output'} {pack}"
        )
    event = producer.event
    lot = ilmd_value(event, "lotNumber")
    commissioned = (
        event.get("type") == "ObjectEvent"
        and event.get("action") == "ADD"
        and pack in canonicals(event.get("epcList"))
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
        by_lot.setdefault(canonical(entry.lot) or "", []).append(entry)
    wanted: set[str] = set()
    for t in transformations:
        for item in t.event.get("inputQuantityList") or []:
            cls = canonical(item.get("epcClass")) if isinstance(item, dict) else None
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
