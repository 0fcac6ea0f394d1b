"""Current state as stored, read for the projection (a few queries per batch)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import DateTime, Select, Text, bindparam, func, select, tuple_, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from indexer.projection import Held, HoldingKey, HoldingState, ItemState, PendingEvent, Projector
from indexer.store.models import (
    EventRow,
    HoldingVersionRow,
    ItemVersionRow,
    LotRow,
    ParticipantRow,
    PendingRow,
)
from medledger.epcis.normalise import normalise_event
from medledger.epcis.terms import Vocabulary, default_vocabulary
from servicekit.sql.helpers import is_postgresql

T = TypeVar("T")
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
CHUNK = 500


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterable[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def key_groups(session: Session, values: Iterable[T]) -> Iterable[list[T]]:
    """Keys per lookup query: all at once on PostgreSQL (one array parameter, ``= ANY``), in
    ``IN`` lists of :data:`CHUNK` elsewhere."""
    if is_postgresql(session):
        every = list(values)
        return [every] if every else []
    return chunks(values)


def packed_keys(keys: Sequence[Any]) -> tuple[str, bool] | None:
    """``keys`` as one string for ``string_to_array`` (hex, comma-separated, for bytes; else
    newline-separated), and whether they are bytes; None if a key contains the separator.

    One text parameter costs the driver nothing to send; a 10,000-element array parameter is
    dumped element by element in Python."""
    if all(isinstance(k, bytes) for k in keys):
        return ",".join(k.hex() for k in keys), True
    if all(isinstance(k, str) and "\n" not in k for k in keys):
        return "\n".join(keys), False
    return None


def keyed(
    session: Session,
    query: Q,
    column: InstrumentedAttribute[Any],
    keys: list[Any],
) -> Q:
    """``query`` limited to rows whose ``column`` is one of ``keys``.

    PostgreSQL: a join with the keys unnested (``string_to_array`` of one text parameter, or
    an array), one index probe per key whatever the plan (``column = ANY(:keys)`` as a filter
    of a generic plan compares every row with every key). Elsewhere: ``IN (...)``."""
    if not is_postgresql(session):
        return query.where(column.in_(keys))
    packed = packed_keys(keys)
    if packed is None:
        array: Any = bindparam(None, keys, type_=postgresql.ARRAY(column.type))
    else:
        separator = "," if packed[1] else "\n"
        array = func.string_to_array(bindparam(None, packed[0], type_=Text), separator)
    wanted = func.unnest(array).table_valued("key").render_derived()
    key: Any = wanted.c.key
    if packed is not None and packed[1]:
        key = func.decode(key, "hex")
    return query.join(wanted, column == key)


def item_state(row: ItemVersionRow) -> ItemState:
    return ItemState(
        identifier=row.identifier,
        status=row.status,
        holder=row.holder,
        location=row.location,
        parent=row.parent,
        in_transit_to=row.in_transit_to,
        gtin=row.gtin,
        lot=row.lot,
        event_time=row.event_time,
        event_hash=row.event_hash,
        seq=row.valid_from,
    )


def read_registry(session: Session) -> dict[str, tuple[int, str]]:
    """The participants as indexed: address -> (roles, GLN)."""
    query = select(ParticipantRow.address, ParticipantRow.roles, ParticipantRow.gln)
    return {address: (roles, gln) for address, roles, gln in session.execute(query)}


#: Identifiers a :class:`StateCache` keeps before it starts again (up to about 750 bytes each).
CACHE_LIMIT = 200_000


class StateCache:
    """The stored current state as the loader left it, kept between the batches it applies.

    Item states (None: no current version), the whole contents of parents, and lots known to
    exist, as they stand after the last batch absorbed. True only while the loader is the
    only writer and nothing absorbed is rolled back: it is cleared after a step that did not
    end in its commit, a rolled-back block, a reorganisation, a participant change and a
    settling of held-back events (``BatchLoader.forget``). Most reads are of items an earlier
    batch touched (a pack is commissioned, packed, shipped, received, unpacked and dispensed
    in turn; a case received in steady state was shipped a few steps before); those no longer
    go to the database."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self.limit = limit
        self.items: dict[str, ItemState | None] = {}
        self.contents: dict[str, list[str]] = {}
        self.lots: set[tuple[str, str]] = set()

    def clear(self) -> None:
        self.items.clear()
        self.contents.clear()
        self.lots.clear()

    def absorb(self, projector: Projector) -> None:
        """Take what ``projector`` knows after its batch was written."""
        items, contents, whole, lots = projector.known_state()
        if len(self.items) + len(items) > self.limit:
            self.clear()
        # contents the projector did not read whole, and the parents its items left, may
        # lack children it never saw: forget them
        partial = set(contents) - whole
        for identifier, versions in projector.out.item_versions.items():
            prior = projector.out.prior_items.get(identifier)
            if prior is not None and prior.parent is not None:
                partial.add(prior.parent)
            partial.update(v.parent for v in versions if v.parent is not None)
        partial -= whole
        for parent in partial:
            self.contents.pop(parent, None)
        for parent in whole:
            self.contents[parent] = list(contents.get(parent, ()))
        self.items.update(items)
        self.lots.update(lots)


