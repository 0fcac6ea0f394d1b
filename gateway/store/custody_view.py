"""The custody state in SQL: :class:`SqlCustodyView` for the rules, :func:`apply_changes` after.

One view serves one document: it caches what it read (including "absent"), so the rules can ask
the same question many times for the price of one query, and :meth:`SqlCustodyView.prefetch`
loads everything a document names in a few queries instead of one per event. The rules keep
their own overlay of the changes a document makes to itself; the view never sees those, and is
thrown away once the document is recorded.

Given :class:`~gateway.store.custody_locks.CustodyLocks` (PostgreSQL), the view takes the lock of
every key before it reads it (:mod:`medledger.custody.lock_keys`): an item's, before the item and
the items packed in it; the item's parent's, once it knows the parent (whoever moves an item in
or out of a parent holds the parent's key); a class's, before its quantities; a lot's, before its
authority. Recalled lots are covered by the global key the capture holds shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from gateway.store.custody_locks import CustodyLocks
from gateway.store.lots import commission_into_lot
from medledger.custody.lock_keys import GLOBAL_KEY, item_key, lot_key
from medledger.custody.state import (
    NO_TIME,
    CommissionIntoLot,
    ItemState,
    ItemStatus,
    LotAuthority,
    LotSuspension,
    MoveQuantity,
    Participant,
    PutItem,
    StateChange,
)
from medledger.errors import StoreConflictError
from servicekit.sql.helpers import (
    chunks,
    copy_rows,
    execute_raw,
    is_postgresql,
    key_chunks,
    member_of,
    upsert_insert,
    utcnow,
)

from .models import (
    CodeLotRow,
    ItemRow,
    LotClaimRow,
    ParticipantRow,
    QuantityRow,
    RecalledLotRow,
    SuspendedLotRow,
)
from .participants import prefixes_of

#: Levels of aggregation :meth:`SqlCustodyView.prefetch` follows down (pallet > case > pack).
PREFETCH_DEPTH = 4

#: PostgreSQL's transaction-level advisory lock key of the whole custody state.
_CUSTODY_LOCK_KEY = GLOBAL_KEY

#: Quantities are Numeric(20, 6): micro-units (a milligram of a kilogram).
QUANTUM = Decimal("0.000001")


def to_decimal(value: object) -> Decimal:
    """A stored quantity as an exact Decimal at the column's scale (SQLite keeps floats)."""
    return Decimal(str(value or 0)).quantize(QUANTUM)


