"""Undoing what an event declared erroneous did to the gateway's custody state: a replay.

In the transaction of the capture that brings a declaration (gateway/intake.py), before the
document's own events are checked, :func:`undo_declared` makes the custody state of the items
the declared event touched what it would be had that event never been captured; the corrective
events of the document then apply on top like any event. The indexer does the same to its
projection (indexer/store/undo.py); the state each side ends in is the one it would hold had
the corrective been the original (tests/indexer/test_corrections.py).

Which items: the identifiers (instances and classes) the declared event named, and, until
nothing new turns up, every identifier ever named as a parent or a child beside one of them
(``event_items.packing``): shipping a case moves its packs, so a pack's custody follows its
cases' events. Nothing is done for an event the ``pharma`` rules never applied (no
``event_items`` rows: its submitter's rule set was ``epcis``), which changed no custody.

How: under the custody keys of those items (PostgreSQL: taken in ascending order, and the set
looked up again under them until it stays the same), every other event that named one of them
and is not declared erroneous (by this document or before) is read back in capture order
(``events.seq``), restricted to those items, and applied through the same rules
(:func:`~medledger.custody.transition.transition`, ``ENFORCE``, as its submitter) over a blank
in-memory custody state: no items, no quantities, no recalls (each event passed the recall
check when it was captured), the stored participants (as active) and lots (owner only: the
count is the store's). An event that no longer fits without the erroneous one (shipping a pack
whose commissioning was erroneous) changes nothing for these items, as it would have been
refused. The replayed state is then written for those items (an item the replay never
commissioned is deleted: unknown again), the quantities of those classes are replaced by the
replayed ones, and a declared lot's count of commissioned packs drops by the packs no longer
commissioned into it. All in the capture's transaction: its commit keeps all, a failure none.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from medledger.custody.outcome import Mode
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.state import (
    ItemState,
    LotAuthority,
    LotSuspension,
    MoveQuantity,
    Participant,
)
from medledger.custody.timebounds import DEFAULT_TIME_BOUNDS, TimeBounds
from medledger.custody.transition import transition
from medledger.epcis.digital_link import is_serial
from medledger.epcis.normalise import NormalisedEvent, normalise_event
from medledger.epcis.terms import default_vocabulary
from medledger.errors import ValidationError
from servicekit.sql.helpers import key_chunks, member_of

from .custody_view import SqlCustodyView, apply_changes, put_items, stored_state
from .event_items import event_seqs, holds_items, named_identifiers, packing_seqs
from .models import (
    CodeLotRow,
    ErrorDeclarationRow,
    EventRow,
    ItemRow,
    ParticipantRow,
    QuantityRow,
)
from .participants import prefixes_of


@dataclass(frozen=True)
class _Stored:
    seq: int
    event_id: str
    participant: str
    event: NormalisedEvent


class _Blank:
    """The custody view a replay starts from: nothing held, nothing recalled; the stored
    participants (as active) and lots (their owner, no count)."""

    def __init__(self, stored: SqlCustodyView) -> None:
        self._stored = stored

    def item(self, identifier: str) -> ItemState | None:
        return None

    def children(self, parent: str) -> list[str]:
        return []

    def quantity_held(self, class_id: str, holder: str) -> Decimal:
        return Decimal(0)

    def quantity_in_transit(self, class_id: str, sender: str, receiver: str) -> Decimal:
        return Decimal(0)

    def is_lot_recalled(self, gtin: str, lot: str) -> bool:
        return False

    def lot_suspension(self, gtin: str, lot: str) -> LotSuspension | None:
        return None

    def participant_by_gln(self, gln: str) -> Participant | None:
        found = self._stored.participant_by_gln(gln)
        return None if found is None else dataclasses.replace(found, active=True)

    def lot_authority(self, gtin: str, lot: str) -> LotAuthority | None:
        found = self._stored.lot_authority(gtin, lot)
        return None if found is None else LotAuthority(found.owner)


class _Events:
    """Stored events read back by ``seq`` (each once), normalised."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._vocabulary = default_vocabulary()
        self.by_seq: dict[int, _Stored | None] = {}

    def load(self, seqs: Iterable[int]) -> list[_Stored]:
        wanted = sorted(set(seqs) - set(self.by_seq))
        for chunk in key_chunks(self._session, wanted):
            rows = self._session.execute(
                select(EventRow.seq, EventRow.event_id, EventRow.participant, EventRow.raw).where(
                    member_of(self._session, EventRow.seq, chunk)
                )
            )
            for seq, event_id, participant, raw in rows:
                self.by_seq[seq] = self._read(seq, event_id, participant, raw)
        return [s for seq in sorted(set(seqs)) if (s := self.by_seq.get(seq)) is not None]

    def by_ids(self, event_ids: Iterable[str]) -> list[_Stored]:
        wanted = sorted(set(event_ids))
        found: list[_Stored] = []
        for chunk in key_chunks(self._session, wanted):
            rows = self._session.execute(
                select(EventRow.seq, EventRow.event_id, EventRow.participant, EventRow.raw).where(
                    member_of(self._session, EventRow.event_id, chunk)
                )
            )
            for seq, event_id, participant, raw in rows:
                stored = self._read(seq, event_id, participant, raw)
                self.by_seq[seq] = stored
                if stored is not None:
                    found.append(stored)
        return sorted(found, key=lambda s: s.seq)

    def _read(self, seq: int, event_id: str, participant: str, raw: str) -> _Stored | None:
        try:
            event = normalise_event(json.loads(raw), 0, self._vocabulary)
        except (ValidationError, ValueError):  # stored under rules since changed: not replayed
            return None
        return _Stored(seq, event_id, participant, event)