class SqlStateReader:
    """:class:`indexer.projection.StateReader` over one session (sees its own flushes).

    ``registry``: the participants (:func:`read_registry`), if the caller has them.
    ``cache``: what earlier batches left (:class:`StateCache`); only what it lacks is read.
    ``before_read``: called (once) before the reader next uses the session: the loader sets it
    while a write runs on the session's connection in another thread, to wait for it."""

    def __init__(
        self,
        session: Session,
        registry: dict[str, tuple[int, str]] | None = None,
        cache: StateCache | None = None,
    ) -> None:
        self._session = session
        self._registry = registry
        self._cache = cache
        self._by_gln: dict[str, str] | None = None
        self.before_read: Callable[[], None] | None = None

    @property
    def session(self) -> Session:
        if self.before_read is not None:
            wait, self.before_read = self.before_read, None
            wait()
        return self._session

    def items(self, identifiers: Iterable[str]) -> dict[str, ItemState]:
        if self._cache is None:
            return self._read_items(identifiers)
        known = self._cache.items
        out: dict[str, ItemState] = {}
        missing: list[str] = []
        for identifier in set(identifiers):
            if identifier in known:
                state = known[identifier]
                if state is not None:
                    out[identifier] = state
            else:
                missing.append(identifier)
        if missing:
            out.update(self._read_items(missing))
        return out

    def _read_items(self, identifiers: Iterable[str]) -> dict[str, ItemState]:
        out: dict[str, ItemState] = {}
        v = ItemVersionRow
        # Stored event times are only compared with events' (both aware): on PostgreSQL they
        # are read as the driver gives them, without UtcDateTime's per-row conversion.
        event_time: Any = v.event_time
        if is_postgresql(self.session):
            event_time = type_coerce(v.event_time, DateTime(timezone=True))
        for part in key_groups(self.session, sorted(set(identifiers))):
            query = select(
                v.identifier,
                v.status,
                v.holder,
                v.location,
                v.parent,
                v.gtin,
                v.lot,
                v.in_transit_to,
                event_time,
                v.event_hash,
                v.valid_from,
            ).where(v.valid_to.is_(None))
            rows = self.session.execute(keyed(self.session, query, v.identifier, part))
            out.update((row[0], ItemState(*row)) for row in rows)
        return out

    def children(self, parents: Iterable[str]) -> dict[str, list[str]]:
        if self._cache is None:
            return self._read_children(parents)
        known = self._cache.contents
        out: dict[str, list[str]] = {}
        missing: list[str] = []
        for parent in set(parents):
            if parent in known:
                if known[parent]:
                    out[parent] = sorted(known[parent])  # as read: by identifier
            else:
                missing.append(parent)
        if missing:
            out.update(self._read_children(missing))
        return out

    def _read_children(self, parents: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for part in key_groups(self.session, sorted(set(parents))):
            query = (
                select(ItemVersionRow.parent, ItemVersionRow.identifier)
                .where(ItemVersionRow.valid_to.is_(None))
                .order_by(ItemVersionRow.identifier)
            )
            rows = self.session.execute(keyed(self.session, query, ItemVersionRow.parent, part))
            for parent, child in rows:
                if parent is not None:
                    out.setdefault(parent, []).append(child)
        return out

    def holding(self, key: HoldingKey) -> HoldingState | None:
        row = self.session.scalars(
            select(HoldingVersionRow).where(
                HoldingVersionRow.class_id == key[0],
                HoldingVersionRow.holder == key[1],
                HoldingVersionRow.in_transit_to == key[2],
                HoldingVersionRow.valid_to.is_(None),
            )
        ).one_or_none()
        if row is None:
            return None
        return HoldingState(key, row.quantity, row.uom, row.event_hash, row.valid_from)

    def registry(self) -> dict[str, tuple[int, str]]:
        if self._registry is None:
            self._registry = read_registry(self.session)
        return self._registry

    def participant_by_gln(self, gln: str) -> str | None:
        if self._by_gln is None:
            self._by_gln = {g: a for a, (_, g) in self.registry().items()}
        return self._by_gln.get(gln)

    def roles(self, address: str) -> int:
        return self.registry().get(address, (0, ""))[0]

    def pending(self, identifiers: Iterable[str]) -> list[PendingEvent]:
        """The held-back events still waiting on any of ``identifiers``."""
        out: list[PendingEvent] = []
        for part in key_groups(self.session, sorted(set(identifiers))):
            query = pending_query().where(PendingRow.resolved_block.is_(None))
            rows = self.session.execute(keyed(self.session, query, PendingRow.identifier, part))
            out.extend(pending_event(row) for row in rows)
        return out

    def lots(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        wanted = set(keys)
        if self._cache is None:
            return self._read_lots(wanted)
        known = wanted & self._cache.lots
        missing = wanted - known
        return known | self._read_lots(missing) if missing else known

    def _read_lots(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        wanted: Sequence[tuple[str, str]] = sorted(keys)
        for part in chunks(wanted):
            rows = self.session.execute(
                select(LotRow.gtin, LotRow.lot).where(tuple_(LotRow.gtin, LotRow.lot).in_(part))
            )
            out.update((g, lot) for g, lot in rows)
        return out


def pending_query() -> Any:
    """Held-back events with what re-applying them needs (rows for :func:`pending_event`)."""
    return select(
        PendingRow.event_hash,
        PendingRow.identifier,
        PendingRow.reason,
        PendingRow.seq,
        PendingRow.event_time,
        EventRow.submitter,
        EventRow.raw,
    ).join(EventRow, EventRow.event_hash == PendingRow.event_hash)


_VOCABULARY: Vocabulary | None = None


def pending_event(row: Any) -> PendingEvent:
    global _VOCABULARY
    if _VOCABULARY is None:
        _VOCABULARY = default_vocabulary()
    event_hash, identifier, reason, seq, event_time, submitter, raw = row
    event = normalise_event(json.loads(raw), 0, _VOCABULARY)
    return PendingEvent(Held(event_hash, identifier, reason, seq, event_time), event, submitter)
