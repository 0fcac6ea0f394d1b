"""The custody transition function on its own: one event, one view, three modes.

``ENFORCE`` is the gateway's (refuse at the first finding), ``RECORD`` and ``SETTLE`` the
indexer's (hold back, report, keep as history; never refuse). Here over the domain's own views:
an :class:`~medledger.custody.overlay.InMemoryCustody` for ``ENFORCE`` and a small
:class:`Book` (a :class:`~medledger.custody.transition.Recording`) for ``RECORD``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.custody.operations import Operation
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.pharma import check_document
from medledger.custody.state import ItemState, ItemStatus, Participant, PutItem
from medledger.custody.transition import (
    RECORD_AS,
    Disposition,
    Finding,
    Mode,
    Transition,
    custody_clash,
    enforce,
    owning_party,
    recorded_operation,
    transition,
)
from medledger.custody.violations import RuleViolation
from medledger.epcis.identifiers import ID_GS1
from medledger.epcis.normalise import NormalisedEvent, Party
from medledger.roles import SUBMITTING, Role

GTIN = "09506000134352"
LOT = "L1"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TRADING = int(SUBMITTING & ~Role.REGULATOR)
PEOPLE = [
    Participant("0x" + f"{n:02d}" * 20, TRADING, f"95060000000{n:02d}", True, ("9506000",))
    for n in range(1, 6)
]
MAKER, A, B, C, D = PEOPLE
REGULATOR = Participant("0x" + "99" * 20, int(Role.REGULATOR), "9506000000099", True)
BY_GLN = {p.gln: p for p in [*PEOPLE, REGULATOR]}


def pack(n: int) -> str:
    return f"{ID_GS1}/01/{GTIN}/21/S{n}"


def site(who: Participant) -> str:
    return f"{ID_GS1}/414/{who.gln}"


def party(who: Participant, kind: str = "owning_party") -> Party:
    return Party(kind, f"{ID_GS1}/417/{who.gln}")


def ev(
    biz_step: str,
    *epcs: str,
    by: Participant,
    at: datetime,
    action: str = "OBSERVE",
    sources: Sequence[Party] = (),
    destinations: Sequence[Party] = (),
    index: int = 0,
) -> NormalisedEvent:
    return NormalisedEvent(
        index=index,
        type="ObjectEvent",
        action=action,
        biz_step=biz_step,
        disposition=None,
        event_time=at,
        epcs=tuple(epcs),
        read_point=site(by),
        biz_location=site(by),
        sources=tuple(sources),
        destinations=tuple(destinations),
        lot=LOT if action == "ADD" else None,
    )


def commission(*epcs: str, by: Participant = MAKER, at: datetime = T0) -> NormalisedEvent:
    return ev("commissioning", *epcs, by=by, at=at, action="ADD")


def ship(epc: str, by: Participant, to: Participant, at: datetime) -> NormalisedEvent:
    return ev("shipping", epc, by=by, at=at, sources=[party(by)], destinations=[party(to)])


def receive(epc: str, by: Participant, source: Participant, at: datetime) -> NormalisedEvent:
    return ev("receiving", epc, by=by, at=at, sources=[party(source)], destinations=[party(by)])


def dispense(epc: str, by: Participant, at: datetime) -> NormalisedEvent:
    return ev("dispensing", epc, by=by, at=at)


def custody() -> InMemoryCustody:
    view = InMemoryCustody()
    for who in [*PEOPLE, REGULATOR]:
        view.add_participant(who)
    return view


class Book:
    """A :class:`~medledger.custody.transition.Recording` in dictionaries: the indexer's side
    of the transition, without the indexer's numbering."""

    def __init__(self) -> None:
        self.items: dict[str, ItemState] = {}
        self.kids: dict[str, list[str]] = {}
        self.moves: list[tuple[tuple[str, str, str], Any]] = []
        self.lots: list[tuple[str, str]] = []
        self.ev: NormalisedEvent | None = None
        self.hash = b""

    def record(self, event: NormalisedEvent, actor: str, *, settle: bool = False) -> Transition:
        self.ev, self.hash = event, bytes([len(self.moves) % 256]) * 32
        mode: Literal[Mode.RECORD, Mode.SETTLE] = Mode.SETTLE if settle else Mode.RECORD
        return transition(self, event, actor, mode=mode)

    def item(self, identifier: str) -> ItemState | None:
        return self.items.get(identifier)

    def contents(self, identifier: str) -> list[str]:
        out: list[str] = []
        stack = list(self.kids.get(identifier, ()))
        while stack:
            child = stack.pop()
            out.append(child)
            stack.extend(self.kids.get(child, ()))
        return out

    def children(self, parent: str) -> Sequence[str]:
        return self.kids.get(parent, [])

    def address_by_gln(self, gln: str) -> str | None:
        found = BY_GLN.get(gln)
        return found.address if found else None

    def regulator(self, address: str) -> bool:
        return address == REGULATOR.address

    def update(self, state: ItemState, **changes: Any) -> None:
        assert self.ev is not None
        when = max(self.ev.event_time, state.event_time)
        self.put(state._replace(**changes, event_time=when, event_hash=self.hash))

    def create(
        self, identifier: str, holder: str, location: str | None, gtin: str | None, lot: str | None
    ) -> None:
        assert self.ev is not None
        self.put(
            ItemState(identifier, "active", holder, location, None, gtin, lot, None,
                    self.ev.event_time, self.hash)
        )  # fmt: skip

    def put(self, state: ItemState) -> None:
        old = self.items.get(state.identifier)
        if old is not None and old.parent is not None and old.parent != state.parent:
            self.kids[old.parent].remove(state.identifier)
        if state.parent is not None and (old is None or old.parent != state.parent):
            self.kids.setdefault(state.parent, []).append(state.identifier)
        self.items[state.identifier] = state

    def move(self, key: tuple[str, str, str], delta: Any, uom: str | None) -> None:
        self.moves.append((key, delta))

    def new_lot(self, gtin: str, lot: str, expiry: Any) -> None:
        self.lots.append((gtin, lot))


