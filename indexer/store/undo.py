"""Undoing what an event declared erroneous did to custody: re-projection without it.

For each newly indexed error declaration (in sequence order), the items and API-lot classes the
declared event touched are projected again from nothing, from every indexed event that names
them in sequence order, **leaving out every event declared erroneous** (this declaration's and
any earlier one's); corrective events indexed already are among them, and those indexed later
apply on top like any event. Where the re-projected state differs from the current one, a new
version is written at the declaration's sequence number, in its block; where the re-projection
has no state at all (an item only the erroneous event brought into the index, a holding only it
made), the current version is closed there and none follows: the item is unknown to the index
again, as if the event had never been captured. New versions and closings, never edits: a
reorganisation that orphans the declaration's block deletes the versions and re-opens what they
closed (:func:`indexer.store.writes.rollback_to`).

Which items: the identifiers the declared event names (EPCs, parent, children, inputs,
outputs) and, until nothing new turns up, every identifier that was ever a parent or a child of
one of them (the current versions, and every aggregation event naming them; all by indexed
columns, never a scan of every version): shipping a
case moves its packs, so a pack's history includes its cases' events. Which classes: those the
declared event names with quantities; their holdings are re-projected from every event that
names the class.

The re-projection uses the same :class:`~indexer.projection.Projector` as loading (``RECORD``
mode), over a blank state: it reads no stored version, holding or held-back event, only the
participants and lots. Its anomalies and held-back findings are not recorded (the alerts raised
when the events were first indexed stay); an event that was held back and applied only later
(its item commissioned after it) is applied in its own turn again, so it stays out if it still
does not fit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from indexer.projection import (
    EventContext,
    HoldingKey,
    HoldingState,
    ItemState,
    PendingEvent,
    Projector,
)
from indexer.store import supply, tallies
from indexer.store.models import (
    ErrorDeclarationRow,
    EventItemRow,
    EventRow,
    HoldingVersionRow,
    ItemVersionRow,
)
from indexer.store.state import SqlStateReader, chunks, item_state, read_registry
from medledger.epcis.normalise import normalise_event
from medledger.epcis.terms import Vocabulary, default_vocabulary

#: roles of ``ix_event_items`` that name instances (the others name classes with quantities)
_INSTANCE_ROLES = ("epc", "parent", "child", "input", "output")
_CLASS_ROLES = ("quantity", "child_quantity", "input_quantity", "output_quantity")
#: the state of an item as compared (not its sequence number or time: those follow the event)
_COMPARED = ("status", "holder", "location", "parent", "in_transit_to", "gtin", "lot", "event_hash")


class _Blank:
    """A :class:`~indexer.projection.StateReader` with no items, holdings or held-back events,
    and the stored participants and lots (so the re-projection adds none)."""

    def __init__(self, stored: SqlStateReader) -> None:
        self._stored = stored

    def items(self, identifiers: Iterable[str]) -> dict[str, ItemState]:
        return {}

    def children(self, parents: Iterable[str]) -> dict[str, list[str]]:
        return {}

    def holding(self, key: HoldingKey) -> HoldingState | None:
        return None

    def participant_by_gln(self, gln: str) -> str | None:
        return self._stored.participant_by_gln(gln)

    def lots(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        return set(keys)

    def roles(self, address: str) -> int:
        return self._stored.roles(address)

    def pending(self, identifiers: Iterable[str]) -> list[PendingEvent]:
        return []


def undo_declared(
    session: Session,
    declarations: list[dict[str, Any]],
    supply_changed: set[tuple[str, str]] | None = None,
) -> int:
    """Re-project what each newly indexed declaration's event touched without the events
    declared erroneous (see the module docstring); how many versions were written or closed.
    The new versions are accounted in the supply totals (:mod:`indexer.store.supply`); the
    (region, GTIN) pairs that changed are added to ``supply_changed``."""
    if not declarations:
        return 0
    erroneous = set(session.scalars(select(ErrorDeclarationRow.event_hash)))
    reader = SqlStateReader(session)
    vocabulary = default_vocabulary()
    changed = 0
    for declared in sorted(declarations, key=lambda d: d["seq"]):
        identifiers, classes = _touched(session, declared["event_hash"])
        if not identifiers and not classes:
            continue  # the declared event is not indexed (or names nothing)
        projector = _reproject(session, reader, vocabulary, identifiers, classes, erroneous)
        seq, block = declared["seq"], declared["block_number"]
        steps: list[supply.Step] = []
        changed += _write_items(session, projector, identifiers, seq, block, steps)
        if steps:
            keys = supply.account(session, block, steps, read_registry(session))
            if supply_changed is not None:
                supply_changed |= keys
        changed += _write_holdings(session, projector, classes, seq, block)
    return changed


def _touched(session: Session, event_hash: bytes) -> tuple[set[str], set[str]]:
    """The instances (with everything ever packed with them) and classes an event names."""
    seq = session.scalar(select(EventRow.seq).where(EventRow.event_hash == event_hash))
    if seq is None:
        return set(), set()
    rows = session.execute(
        select(EventItemRow.identifier, EventItemRow.role).where(EventItemRow.seq == seq)
    ).all()
    classes = {i for i, role in rows if role in _CLASS_ROLES}
    seen = {i for i, role in rows if role in _INSTANCE_ROLES}
    frontier = set(seen)
    while frontier:
        found: set[str] = set()
        for part in chunks(sorted(frontier)):
            # current parents and contents (indexed), and every packing that named one of
            # them as parent or child (what was in a case once, and the cases a pack was in)
            v = ItemVersionRow
            current = v.valid_to.is_(None)
            parents = select(v.parent).where(v.identifier.in_(part), current, v.parent.is_not(None))
            found.update(p for p in session.scalars(parents) if p is not None)
            found.update(session.scalars(select(v.identifier).where(v.parent.in_(part), current)))
            packings = select(EventItemRow.seq).where(
                EventItemRow.identifier.in_(part), EventItemRow.role.in_(("parent", "child"))
            )
            found.update(
                session.scalars(
                    select(EventItemRow.identifier).where(
                        EventItemRow.seq.in_(packings), EventItemRow.role.in_(("parent", "child"))
                    )
                )
            )
        frontier = found - seen
        seen |= frontier
    return seen, classes


def _reproject(
    session: Session,
    reader: SqlStateReader,
    vocabulary: Vocabulary,
    identifiers: set[str],
    classes: set[str],
    erroneous: set[bytes],
) -> Projector:
    """A projector that applied, from a blank state, every indexed event naming any of
    ``identifiers`` or ``classes`` except the erroneous ones, in sequence order."""
    seqs: set[int] = set()
    for part in chunks(sorted(identifiers | classes)):
        seqs.update(
            session.scalars(select(EventItemRow.seq).where(EventItemRow.identifier.in_(part)))
        )
    rows: list[Any] = []
    for seq_part in chunks(sorted(seqs)):
        rows.extend(
            session.execute(
                select(EventRow.seq, EventRow.event_hash, EventRow.submitter, EventRow.raw).where(
                    EventRow.seq.in_(seq_part)
                )
            ).all()
        )
    events = [
        (normalise_event(json.loads(raw), 0, vocabulary), EventContext(event_hash, seq, submitter))
        for seq, event_hash, submitter, raw in sorted(rows, key=lambda r: r[0])
        if event_hash not in erroneous
    ]
    projector = Projector(_Blank(reader), [ev for ev, _ in events], with_pending=False)
    for ev, ctx in events:
        projector.apply(ev, ctx)
    return projector


def _write_items(
    session: Session,
    projector: Projector,
    identifiers: set[str],
    seq: int,
    block: int,
    steps: list[supply.Step],
) -> int:
    replayed = projector.known_state()[0]
    current: dict[str, ItemState] = {}
    for part in chunks(sorted(identifiers)):
        for row in session.scalars(
            select(ItemVersionRow).where(
                ItemVersionRow.identifier.in_(part), ItemVersionRow.valid_to.is_(None)
            )
        ):
            current[row.identifier] = item_state(row)
    written = 0
    changes: list[tuple[str | None, str | None]] = []  # (closed, left current) statuses
    for identifier in sorted(identifiers):
        now, then = current.get(identifier), replayed.get(identifier)
        if _same(now, then):
            continue
        changes.append((now.status if now else None, then.status if then else None))
        steps.append((now, then))
        if now is not None:
            session.execute(
                update(ItemVersionRow)
                .where(
                    ItemVersionRow.identifier == identifier,
                    ItemVersionRow.valid_from == now.seq,
                )
                .values(valid_to=seq)
            )
        if then is not None:
            session.execute(
                insert(ItemVersionRow).values(
                    identifier=identifier,
                    valid_from=seq,
                    valid_to=None,
                    block_number=block,
                    event_hash=then.event_hash,
                    event_time=then.event_time,
                    status=then.status,
                    holder=then.holder,
                    location=then.location,
                    parent=then.parent,
                    in_transit_to=then.in_transit_to,
                    gtin=then.gtin,
                    lot=then.lot,
                )
            )
        written += 1
    tallies.add_items(session, block, tallies.item_deltas(changes))
    return written


def _same(now: ItemState | None, then: ItemState | None) -> bool:
    if now is None or then is None:
        return now is then
    return all(getattr(now, f) == getattr(then, f) for f in _COMPARED)


def _write_holdings(
    session: Session, projector: Projector, classes: set[str], seq: int, block: int
) -> int:
    if not classes:
        return 0
    h = HoldingVersionRow
    current: dict[HoldingKey, Any] = {}
    for part in chunks(sorted(classes)):
        for row in session.scalars(select(h).where(h.class_id.in_(part), h.valid_to.is_(None))):
            current[(row.class_id, row.holder, row.in_transit_to)] = row
    replayed = {
        key: versions[-1]
        for key, versions in projector.out.holding_versions.items()
        if key[0] in classes and versions
    }
    written = 0
    for key in sorted(set(current) | set(replayed)):
        now, then = current.get(key), replayed.get(key)
        if (
            now is not None
            and then is not None
            and (now.quantity, now.uom)
            == (
                then.quantity,
                then.uom,
            )
        ):
            continue
        if now is not None:
            session.execute(
                update(h)
                .where(
                    h.class_id == key[0],
                    h.holder == key[1],
                    h.in_transit_to == key[2],
                    h.valid_from == now.valid_from,
                )
                .values(valid_to=seq)
            )
        if then is not None:
            session.execute(
                insert(h).values(
                    class_id=key[0],
                    holder=key[1],
                    in_transit_to=key[2],
                    valid_from=seq,
                    valid_to=None,
                    block_number=block,
                    event_hash=then.event_hash,
                    quantity=then.quantity,
                    uom=then.uom,
                )
            )
        written += 1
    return written
