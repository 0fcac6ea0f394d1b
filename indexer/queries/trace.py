"""Trace: from a pack, a case or pallet, or a finished lot, up to the API lots and their makers,
and down through every custody version of the item (dispensing included).

Upstream, for each finished lot: its transformation event (outputs that name the pack, or an
output quantity of the lot class, or outputs of packs of the lot), the inputs it consumed (API
lots with quantity and unit), and for each input the event that commissioned it and its maker.
Every step carries its ``eventID`` and its anchor (root, txHash, blockNumber).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import literal, select, tuple_, union
from sqlalchemy.orm import Session, aliased

from indexer.queries.common import (
    decimal_text,
    identifier,
    iso,
    lot_class_id,
    participants,
    recall_json,
    steps,
    version_json,
)
from indexer.queries.masterdata import location_facts, product_facts
from indexer.queries.recalls import holder_status_summary
from indexer.store.models import (
    EventItemRow,
    EventRow,
    ItemVersionRow,
    LotRow,
    RecallRow,
)
from indexer.store.state import chunks
from medledger.epcis.digital_link import gtin_of, is_serial, lot_of_class
from medledger.errors import NotFoundError, ValidationError

#: How deep contents are followed (pallet > case > pack is 2).
CONTENT_DEPTH = 4
INPUT_ROLES = ("input", "input_quantity")


def kind_of(canonical: str) -> str:
    if is_serial(canonical):
        return "pack"
    if canonical.startswith("https://id.gs1.org/00/"):
        return "logistic-unit"
    if lot_of_class(canonical) is not None:
        return "lot"
    raise ValidationError(
        f"{canonical} is neither a pack (SGTIN), a case or pallet (SSCC) nor a lot (LGTIN)",
        rule="query.trace",
        pointer="id",
    )


def trace(session: Session, value: str) -> dict[str, Any]:
    """The trace of one identifier (raises NotFoundError if the index never saw it)."""
    canonical = identifier(value)
    kind = kind_of(canonical)
    history: list[ItemVersionRow] = []
    contents: list[ItemVersionRow] = []
    lots: list[tuple[str, str]] = []
    summary: list[dict[str, Any]] | None = None
    if kind == "lot":
        found = lot_of_class(canonical)
        if found is None:  # kind_of said "lot" because it is one: cannot happen
            raise ValidationError(f"{canonical} is not a lot (LGTIN)", rule="query.trace")
        if session.get(LotRow, found) is None:
            raise NotFoundError(f"lot {found[1]} of GTIN {found[0]} is not in the index")
        lots = [found]
        summary = holder_status_summary(session, *found)
    else:
        history = list(
            session.scalars(
                select(ItemVersionRow)
                .where(ItemVersionRow.identifier == canonical)
                .order_by(ItemVersionRow.valid_from)
            )
        )
        if not history:
            raise NotFoundError(f"{canonical} is not in the index")
        if kind == "logistic-unit":
            contents = contents_of(session, canonical)
            lots = sorted({(r.gtin, r.lot) for r in contents if r.gtin and r.lot})
        elif history[-1].gtin and history[-1].lot:
            lots = [(history[-1].gtin, history[-1].lot)]
    batches = [
        batch_trace(session, gtin, lot, pack=canonical if kind == "pack" else None)
        for gtin, lot in lots
    ]
    made = steps(session, (r.event_hash for r in history))
    versions = [version_json(r, made.get(r.event_hash)) for r in history]
    addresses: set[str | None] = set()
    for v in versions:
        addresses.update((v["holder"], v["inTransitTo"], (v["event"] or {}).get("submitter")))
    for r in contents:
        addresses.update((r.holder, r.in_transit_to))
    for b in batches:
        addresses.add(b["commissionedBy"])
        for t in b["transformations"]:
            addresses.add(t["submitter"])
            for i in t["inputs"]:
                addresses.add(i["maker"])
    shown = [*versions, *({"location": r.location, "gtin": r.gtin} for r in contents)]
    return {
        "identifier": canonical,
        "kind": kind,
        "current": versions[-1] if versions else None,
        "batches": batches,
        "history": versions,
        "contents": [version_json(r, None) | {"event": None} for r in contents],
        "summary": summary,
        "participants": participants(session, addresses),
        "locations": location_facts(session, (v["location"] for v in shown)),
        "products": product_facts(
            session, [*(v["gtin"] for v in shown), *(b["gtin"] for b in batches)]
        ),
    }


def contents_of(session: Session, unit: str) -> list[ItemVersionRow]:
    """Current state of everything that is or was packed in ``unit`` (and in what it holds)."""
    seen: dict[str, ItemVersionRow] = {}
    frontier = {unit}
    for _ in range(CONTENT_DEPTH):
        kids = _children(session, frontier) - seen.keys() - {unit}
        if not kids:
            break
        for part in chunks(sorted(kids)):
            for row in session.scalars(
                select(ItemVersionRow).where(
                    ItemVersionRow.identifier.in_(part), ItemVersionRow.valid_to.is_(None)
                )
            ):
                seen[row.identifier] = row
        frontier = kids
    return sorted(seen.values(), key=lambda r: r.identifier)


def _children(session: Session, parents: Iterable[str]) -> set[str]:
    """Identifiers packed into ``parents`` by an aggregation, or inside them now."""
    out: set[str] = set()
    parent = aliased(EventItemRow)
    child = aliased(EventItemRow)
    for part in chunks(sorted(set(parents))):
        out.update(
            session.scalars(
                select(child.identifier)
                .join(parent, parent.seq == child.seq)  # the same event (seq is indexed)
                .where(parent.identifier.in_(part), parent.role == "parent", child.role == "child")
            )
        )
        out.update(
            session.scalars(
                select(ItemVersionRow.identifier).where(
                    ItemVersionRow.parent.in_(part), ItemVersionRow.valid_to.is_(None)
                )
            )
        )
    return out


def _transformation_hashes(session: Session, gtin: str, lot: str, pack: str | None) -> list[bytes]:
    if pack is not None:
        found = list(
            session.scalars(
                select(EventItemRow.event_hash)
                .join(EventRow, EventRow.event_hash == EventItemRow.event_hash)
                .where(
                    EventItemRow.identifier == pack,
                    EventItemRow.role == "output",
                    EventRow.type == "TransformationEvent",
                )
            )
        )
        if found:
            return found
    class_id = lot_class_id(gtin, lot)
    by_class = select(EventItemRow.event_hash).where(
        EventItemRow.identifier == class_id, EventItemRow.role == "output_quantity"
    )
    by_packs = (
        select(EventItemRow.event_hash)
        .join(ItemVersionRow, ItemVersionRow.identifier == EventItemRow.identifier)
        .where(
            ItemVersionRow.valid_to.is_(None),
            ItemVersionRow.gtin == gtin,
            ItemVersionRow.lot == lot,
            EventItemRow.role == "output",
        )
    )
    return list(  # one statement (a trace's time is mostly its round trips)
        session.scalars(
            select(EventRow.event_hash)
            .where(
                EventRow.event_hash.in_(union(by_class, by_packs).scalar_subquery()),
                EventRow.type == "TransformationEvent",
            )
            .order_by(EventRow.seq)
        )
    )


def _lot_and_recall(
    session: Session, gtin: str, lot: str
) -> tuple[LotRow | None, RecallRow | None]:
    """The lot's row and its recall's, in one statement."""
    key = select(literal(gtin).label("gtin"), literal(lot).label("lot")).subquery()
    found = session.execute(
        select(LotRow, RecallRow)
        .select_from(key)
        .outerjoin(LotRow, (LotRow.gtin == key.c.gtin) & (LotRow.lot == key.c.lot))
        .outerjoin(RecallRow, (RecallRow.gtin == key.c.gtin) & (RecallRow.lot == key.c.lot))
    ).one()
    return found[0], found[1]


def batch_trace(
    session: Session, gtin: str, lot: str, *, pack: str | None = None
) -> dict[str, Any]:
    """A finished lot upstream: its transformations, their inputs, where each input began."""
    lot_row, recall = _lot_and_recall(session, gtin, lot)
    transformations = _transformation_hashes(session, gtin, lot, pack)
    inputs = (
        list(
            session.scalars(
                select(EventItemRow)
                .where(
                    EventItemRow.seq.in_(
                        select(EventRow.seq).where(EventRow.event_hash.in_(transformations))
                    ),
                    EventItemRow.role.in_(INPUT_ROLES),
                )
                .order_by(EventItemRow.seq, EventItemRow.role, EventItemRow.identifier)
            )
        )
        if transformations
        else []
    )
    # where each input began: a lot's first event (commissioning or production), or the
    # first version of an instance
    input_lots = {
        i.identifier: found for i in inputs if (found := lot_of_class(i.identifier)) is not None
    }
    lot_rows = {}
    if input_lots:
        lot_rows = {
            (r.gtin, r.lot): r
            for r in session.scalars(
                select(LotRow).where(tuple_(LotRow.gtin, LotRow.lot).in_(set(input_lots.values())))
            )
        }
    first_seqs = {r.first_seq for r in lot_rows.values()}
    origin_by_seq = (
        {
            seq: (h, submitter)
            for seq, h, submitter in session.execute(
                select(EventRow.seq, EventRow.event_hash, EventRow.submitter).where(
                    EventRow.seq.in_(first_seqs)
                )
            )
        }
        if first_seqs
        else {}
    )
    instance_inputs = sorted({i.identifier for i in inputs if i.identifier not in input_lots})
    first_versions: dict[str, ItemVersionRow] = {}
    for part in chunks(instance_inputs):
        for row in session.scalars(
            select(ItemVersionRow)
            .where(ItemVersionRow.identifier.in_(part))
            .order_by(ItemVersionRow.valid_from.desc())
        ):
            first_versions[row.identifier] = row  # the last assigned is the earliest
    origin_hashes = {h for h, _ in origin_by_seq.values()} | {
        r.event_hash for r in first_versions.values()
    }
    made = steps(session, set(transformations) | origin_hashes)

    def input_json(item: EventItemRow) -> dict[str, Any]:
        key = input_lots.get(item.identifier)
        origin: dict[str, Any] | None = None
        maker: str | None = None
        expiry = None
        gtin_lot: tuple[str | None, str | None] = (None, None)
        if key is not None:
            row = lot_rows.get(key)
            if row is not None:
                expiry = iso(row.expiry)
                maker = row.commissioned_by
                found = origin_by_seq.get(row.first_seq)
                if found is not None:
                    origin = made.get(found[0])
                    maker = found[1]
            gtin_lot = key
        else:
            version = first_versions.get(item.identifier)
            gtin_lot = (gtin_of(item.identifier), version.lot if version else None)
            if version is not None:
                origin = made.get(version.event_hash)
                maker = origin["submitter"] if origin else version.holder
        return {
            "identifier": item.identifier,
            "role": item.role,
            "gtin": gtin_lot[0],
            "lot": gtin_lot[1],
            "expiry": expiry,
            "quantity": decimal_text(item.quantity),
            "uom": item.uom,
            "origin": origin,
            "maker": maker,
        }

    by_event: dict[bytes, list[dict[str, Any]]] = {}
    for item in inputs:
        by_event.setdefault(item.event_hash, []).append(input_json(item))
    return {
        "classId": lot_class_id(gtin, lot),
        "gtin": gtin,
        "lot": lot,
        "expiry": iso(lot_row.expiry) if lot_row else None,
        "commissionedBy": lot_row.commissioned_by if lot_row else None,
        "recall": recall_json(recall),
        "transformations": [
            made[h] | {"inputs": by_event.get(h, [])} for h in transformations if h in made
        ],
    }