def only(found: Transition) -> Finding:
    assert len(found.findings) == 1, found.findings
    return found.findings[0]


# --- one rule, three modes ---------------------------------------------------------------------


def test_an_unknown_code_is_refused_held_back_or_reported() -> None:
    shipping = ship(pack(1), MAKER, A, T0)
    refused = only(transition(custody(), shipping, MAKER, mode=Mode.ENFORCE))
    assert (refused.rule, refused.disposition) == ("custody.not-commissioned", Disposition.REFUSE)
    held = only(Book().record(shipping, MAKER.address))
    assert (held.rule, held.identifier, held.disposition) == (
        "custody.not-commissioned",
        pack(1),
        Disposition.HOLD,
    )
    assert RECORD_AS[held.rule] == "unknown-code"
    settled = only(Book().record(shipping, MAKER.address, settle=True))
    assert settled.disposition is Disposition.SKIP_ALERT
    assert settled.message == f"shipping of {pack(1)}, which was never commissioned"


def test_a_refusal_is_the_violation_check_document_raises() -> None:
    shipping = ship(pack(1), MAKER, A, T0)
    refused = only(transition(custody(), shipping, MAKER, mode=Mode.ENFORCE))
    with pytest.raises(RuleViolation) as raised:
        check_document([shipping], MAKER, custody())
    again = refused.violation()
    assert (str(again), again.rule, again.pointer, again.event_index) == (
        str(raised.value),
        raised.value.rule,
        raised.value.pointer,
        raised.value.event_index,
    )
    assert str(again) == f"event 0: {pack(1)} has not been commissioned [custody.not-commissioned]"
    assert again.pointer == "/epcisBody/eventList/0/epcList/0"


def test_after_the_end_is_refused_or_reported_with_the_ending_as_evidence() -> None:
    view, book = custody(), Book()
    for step, by in ((commission(pack(1)), MAKER), (dispense(pack(1), MAKER, T0), MAKER)):
        assert transition(view, step, by, mode=Mode.ENFORCE).refusal is None
        assert book.record(step, by.address).findings == ()
    ending = book.items[pack(1)].event_hash
    again = ship(pack(1), MAKER, A, T0 + timedelta(hours=1))
    assert only(transition(view, again, MAKER, mode=Mode.ENFORCE)).rule == "custody.terminal"
    reported = only(book.record(again, MAKER.address))
    assert (reported.rule, reported.disposition, reported.prior) == (
        "custody.terminal",
        Disposition.SKIP_ALERT,
        ending,
    )
    assert RECORD_AS[reported.rule] == "after-end"
    assert book.items[pack(1)].status == "dispensed"