def undo_declared(
    session: Session,
    view: SqlCustodyView,
    event_ids: Iterable[str],
    *,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> int:
    """Make the custody state of what the events ``event_ids`` (being declared erroneous)
    touched what it would be without them and every event declared erroneous before (see the
    module docstring), in the session's transaction; how many items were written or deleted."""
    events = _Events(session)
    declared = [
        s
        for s in events.by_ids(event_ids)
        if holds_items(session, s.seq, named_identifiers(s.event))
    ]
    if not declared:
        return 0
    seed = {i for s in declared for i in named_identifiers(s.event)}
    affected = _closure(session, events, seed)
    while True:
        view.lock_items(affected)
        again = _closure(session, events, affected)
        if again == affected:
            break
        affected = again
    replay = events.load(event_seqs(session, affected))
    erroneous = set(event_ids) | _declared_erroneous(session, [s.event_id for s in replay])
    state = _replay(
        session, view, [s for s in replay if s.event_id not in erroneous], affected, bounds
    )
    view.forget(affected)
    return _write(session, state, affected)


def _closure(session: Session, events: _Events, seed: set[str]) -> set[str]:
    """``seed`` and every identifier ever packed with one of them, transitively."""
    seen = set(seed)
    frontier = set(seed)
    while frontier:
        found: set[str] = set()
        for stored in events.load(packing_seqs(session, frontier)):
            ev = stored.event
            found.update(ev.child_epcs)
            if ev.parent_id is not None:
                found.add(ev.parent_id)
        frontier = found - seen
        seen |= frontier
    return seen


def _declared_erroneous(session: Session, event_ids: list[str]) -> set[str]:
    wanted = sorted(set(event_ids))
    found: set[str] = set()
    for chunk in key_chunks(session, wanted):
        found.update(
            session.scalars(
                select(ErrorDeclarationRow.event_id).where(
                    member_of(session, ErrorDeclarationRow.event_id, chunk)
                )
            )
        )
    return found


def restricted(event: NormalisedEvent, identifiers: set[str]) -> NormalisedEvent:
    """``event`` naming only ``identifiers`` (its parent stays: packing events name every
    identifier packed with the others, all of them in the set)."""
    return dataclasses.replace(
        event,
        epcs=tuple(i for i in event.epcs if i in identifiers),
        child_epcs=tuple(i for i in event.child_epcs if i in identifiers),
        input_epcs=tuple(i for i in event.input_epcs if i in identifiers),
        output_epcs=tuple(i for i in event.output_epcs if i in identifiers),
        quantities=tuple(q for q in event.quantities if q.class_id in identifiers),
        input_quantities=tuple(q for q in event.input_quantities if q.class_id in identifiers),
        output_quantities=tuple(q for q in event.output_quantities if q.class_id in identifiers),
    )


def _participants(session: Session, addresses: Iterable[str]) -> dict[str, Participant]:
    wanted = sorted(set(addresses))
    found: dict[str, Participant] = {}
    for chunk in key_chunks(session, wanted):
        rows = session.execute(
            select(
                ParticipantRow.address,
                ParticipantRow.roles,
                ParticipantRow.gln,
                ParticipantRow.company_prefixes,
            ).where(member_of(session, ParticipantRow.address, chunk))
        )
        for address, roles, gln, prefixes in rows:
            found[address] = Participant(address, roles, gln, True, prefixes_of(prefixes))
    return found


def _replay(
    session: Session,
    view: SqlCustodyView,
    replay: list[_Stored],
    affected: set[str],
    bounds: TimeBounds,
) -> InMemoryCustody:
    """The custody state ``replay`` (in capture order) leaves ``affected`` in, from nothing."""
    actors = _participants(session, (s.participant for s in replay))
    state = InMemoryCustody(base=_Blank(view))
    for stored in replay:
        actor = actors.get(stored.participant)
        if actor is None:  # pragma: no cover - a foreign key keeps every submitter
            continue
        trial = InMemoryCustody(base=state)  # an event that does not fit changes nothing
        done = transition(
            trial, restricted(stored.event, affected), actor, mode=Mode.ENFORCE, bounds=bounds
        )
        if done.refusal is None:
            state.apply(done.changes)
    return state


def _write(session: Session, replayed: InMemoryCustody, affected: set[str]) -> int:
    wanted = sorted(affected)
    current: dict[str, ItemState] = {}
    for chunk in key_chunks(session, wanted):
        # Core rows, not ORM objects: the session must not keep a state this rewrites
        items = ItemRow.__table__
        for row in session.execute(
            select(items).where(member_of(session, ItemRow.identifier, chunk))
        ):
            current[row.identifier] = stored_state(row)
    puts: list[ItemState] = []
    gone: list[str] = []
    lots: dict[tuple[str, str], int] = {}
    for identifier in wanted:
        now, then = current.get(identifier), replayed.item(identifier)
        if now == then:
            continue
        if then is None:
            if now is not None:
                gone.append(identifier)
        else:
            puts.append(then)
        if is_serial(identifier):
            for state, sign in ((now, -1), (then, 1)):
                if state is not None and state.gtin is not None and state.lot is not None:
                    key = (state.gtin, state.lot)
                    lots[key] = lots.get(key, 0) + sign
    for chunk in key_chunks(session, gone):
        session.execute(delete(ItemRow).where(member_of(session, ItemRow.identifier, chunk)))
    if puts:
        put_items(session, puts)
    _replace_quantities(session, replayed, wanted)
    for (gtin, lot), delta in sorted(lots.items()):
        if delta:
            issued = CodeLotRow.issued + delta
            session.execute(
                update(CodeLotRow)
                .where(CodeLotRow.gtin == gtin, CodeLotRow.lot == lot)
                .values(issued=case((issued < 0, 0), else_=issued))
            )
    session.expire_all()  # a lot read before this counts again (rows are rewritten by Core)
    return len(puts) + len(gone)


def _replace_quantities(session: Session, replayed: InMemoryCustody, wanted: list[str]) -> None:
    moves = [
        c
        for c in replayed.net_changes()
        if isinstance(c, MoveQuantity) and c.class_id in set(wanted)
    ]
    for chunk in key_chunks(session, wanted):
        session.execute(delete(QuantityRow).where(member_of(session, QuantityRow.class_id, chunk)))
    if moves:
        apply_changes(session, moves)
