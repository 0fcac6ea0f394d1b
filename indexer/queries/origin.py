"""Building origin bundles (format in ``docs/origin.md``), from the index alone or over HTTP.

:func:`build_bundle` gathers a bundle through two small protocols: a :class:`GatewayClient`
giving receipts and an :class:`IndexerClient` giving traces. ``provenance origin-proof`` passes
HTTP clients (:mod:`provenance.origin_http`); ``GET /origin/{id}`` passes :class:`IndexReceipts`
and :class:`IndexTraces`, which answer from one database session, so the indexer alone makes
the same bundle the CLI writes. The format itself (constants, roles, the tolerance, reading a
bundle) is :mod:`medledger.formats.origin_bundle`; verifying bundles is :mod:`provenance.origin`'s
work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.orm import Session

from chain.deployment import Deployment
from indexer.queries.receipts import event_hash_of, receipt_for
from indexer.queries.trace import trace
from medledger.errors import OriginError as OriginError
from medledger.errors import OriginUnknownError as OriginUnknownError
from medledger.errors import ReceiptFormatError
from medledger.formats.mass_balance import Strength, compute_mass_balance
from medledger.formats.origin_bundle import (
    BUNDLE_TYPE,
    BUNDLE_VERSION,
    DEFAULT_TOLERANCE,
    ROLE_API_LOT,
    ROLE_ITEM,
    ROLE_PACKING,
    ROLE_TRANSFORMATION,
)
from medledger.formats.origin_bundle import parse_tolerance as parse_tolerance
from medledger.formats.receipt import Receipt


class GatewayClient(Protocol):
    def receipt(self, event_id: str) -> dict[str, Any]:
        """The receipt (version 1, event embedded) of an anchored event, as JSON."""
        ...


class IndexerClient(Protocol):
    def trace(self, identifier: str) -> dict[str, Any]:
        """The indexer's trace of a pack, case or lot (``GET /trace/{id}``)."""
        ...


class IndexReceipts:
    """Receipts issued by the index itself (:mod:`indexer.queries.receipts`), as a
    :class:`GatewayClient`: no gateway involved."""

    def __init__(self, session: Session, deployment: Deployment) -> None:
        self.session = session
        self.deployment = deployment

    def receipt(self, event_id: str) -> dict[str, Any]:
        return receipt_for(self.session, event_hash_of(event_id), self.deployment).to_json()


class IndexTraces:
    """The trace query (:func:`indexer.queries.trace.trace`), as an :class:`IndexerClient`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def trace(self, identifier: str) -> dict[str, Any]:
        return trace(self.session, identifier)


def origin_bundle(
    session: Session,
    identifier: str,
    deployment: Deployment,
    *,
    api_per_pack: Strength | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``GET /origin/{id}``: the bundle from the index alone (trace and receipts)."""
    return build_bundle(
        identifier,
        IndexReceipts(session, deployment),
        IndexTraces(session),
        api_per_pack=api_per_pack,
        tolerance=tolerance,
        now=now,
    )


def build_bundle(
    identifier: str,
    gateway: GatewayClient,
    indexer: IndexerClient,
    *,
    api_per_pack: Strength | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The origin bundle of a pack, case or finished lot (raises :class:`OriginError`;
    :class:`OriginUnknownError` when the index lacks a step)."""
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
        raise OriginUnknownError(f"the index knows no transformation that made {canonical}")
    transformation_ids = {t.get("eventID") for t in transformations}
    produced_by: str | None = None
    history = trace.get("history") or []
    if kind in ("pack", "logistic-unit"):
        first = (history[0].get("event") or {}) if history else {}
        produced_by = first.get("eventID")
        if produced_by is None:
            raise OriginUnknownError(f"the index does not know what produced {canonical}")
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
                raise OriginUnknownError(
                    f"the index does not know where {put.get('identifier')} began"
                )
            add(ROLE_API_LOT, origin["eventID"], lot=put.get("identifier"), maker=put.get("maker"))
    declared = declarations_in(trace)
    entries: list[dict[str, Any]] = []
    for role, event_id, extra in plan:
        if event_id in declared:  # the index knows it was declared erroneous: say so
            extra = {**extra, "errorDeclaration": declared[event_id]}
        receipt = gateway.receipt(event_id)
        try:
            parsed = Receipt.from_json(receipt)
        except ReceiptFormatError as exc:
            raise OriginError(f"the receipt of {event_id} is malformed: {exc}") from exc
        if parsed.event is None:
            raise OriginError(f"the receipt of {event_id} does not embed the event")
        entries.append({"role": role, "eventID": event_id, **extra, "receipt": receipt})
    events = [e["receipt"]["event"] for e in entries if e["role"] == ROLE_TRANSFORMATION]
    balance = compute_mass_balance(events, declared=api_per_pack, tolerance=tolerance)
    if api_per_pack is not None:  # an explicit strength wins over the ILMD when building
        balance = compute_mass_balance(events, override=api_per_pack, tolerance=tolerance)
    subject: dict[str, Any] = {"requested": identifier, "identifier": canonical, "kind": kind}
    if len(batches) == 1:
        subject |= {"gtin": batches[0].get("gtin"), "lot": batches[0].get("lot")}
    moment = now or datetime.now(UTC)
    known = trace.get("participants") or {}
    named = [e.get("maker") for e in entries] + [e["receipt"].get("anchored_by") for e in entries]
    return {
        "type": BUNDLE_TYPE,
        "version": BUNDLE_VERSION,
        "created": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "subject": subject,
        "producedBy": produced_by,
        "apiPerPack": api_per_pack.text if api_per_pack is not None else None,
        "massBalance": balance.to_json(),
        "receipts": entries,
        # for people: each maker's and anchoring participant's name and GLN (not verified:
        # `provenance verify` checks the receipts, not what the registry calls a participant)
        "participants": {a: known[a] for a in dict.fromkeys(named) if a in known},
    }


def declarations_in(trace: Any) -> dict[str, Any]:
    """eventID -> errorDeclaration of every step of ``trace`` that shows one."""
    found: dict[str, Any] = {}
    stack = [trace]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("eventID"), str) and node.get("errorDeclaration"):
                found[node["eventID"]] = node["errorDeclaration"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


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
        raise OriginUnknownError(f"the index knows no packing of contents into {unit}")
    return found