def custody_lock(session: Session) -> None:
    """Hold the whole custody state still until the session's transaction ends.

    On PostgreSQL, ``pg_advisory_xact_lock`` on the global custody key: it waits for every capture
    in progress (each holds that key shared, :mod:`gateway.store.custody_locks`) and keeps new ones
    out until the commit or rollback. For recalls, code issuance, and a capture tried again after
    a deadlock. SQLite allows one writer at a time and a deployment runs one gateway process on
    it, which serialises in memory.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CUSTODY_LOCK_KEY})


def stored_state(row: Any) -> ItemState:
    """An ``items`` row (an :class:`ItemRow` or a Core row of its columns) as the rules see it."""
    return ItemState(
        identifier=row.identifier,
        status=ItemStatus(row.status),
        holder=row.holder,
        location=row.location,
        parent=row.parent,
        gtin=row.gtin,
        lot=row.lot,
        in_transit_to=row.in_transit_to,
        commissioned_by=row.commissioned_by,
        event_time=NO_TIME if row.event_time is None else row.event_time,
    )


class SqlCustodyView:
    """The custody view (:class:`medledger.custody.state.CustodyView`) over the store's tables,
    with per-document caching."""

    def __init__(self, session: Session, locks: CustodyLocks | None = None) -> None:
        self._session = session
        self._locks = locks
        self._items: dict[str, ItemState | None] = {}
        self._children: dict[str, list[str]] = {}
        self._held: dict[tuple[str, str], Decimal] = {}
        self._transit: dict[tuple[str, str, str], Decimal] = {}
        self._recalled: dict[tuple[str, str], bool] = {}
        self._suspended: dict[tuple[str, str], LotSuspension | None] = {}
        self._by_gln: dict[str, Participant | None] = {}
        self._lots: dict[tuple[str, str], LotAuthority | None] = {}
        self._classes_loaded: set[str] = set()  # every quantity of these classes is cached
        self.queries = 0  # round trips made, for tests and profiling

    # --- batched loading -------------------------------------------------------------------

    def prefetch(self, identifiers: Iterable[str]) -> None:
        """Load the items named, their children, their children's children... in bulk."""
        frontier = sorted({i for i in identifiers if i not in self._items})
        for _ in range(PREFETCH_DEPTH):
            if not frontier:
                break
            self._lock_items(frontier)
            found: dict[str, ItemState] = {}
            for chunk in key_chunks(self._session, frontier):
                self.queries += 1
                for row in self._session.scalars(
                    select(ItemRow).where(member_of(self._session, ItemRow.identifier, chunk))
                ):
                    found[row.identifier] = stored_state(row)
            for identifier in frontier:
                self._items[identifier] = found.get(identifier)
            self._lock_items(s.parent for s in found.values() if s.parent is not None)
            children = self._load_children([i for i in frontier if i in found])
            frontier = sorted({c for kids in children for c in kids if c not in self._items})

    def _lock_items(self, identifiers: Iterable[str]) -> None:
        if self._locks is not None:
            self._locks.take(item_key(i) for i in identifiers)

    def lock_items(self, identifiers: Iterable[str]) -> None:
        """Hold the custody keys of these identifiers (PostgreSQL; ascending, one statement)."""
        self._lock_items(identifiers)

    def forget(self, identifiers: Iterable[str]) -> None:
        """Drop what was read of these identifiers (their state was written since): their
        states, their contents, who they are packed in, their quantities, and every lot."""
        gone = set(identifiers)
        for identifier in gone:
            self._items.pop(identifier, None)
        self._children = {
            p: kids for p, kids in self._children.items() if p not in gone and gone.isdisjoint(kids)
        }
        self._classes_loaded -= gone
        self._held = {k: v for k, v in self._held.items() if k[0] not in gone}
        self._transit = {k: v for k, v in self._transit.items() if k[0] not in gone}
        self._lots.clear()  # their counts, too

    def _children_rows(self, parents: Sequence[str], *, again: bool = False) -> list[ItemRow]:
        rows: list[ItemRow] = []
        for chunk in key_chunks(self._session, parents):
            self.queries += 1
            query = select(ItemRow).where(member_of(self._session, ItemRow.parent, chunk))
            if again:  # the rows as they are now, not as the session first loaded them
                query = query.execution_options(populate_existing=True)
            rows.extend(self._session.scalars(query))
        return rows

    def _load_children(self, parents: Sequence[str]) -> list[list[str]]:
        by_parent: dict[str, list[str]] = {p: [] for p in parents}
        self._lock_items(parents)
        rows = self._children_rows(parents)
        locks = self._locks
        if locks is not None and any(not locks.holds(item_key(r.identifier)) for r in rows):
            # Who is packed in a parent cannot change while its key is held; what each child is
            # can, until the child's key is held too: read them again under it.
            self._lock_items(r.identifier for r in rows)
            rows = self._children_rows(parents, again=True)
        for row in rows:
            if row.parent is None:  # selected by parent: cannot happen
                continue
            by_parent[row.parent].append(row.identifier)
            self._items.setdefault(row.identifier, stored_state(row))
        for parent, kids in by_parent.items():
            kids.sort()
            self._children[parent] = kids
        return list(by_parent.values())

    def prefetch_quantities(self, class_ids: Iterable[str]) -> None:
        """Load every held and in-transit quantity of the classes named, in bulk."""
        wanted = sorted(set(class_ids))
        self._lock_items(wanted)
        for chunk in key_chunks(self._session, wanted):
            self.queries += 1
            rows = self._session.execute(
                select(
                    QuantityRow.class_id,
                    QuantityRow.holder,
                    QuantityRow.in_transit_to,
                    func.sum(QuantityRow.quantity),
                )
                .where(member_of(self._session, QuantityRow.class_id, chunk))
                .group_by(QuantityRow.class_id, QuantityRow.holder, QuantityRow.in_transit_to)
            )
            for class_id, holder, to, total in rows:
                if to is None:
                    self._held[(class_id, holder)] = to_decimal(total)
                else:
                    self._transit[(class_id, holder, to)] = to_decimal(total)
            self._classes_loaded.update(chunk)

    # --- CustodyView -----------------------------------------------------------------------

    def item(self, identifier: str) -> ItemState | None:
        if identifier not in self._items:
            self._lock_items([identifier])
            self.queries += 1
            row = self._session.get(ItemRow, identifier)
            self._items[identifier] = None if row is None else stored_state(row)
            if row is not None and row.parent is not None:
                self._lock_items([row.parent])
        return self._items[identifier]

    def children(self, parent: str) -> list[str]:
        if parent not in self._children:
            self._load_children([parent])
        return list(self._children[parent])

    def _sum(self, class_id: str, holder: str, to: str | None) -> Decimal:
        self._lock_items([class_id])
        self.queries += 1
        query = select(func.coalesce(func.sum(QuantityRow.quantity), 0)).where(
            QuantityRow.class_id == class_id,
            QuantityRow.holder == holder,
            QuantityRow.in_transit_to.is_(None) if to is None else QuantityRow.in_transit_to == to,
        )
        return to_decimal(self._session.scalar(query))

    def quantity_held(self, class_id: str, holder: str) -> Decimal:
        key = (class_id, holder)
        if key not in self._held:
            if class_id in self._classes_loaded:
                return Decimal(0)
            self._held[key] = self._sum(class_id, holder, None)
        return self._held[key]

    def quantity_in_transit(self, class_id: str, sender: str, receiver: str) -> Decimal:
        key = (class_id, sender, receiver)
        if key not in self._transit:
            if class_id in self._classes_loaded:
                return Decimal(0)
            self._transit[key] = self._sum(class_id, sender, receiver)
        return self._transit[key]

    def is_lot_recalled(self, gtin: str, lot: str) -> bool:
        key = (gtin, lot)
        if key not in self._recalled:
            self.queries += 1
            self._recalled[key] = self._session.get(RecalledLotRow, key) is not None
        return self._recalled[key]

    def lot_suspension(self, gtin: str, lot: str) -> LotSuspension | None:
        key = (gtin, lot)
        if key not in self._suspended:
            self.queries += 1
            row = self._session.get(SuspendedLotRow, key)
            self._suspended[key] = None if row is None else LotSuspension(row.stops_shipping)
        return self._suspended[key]

    def participant_by_gln(self, gln: str) -> Participant | None:
        if gln not in self._by_gln:
            self.queries += 1
            row = self._session.scalars(
                select(ParticipantRow).where(ParticipantRow.gln == gln)
            ).one_or_none()
            self._by_gln[gln] = (
                None
                if row is None
                else Participant(
                    address=row.address,
                    roles=row.roles,
                    gln=row.gln,
                    active=row.status == "active",
                    company_prefixes=prefixes_of(row.company_prefixes),
                )
            )
        return self._by_gln[gln]

    def lot_authority(self, gtin: str, lot: str) -> LotAuthority | None:
        """The lot's declarer, packs and count (``code_lots``), else its claimant."""
        key = (gtin, lot)
        if key not in self._lots:
            if self._locks is not None:
                self._locks.take([lot_key(gtin, lot)])
            self.queries += 1
            row = self._session.get(CodeLotRow, key)
            if row is not None:
                self._lots[key] = LotAuthority(row.participant, row.packs, row.issued)
            else:
                claim = self._session.get(LotClaimRow, key)
                self._lots[key] = LotAuthority(claim.participant) if claim is not None else None
        return self._lots[key]


