"""Exchange: the events of a pack, a case or pallet, a lot or an anchored batch, as one EPCIS 2.0
document another system can capture (``GET /exports/{id}``, ``provenance export``).

What an export holds (its *custody chain*, in chain order):

- a pack, case or pallet: every event naming it, or one of its containers while it was inside
  (as ``GET /epcs/{epc}/events``), and upstream, from :func:`indexer.queries.trace.trace`, the
  transformation(s) that made its lot and, for each input lot, the event where that lot began
  (its commissioning, by its maker);
- a lot (an LGTIN, a Digital Link with ``/10/``, or a GTIN and a lot): every event naming the
  lot's class (quantities) or one of the lot's packs, or a container while one of them was inside,
  and the same upstream;
- a batch (its Merkle root, ``0x`` and 64 hex digits): the events anchored under that root.

Each event is served as anchored (so it re-hashes to its eventID wherever it is captured), with
its ``eventID``; an event declared erroneous later carries the latest ``errorDeclaration`` (not
hashed), as ``GET /events`` serves it; ``recordTime`` is left out (a capturing system sets its
own). Receipts are not in the document: ``GET /exports/{id}/receipts`` gives them all (as
``GET /events/{eventID}/receipt`` gives each), which ``provenance export`` writes as a bundle of
their own.

Who may export: every reader key, each its own view (indexer/queries/visibility.py): a
regulator or auditor every event of the chain, a participant those of its custody chain (what
it captured, and every event on items it has held), an inspector its region's. A receipt reveals
nothing beyond its event (the proof's siblings are salted leaves), so a reader gets the receipt
of every event it may see.

The document's header carries the master data the events need (:func:`master_data`): the
versions true at export of the locations and products they name, as
``epcisHeader.epcisMasterData``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from chain.deployment import Deployment
from indexer.queries import masterdata as masterdata_queries
from indexer.queries.common import identifier, iso
from indexer.queries.epcs import window_seqs, windows_of
from indexer.queries.events import EPCIS_CONTEXT, declared_later
from indexer.queries.receipts import receipt_for
from indexer.queries.subjects import batch_root, identifier_of
from indexer.queries.trace import kind_of, trace
from indexer.store.models import EventItemRow, EventRow, ItemVersionRow, LotRow
from indexer.store.state import chunks
from medledger.epcis.digital_link import gtin_of, lot_of_class
from medledger.epcis.event_id import EventId, event_id_of
from medledger.epcis.identifiers import ID_GS1
from medledger.epcis.normalise import normalise_event
from medledger.epcis.terms import default_vocabulary
from medledger.errors import NotFoundError, QueryTooLargeError, ValidationError

#: The most events one export holds (a larger one is refused, 413: export its lots or batches).
MAX_EXPORT_EVENTS: Final = 10_000
KINDS: Final = ("pack", "logistic-unit", "lot", "batch")
_LOCATION: Final = ID_GS1 + "/414/"


@dataclass(frozen=True)
class Export:
    """What was asked for (canonical identifier, or the root as ``0x`` hex), its kind, and the
    hashes of its events in chain order."""

    identifier: str
    kind: str
    hashes: list[bytes]


def export_events(
    session: Session, value: str, visible: ColumnElement[bool] | None = None
) -> Export:
    """The custody chain's events of ``value`` (see the module docstring), only those meeting
    ``visible`` if given (a participant's or inspector's view: indexer/queries/visibility.py).
    NotFoundError when the index has no such item, lot or batch, or the reader sees none of its
    events (the same answer: a reader cannot tell it exists); QueryTooLargeError beyond
    :data:`MAX_EXPORT_EVENTS`."""
    found = _export_events(session, value)
    if visible is None:
        return found
    seen: set[bytes] = set()
    for part in chunks(found.hashes):
        seen.update(
            session.scalars(
                select(EventRow.event_hash).where(EventRow.event_hash.in_(part), visible)
            )
        )
    if not seen:
        what = "batch anchored with root " if found.kind == "batch" else ""
        raise NotFoundError(f"the index has no {what}{found.identifier}")
    return Export(found.identifier, found.kind, [h for h in found.hashes if h in seen])


def export_receipts(session: Session, export: Export, deployment: Deployment) -> list[Any]:
    """The receipt (JSON, event embedded) of each of the export's events, issued by the index as
    ``GET /events/{eventID}/receipt`` issues it, in the export's order."""
    return [receipt_for(session, h, deployment).to_json() for h in export.hashes]