def test_a_second_commissioning_is_refused_or_reported_and_the_first_kept() -> None:
    view, book = custody(), Book()
    transition(view, commission(pack(1)), MAKER, mode=Mode.ENFORCE)
    book.record(commission(pack(1)), MAKER.address)
    again = commission(pack(1), by=A, at=T0 + timedelta(hours=1))
    assert only(transition(view, again, A, mode=Mode.ENFORCE)).rule == "commission.duplicate"
    reported = only(book.record(again, A.address))
    assert (RECORD_AS[reported.rule], reported.disposition) == (
        "recommissioned",
        Disposition.SKIP_ALERT,
    )
    assert reported.message == f"{pack(1)} commissioned again (first by {MAKER.address})"
    assert book.items[pack(1)].holder == MAKER.address


def test_a_backdated_event_is_refused_or_applied_on_top_and_reported() -> None:
    view, book = custody(), Book()
    late = T0 + timedelta(hours=5)
    transition(view, commission(pack(1), at=late), MAKER, mode=Mode.ENFORCE)
    book.record(commission(pack(1), at=late), MAKER.address)
    early = dispense(pack(1), MAKER, T0)
    assert only(transition(view, early, MAKER, mode=Mode.ENFORCE)).rule == "time.backdated"
    reported = only(book.record(early, MAKER.address))
    assert (RECORD_AS[reported.rule], reported.disposition) == ("event-time", Disposition.ALERT)
    assert book.items[pack(1)].status == "dispensed" and book.items[pack(1)].event_time == late


def test_a_clash_is_refused_held_back_or_settled_as_it_stands() -> None:
    view, book = custody(), Book()
    transition(view, commission(pack(1)), MAKER, mode=Mode.ENFORCE)
    book.record(commission(pack(1)), MAKER.address)
    clash = dispense(pack(1), A, T0 + timedelta(hours=1))
    assert only(transition(view, clash, A, mode=Mode.ENFORCE)).rule == "custody.not-held"
    held = only(book.record(clash, A.address))
    assert (RECORD_AS[held.rule], held.disposition) == ("clone", Disposition.HOLD)
    assert book.items[pack(1)].status == "active"
    assert book.record(clash, A.address, settle=True).findings == ()
    assert book.items[pack(1)][1:3] == ("dispensed", A.address)


def test_the_regulator_clashes_with_no_one_when_recorded() -> None:
    book = Book()
    book.record(commission(pack(1)), MAKER.address)
    seizure = ev("destroying", pack(1), by=REGULATOR, at=T0 + timedelta(hours=1))
    assert book.record(seizure, REGULATOR.address).findings == ()
    assert book.items[pack(1)][1:3] == ("destroyed", REGULATOR.address)


def test_enforce_changes_are_what_check_document_returns() -> None:
    view = custody()
    one = transition(view, commission(pack(1), pack(2)), MAKER, mode=Mode.ENFORCE)
    assert [c.state.identifier for c in one.changes if isinstance(c, PutItem)] == [pack(1), pack(2)]
    events = [commission(pack(1), pack(2)), ship(pack(1), MAKER, A, T0 + timedelta(hours=1))]
    assert enforce(events, MAKER, custody()) == check_document(events, MAKER, custody())


def test_a_suspended_submitter_is_refused_before_any_event() -> None:
    suspended = Participant(MAKER.address, MAKER.roles, MAKER.gln, False, MAKER.company_prefixes)
    with pytest.raises(RuleViolation, match="is suspended and may not submit events"):
        enforce([commission(pack(1))], suspended, custody())


def test_recorded_operation_and_owning_party() -> None:
    made_up = ev("made_up", pack(1), by=MAKER, at=T0, action="ADD")
    assert recorded_operation(made_up) is not None
    assert recorded_operation(ev("made_up", pack(1), by=MAKER, at=T0)) is None
    assert owning_party([party(A, "location"), party(B)]) == party(B).id
    assert owning_party([party(A, "location"), party(B, "location")]) == party(A).id
    assert owning_party([]) is None