@dataclass(frozen=True)
class _Key:
    class_id: str
    holder: str
    in_transit_to: str | None


def apply_changes(session: Session, changes: Sequence[StateChange]) -> None:
    """Apply the rules' state changes in the session's transaction (no commit).

    Items are upserted in bulk (the last ``PutItem`` of an identifier wins); quantity moves are
    netted per (class, holder, destination) and then added in SQL, so concurrent writers add
    rather than overwrite. A quantity that would fall below zero breaks a CHECK constraint.
    """
    items: dict[str, ItemState] = {}
    moves: dict[_Key, tuple[Decimal, str]] = {}
    lots: list[CommissionIntoLot] = []
    for change in changes:
        if isinstance(change, PutItem):
            items[change.state.identifier] = change.state
        elif isinstance(change, CommissionIntoLot):
            lots.append(change)
        elif isinstance(change, MoveQuantity):
            key = _Key(change.class_id, change.holder, change.in_transit_to)
            total, uom = moves.get(key, (Decimal(0), change.uom))
            if uom != change.uom:
                raise StoreConflictError(
                    f"{change.class_id}: moves in {uom!r} and {change.uom!r} in one document"
                )
            moves[key] = (total + change.delta, uom)
        else:  # pragma: no cover - the type says this cannot happen
            raise TypeError(f"unknown state change {change!r}")
    for lot in lots:
        commission_into_lot(
            session,
            gtin=lot.gtin,
            lot=lot.lot,
            owner=lot.owner,
            packs=lot.packs,
            declared=lot.declared,
        )
    if items:
        put_items(session, list(items.values()))
    if moves:
        _move(session, moves)