def _export_events(session: Session, value: str) -> Export:
    root = batch_root(value)
    if root is not None:
        hashes = list(
            session.scalars(
                select(EventRow.event_hash).where(EventRow.root == root).order_by(EventRow.seq)
            )
        )
        if not hashes:
            raise NotFoundError(f"the index has no batch anchored with root 0x{root.hex()}")
        return Export(f"0x{root.hex()}", "batch", _bounded(hashes))
    canonical = identifier(identifier_of(value))
    kind = kind_of(canonical)
    starts = {canonical}
    if kind == "lot":
        found = lot_of_class(canonical)
        if found is None or session.get(LotRow, found) is None:
            raise NotFoundError(f"{canonical} is not in the index")
        gtin, lot = found
        starts.update(
            session.scalars(
                select(ItemVersionRow.identifier)
                .where(ItemVersionRow.gtin == gtin, ItemVersionRow.lot == lot)
                .distinct()
            )
        )
    elif (
        session.scalar(
            select(EventItemRow.seq).where(EventItemRow.identifier == canonical).limit(1)
        )
        is None
    ):
        raise NotFoundError(f"{canonical} is not in the index")
    seqs = window_seqs(session, windows_of(session, starts))
    if len(seqs) > MAX_EXPORT_EVENTS:
        _too_many(len(seqs))
    upstream = _upstream(trace(session, canonical))
    by_seq: dict[int, bytes] = {}
    for part in chunks(sorted(seqs)):
        by_seq.update(
            session.execute(
                select(EventRow.seq, EventRow.event_hash).where(EventRow.seq.in_(part))
            ).all()
        )
    for hashes in chunks(sorted(upstream)):
        by_seq.update(
            session.execute(
                select(EventRow.seq, EventRow.event_hash).where(EventRow.event_hash.in_(hashes))
            ).all()
        )
    return Export(canonical, kind, _bounded([by_seq[s] for s in sorted(by_seq)]))


def _upstream(found: dict[str, Any]) -> set[bytes]:
    """The transformations of the trace's batches and where each of their inputs began."""
    ids: set[str] = set()
    for batch in found["batches"]:
        for transformation in batch["transformations"]:
            ids.add(transformation["eventID"])
            for item in transformation["inputs"]:
                if item.get("origin"):
                    ids.add(item["origin"]["eventID"])
    return {EventId.parse(i).digest for i in ids}


def _bounded(hashes: list[bytes]) -> list[bytes]:
    if len(hashes) > MAX_EXPORT_EVENTS:
        _too_many(len(hashes))
    return hashes


def _too_many(count: int) -> None:
    raise QueryTooLargeError(
        f"{count} events: an export holds at most {MAX_EXPORT_EVENTS}; export its lots, "
        "packs or batches one by one",
        rule="export.tooLarge",
        pointer="id",
    )


def master_data(session: Session, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The vocabularies (EPCIS ``epcisHeader.epcisMasterData.vocabularyList``) of the master
    data the events need: the locations they name (``readPoint``, ``bizLocation``, sources and
    destinations that are locations: each its own record, else its GLN's, and its parent site)
    and the products (the GTIN of every pack, lot or class they name), each in the version true
    at export (:func:`indexer.queries.masterdata.vocabularies`); none when the index holds none.

    A record travels with its effective time, so the receiving side makes the same record (the
    same digest and id) of it; who may declare it there is that network's rule
    (docs/exchange.md: its regulator imports the document's master data first)."""
    locations: set[str] = set()
    gtins: set[str] = set()
    vocabulary = default_vocabulary()
    for at, event in enumerate(events):
        try:
            facts = normalise_event(event, at, vocabulary)
        except ValidationError:
            continue  # an event under the epcis rule set naming no GS1 key: nothing to describe
        for place in (facts.read_point, facts.biz_location):
            if place:
                locations.add(place)
        for party in (*facts.sources, *facts.destinations):
            if party.id.startswith(_LOCATION):
                locations.add(party.id)
        quantities = (*facts.quantities, *facts.input_quantities, *facts.output_quantities)
        named = [
            *facts.epcs,
            *facts.child_epcs,
            *facts.input_epcs,
            *facts.output_epcs,
            *([facts.parent_id] if facts.parent_id else []),
            *(q.class_id for q in quantities),
        ]
        gtins.update(g for g in (gtin_of(i) for i in named) if g)
    return masterdata_queries.vocabularies(session, locations, gtins)


def export_document(session: Session, export: Export) -> dict[str, Any]:
    """The EPCISDocument of an export's events (see the module docstring)."""
    rows: dict[bytes, str] = {}
    for part in chunks(export.hashes):
        rows.update(
            session.execute(
                select(EventRow.event_hash, EventRow.raw).where(EventRow.event_hash.in_(part))
            ).all()
        )
    declared = declared_later(session, export.hashes)
    events: list[dict[str, Any]] = []
    for event_hash in export.hashes:
        event: dict[str, Any] = json.loads(rows[event_hash])
        if event.get("@context") == EPCIS_CONTEXT:
            del event["@context"]  # the document's; any other stays on the event (it re-hashes)
        event.pop("recordTime", None)
        event.setdefault("eventID", event_id_of(event_hash))
        if "errorDeclaration" not in event and event_hash in declared:
            event["errorDeclaration"] = declared[event_hash][-1]
        events.append(event)
    document: dict[str, Any] = {
        "@context": EPCIS_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(datetime.now(UTC)),
    }
    vocabularies = master_data(session, events)
    if vocabularies:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    document["epcisBody"] = {"eventList": events}
    return document