# --- properties -------------------------------------------------------------------------------

HOPS = st.lists(st.sampled_from([A, B, C, D]), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None)
@given(hops=HOPS, dispensed=st.booleans())
def test_an_accepted_journey_gives_the_holder_chain_in_both_modes(
    hops: list[Participant], dispensed: bool
) -> None:
    """A pack handed along ``hops``: ENFORCE accepts every event, RECORD finds nothing, and
    both see the same holder, status and destination after every event; the changes ENFORCE
    returns, applied to a fresh view, give the same end state."""
    view, book, replay = custody(), Book(), custody()
    at = T0
    steps = [(commission(pack(1), at=at), MAKER)]
    holder = MAKER
    for nxt in hops:
        if nxt == holder:
            continue
        at += timedelta(hours=1)
        steps.append((ship(pack(1), holder, nxt, at), holder))
        at += timedelta(hours=1)
        steps.append((receive(pack(1), nxt, holder, at), nxt))
        holder = nxt
    if dispensed:
        steps.append((dispense(pack(1), holder, at + timedelta(hours=1)), holder))
    for event, by in steps:
        done = transition(view, event, by, mode=Mode.ENFORCE)
        assert done.refusal is None
        replay.apply(done.changes)
        assert book.record(event, by.address).findings == ()
        gateway, indexer = view.item(pack(1)), book.items[pack(1)]
        assert gateway is not None
        assert (gateway.status, gateway.holder, gateway.in_transit_to) == (
            indexer.status,
            indexer.holder,
            indexer.in_transit_to,
        )
    final = replay.item(pack(1))
    assert final is not None and final.holder == holder.address
    assert final.status == (ItemStatus.DISPENSED if dispensed else ItemStatus.ACTIVE)


MOVES = st.lists(
    st.tuples(
        st.sampled_from(["ship", "receive", "dispense", "storing", "commission"]),
        st.sampled_from([MAKER, A, B]),
        st.sampled_from([MAKER, A, B]),
    ),
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(moves=MOVES, commissioned=st.booleans())
def test_whatever_record_would_not_apply_enforce_refuses(
    moves: list[tuple[str, Participant, Participant]], commissioned: bool
) -> None:
    """Random custody events by random participants, in time order, on one pack: whenever
    RECORD holds back or skips (unknown code, ended item, second commissioning, clash),
    ENFORCE refuses; so an event ENFORCE accepts is recorded without a finding. (The converse
    does not hold: the gateway asks more, e.g. a receipt only of what was shipped to you.)
    Both views take the accepted events only, so they stay in step; the pack is commissioned
    first (or not at all)."""
    view, book = custody(), Book()
    at = T0
    if commissioned:
        transition(view, commission(pack(1), at=at), MAKER, mode=Mode.ENFORCE)
        book.record(commission(pack(1), at=at), MAKER.address)
    for kind, by, other in moves:
        at += timedelta(hours=1)
        if kind == "ship":
            event = ship(pack(1), by, other, at)
        elif kind == "receive":
            event = receive(pack(1), by, other, at)
        elif kind == "dispense":
            event = dispense(pack(1), by, at)
        elif kind == "commission":
            event = commission(pack(1), by=MAKER, at=at)
            by = MAKER
        else:
            event = ev(kind, pack(1), by=by, at=at)
        probe = Book()
        probe.items, probe.kids = dict(book.items), {k: list(v) for k, v in book.kids.items()}
        recorded = probe.record(event, by.address)
        skipped = [f for f in recorded.findings if f.disposition is not Disposition.ALERT]
        overlay = InMemoryCustody(base=view)
        enforced = transition(overlay, event, by, mode=Mode.ENFORCE)
        if skipped:
            assert enforced.refusal is not None, (kind, skipped)
        if enforced.refusal is None:
            assert recorded.findings == ()
            view.apply(enforced.changes)
            book.record(event, by.address)


def test_custody_clash_reads_either_sides_state() -> None:
    view = custody()
    transition(view, commission(pack(1)), MAKER, mode=Mode.ENFORCE)
    gateway = view.item(pack(1))
    assert gateway is not None
    assert custody_clash(Operation.SHIP, gateway, A.address, None)
    assert not custody_clash(Operation.SHIP, gateway, MAKER.address, None)