_ITEM_COLUMNS = (
    "identifier",
    "status",
    "holder",
    "location",
    "parent",
    "gtin",
    "lot",
    "in_transit_to",
    "commissioned_by",
    "event_time",
)
_ITEMS = ", ".join(_ITEM_COLUMNS)
# Rows staged by COPY, moved and upserted in one statement (see _sql.py); the last PutItem of an
# identifier wins already in apply_changes, so no two staged rows share one.
_UPSERT_STAGED_ITEMS = (
    f"WITH moved AS (DELETE FROM staged_items RETURNING *) INSERT INTO items ({_ITEMS}) "
    f"SELECT {_ITEMS} FROM moved ON CONFLICT (identifier) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _ITEM_COLUMNS[1:])
)


def put_items(session: Session, states: list[ItemState]) -> None:
    """Upsert these item states (one per identifier) in the session's transaction."""
    if is_postgresql(session):
        cursor = copy_rows(
            session,
            "staged_items",
            _ITEM_COLUMNS,
            (
                (
                    s.identifier,
                    str(s.status),
                    s.holder,
                    s.location,
                    s.parent,
                    s.gtin,
                    s.lot,
                    s.in_transit_to,
                    s.commissioned_by,
                    None if s.event_time == NO_TIME else s.event_time,
                )
                for s in states
            ),
        )
        with cursor:
            execute_raw(cursor, _UPSERT_STAGED_ITEMS)
        return
    rows = [
        {
            "identifier": s.identifier,
            "status": str(s.status),
            "holder": s.holder,
            "location": s.location,
            "parent": s.parent,
            "gtin": s.gtin,
            "lot": s.lot,
            "in_transit_to": s.in_transit_to,
            "commissioned_by": s.commissioned_by,
            "event_time": None if s.event_time == NO_TIME else s.event_time,
        }
        for s in states
    ]
    stmt = upsert_insert(session, ItemRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["identifier"],
        set_={c: stmt.excluded[c] for c in rows[0] if c != "identifier"},
    )
    connection = session.connection()
    for chunk in chunks(rows):
        connection.execute(stmt, list(chunk))


def _move(session: Session, moves: dict[_Key, tuple[Decimal, str]]) -> None:
    class_ids = sorted({k.class_id for k in moves})
    existing: dict[_Key, tuple[int, str]] = {}
    for chunk in key_chunks(session, class_ids):
        for row in session.execute(
            select(
                QuantityRow.id,
                QuantityRow.class_id,
                QuantityRow.holder,
                QuantityRow.in_transit_to,
                QuantityRow.uom,
            )
            .where(member_of(session, QuantityRow.class_id, chunk))
            .order_by(QuantityRow.id)
        ):
            existing.setdefault(
                _Key(row.class_id, row.holder, row.in_transit_to), (row.id, row.uom)
            )
    inserts = []
    for key, (delta, uom) in moves.items():
        if key in existing:
            row_id, stored_uom = existing[key]
            if stored_uom != uom:
                raise StoreConflictError(
                    f"{key.class_id} is held in {stored_uom!r}; a move in {uom!r} does not add up"
                )
            if delta:
                session.execute(
                    update(QuantityRow)
                    .where(QuantityRow.id == row_id)
                    .values(quantity=QuantityRow.quantity + delta)
                )
        else:
            inserts.append(
                {
                    "class_id": key.class_id,
                    "holder": key.holder,
                    "in_transit_to": key.in_transit_to,
                    "uom": uom,
                    "quantity": delta,
                }
            )
    if inserts:
        session.execute(insert(QuantityRow), inserts)


def set_lot_recalled(session: Session, gtin: str, lot: str, recalled: bool) -> None:
    """Mirror a recall (or its release) from the chain's recall registry, and commit."""
    row = session.get(RecalledLotRow, (gtin, lot))
    if recalled and row is None:
        session.add(RecalledLotRow(gtin=gtin, lot=lot, recalled_at=utcnow()))
    elif not recalled and row is not None:
        session.delete(row)
    session.commit()
