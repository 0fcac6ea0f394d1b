"""Characterisation tests of the custody projection (:class:`indexer.projection.Projector`).

The projection *records* custody: it never refuses an event, it applies it, holds it back, keeps
it as history or reports it. These tests pin what it does today, one behaviour each (issue 23,
docs/rules.md ("Enforced and recorded"), the differences from the gateway's rules that concern
the indexer), over an in-memory :class:`~indexer.projection.StateReader`, with no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from indexer.projection import (
    EventContext,
    Held,
    HoldingKey,
    HoldingState,
    ItemState,
    PendingEvent,
    Projector,
    SeqSlots,
    custody_clash,
)
from medledger.custody.operations import Operation
from medledger.epcis.identifiers import ID_GS1
from medledger.epcis.normalise import NormalisedEvent, Party, Quantity
from medledger.roles import Role

GTIN = "09506000134352"
LOT = "L1"
MAKER, TRADER, PHARMACY, OTHER, REGULATOR = ("0x" + n * 20 for n in ("11", "22", "33", "44", "55"))
GLN = {MAKER: "9506000000001", TRADER: "9506000000002", PHARMACY: "9506000000003"}
GLN[OTHER], GLN[REGULATOR] = "9506000000004", "9506000000005"
SITE = {who: f"{ID_GS1}/414/{gln}" for who, gln in GLN.items()}
PARTY = {who: f"{ID_GS1}/417/{gln}" for who, gln in GLN.items()}
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = [bytes([n]) * 32 for n in range(64)]  # event hashes by number


def pack_id(n: int) -> str:
    return f"{ID_GS1}/01/{GTIN}/21/S{n}"


def case_id(n: int) -> str:
    return f"{ID_GS1}/00/09506000000000000{n}"


CLASS = f"{ID_GS1}/01/{GTIN}/10/{LOT}"


@dataclass
class Reader:
    """A :class:`~indexer.projection.StateReader` over dictionaries."""

    stored: dict[str, ItemState] = field(default_factory=dict)
    kids: dict[str, list[str]] = field(default_factory=dict)
    holdings: dict[HoldingKey, HoldingState] = field(default_factory=dict)
    known_lots: set[tuple[str, str]] = field(default_factory=set)
    held_back: list[PendingEvent] = field(default_factory=list)
    role_of: dict[str, int] = field(default_factory=lambda: {REGULATOR: int(Role.REGULATOR)})

    def items(self, identifiers: Iterable[str]) -> dict[str, ItemState]:
        return {i: self.stored[i] for i in identifiers if i in self.stored}

    def children(self, parents: Iterable[str]) -> dict[str, list[str]]:
        return {p: list(self.kids[p]) for p in parents if p in self.kids}

    def holding(self, key: HoldingKey) -> HoldingState | None:
        return self.holdings.get(key)

    def participant_by_gln(self, gln: str) -> str | None:
        return {g: who for who, g in GLN.items() if who != OTHER}.get(gln)

    def lots(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        return self.known_lots & set(keys)

    def roles(self, address: str) -> int:
        return self.role_of.get(address, 0)

    def pending(self, identifiers: Iterable[str]) -> list[PendingEvent]:
        wanted = set(identifiers)
        return [p for p in self.held_back if p.held.identifier in wanted]


def state(
    identifier: str,
    holder: str | None,
    *,
    status: str = "active",
    to: str | None = None,
    parent: str | None = None,
    at: datetime = T0,
    made_by: bytes = H[0],
    seq: int = 1,
) -> ItemState:
    return ItemState(
        identifier=identifier,
        status=status,
        holder=holder,
        location=SITE.get(holder or ""),
        parent=parent,
        in_transit_to=to,
        gtin=GTIN,
        lot=LOT,
        event_time=at,
        event_hash=made_by,
        seq=seq,
    )


def ev(
    biz_step: str | None,
    *epcs: str,
    type: str = "ObjectEvent",
    action: str = "OBSERVE",
    at: datetime = T0 + timedelta(hours=1),
    where: str | None = None,
    sources: Sequence[Party] = (),
    destinations: Sequence[Party] = (),
    quantities: Sequence[Quantity] = (),
    parent: str | None = None,
    children: Sequence[str] = (),
    lot: str | None = None,
) -> NormalisedEvent:
    return NormalisedEvent(
        index=0,
        type=type,
        action=action,
        biz_step=biz_step,
        disposition=None,
        event_time=at,
        epcs=tuple(epcs),
        parent_id=parent,
        child_epcs=tuple(children),
        quantities=tuple(quantities),
        biz_location=where,
        read_point=where,
        sources=tuple(sources),
        destinations=tuple(destinations),
        lot=lot,
    )


def owning(who: str, kind: str = "owning_party") -> Party:
    return Party(kind, PARTY[who])


def run(
    reader: Reader, *steps: tuple[NormalisedEvent, str], first_seq: int = 10, behind: int = 300
) -> Projector:
    """Apply ``steps`` ((event, submitter)) in order, hashes H[10], H[11]... and seq 10, 11..."""
    projector = Projector(
        reader, [e for e, _ in steps], behind=timedelta(seconds=behind), with_pending=True
    )
    for n, (event, submitter) in enumerate(steps):
        projector.apply(event, EventContext(H[first_seq + n], first_seq + n, submitter))
    return projector


def custody(found: ItemState) -> tuple[object, ...]:
    """identifier, status, holder, location, parent, in transit to, GTIN, lot."""
    return (found.identifier, found.status, found.holder, found.location, found.parent,
            found.in_transit_to, found.gtin, found.lot)  # fmt: skip


def latest(projector: Projector, identifier: str) -> ItemState:
    found = projector.item(identifier)
    assert found is not None
    return found


def kinds(projector: Projector) -> list[tuple[str, str]]:
    return [(a.kind, a.subject) for a in projector.out.anomalies]


# --- commissioning (2, 8, 16, 17) -------------------------------------------------------------


def test_commissioning_puts_an_active_item_held_by_the_submitter_where_it_was_done() -> None:
    p = run(
        Reader(), (ev("commissioning", pack_id(1), action="ADD", where=SITE[MAKER], lot=LOT), MAKER)
    )
    [made] = p.out.item_versions[pack_id(1)]
    assert custody(made) == (pack_id(1), "active", MAKER, SITE[MAKER], None, None, GTIN, LOT)
    assert (made.event_time, made.event_hash, made.seq) == (T0 + timedelta(hours=1), H[10], 10)
    assert p.out.anomalies == [] and p.out.held == []


def test_object_add_with_an_unknown_biz_step_is_commissioning() -> None:
    p = run(Reader(), (ev(None, pack_id(1), action="ADD", where=SITE[MAKER]), MAKER))
    assert latest(p, pack_id(1)).status == "active"
    p = run(Reader(), (ev("made_up", pack_id(1), action="ADD", where=SITE[MAKER]), MAKER))
    assert latest(p, pack_id(1)).holder == MAKER


def test_a_second_commissioning_is_recommissioned_and_the_first_state_kept() -> None:
    first = state(pack_id(1), MAKER)
    p = run(Reader({pack_id(1): first}), (ev("commissioning", pack_id(1), action="ADD"), OTHER))
    assert kinds(p) == [("recommissioned", pack_id(1))]
    assert p.out.anomalies[0].prior == H[0]
    assert p.out.anomalies[0].message == f"{pack_id(1)} commissioned again (first by {MAKER})"
    assert pack_id(1) not in p.out.item_versions and latest(p, pack_id(1)) == first


def test_lot_facts_once_per_lot_for_serials_and_class_quantities() -> None:
    p = run(
        Reader(),
        (ev("commissioning", pack_id(1), pack_id(2), action="ADD", lot=LOT), MAKER),
        (ev("commissioning", action="ADD", quantities=[Quantity(CLASS, Decimal(5), "KGM")]), MAKER),
    )
    assert [(f.gtin, f.lot, f.commissioned_by, f.first_seq) for f in p.out.lots] == [
        (GTIN, LOT, MAKER, 10)
    ]
    assert p.out.holding_versions[(CLASS, MAKER, "")][-1].quantity == Decimal(5)
    assert CLASS not in p.out.item_versions  # no class-level item state


def test_a_known_lot_is_not_reported_again() -> None:
    p = run(
        Reader(known_lots={(GTIN, LOT)}),
        (ev("commissioning", pack_id(1), action="ADD", lot=LOT), MAKER),
    )
    assert p.out.lots == []


def test_the_lot_is_stored_on_any_identifier_commissioned_with_one() -> None:
    p = run(Reader(), (ev("commissioning", case_id(1), action="ADD", lot=LOT), MAKER))
    assert latest(p, case_id(1)).lot == LOT and latest(p, case_id(1)).gtin is None


# --- unknown codes (7) -------------------------------------------------------------------------


def test_an_unknown_code_is_held_back_not_reported() -> None:
    p = run(Reader(), (ev("shipping", pack_id(1), destinations=[owning(TRADER)]), MAKER))
    assert p.out.held == [Held(H[10], pack_id(1), "unknown-code", 10, T0 + timedelta(hours=1))]
    assert p.out.anomalies == [] and p.out.item_versions == {}


def test_a_held_unknown_code_is_applied_once_commissioned() -> None:
    shipping = ev("shipping", pack_id(1), destinations=[owning(TRADER)], at=T0 + timedelta(hours=2))
    held = PendingEvent(
        Held(H[5], pack_id(1), "unknown-code", 5, shipping.event_time), shipping, MAKER
    )
    p = run(Reader(held_back=[held]), (ev("commissioning", pack_id(1), action="ADD"), MAKER))
    p.retry(SeqSlots(20, 30))
    assert p.out.resolved == [((H[5], pack_id(1)), "applied")]
    assert custody(latest(p, pack_id(1)))[1:7] == ("in_transit", MAKER, None, None, TRADER, GTIN)
    assert latest(p, pack_id(1)).seq == 20 and latest(p, pack_id(1)).event_hash == H[5]


def test_a_held_unknown_code_settled_is_reported_unknown_code() -> None:
    shipping = ev("shipping", pack_id(1), destinations=[owning(TRADER)])
    held = PendingEvent(
        Held(H[5], pack_id(1), "unknown-code", 5, shipping.event_time), shipping, MAKER
    )
    p = Projector(Reader(held_back=[held]), [shipping])
    p.settle([held], SeqSlots(20, 30))
    assert [(a.kind, a.subject, a.seq) for a in p.out.anomalies] == [
        ("unknown-code", pack_id(1), 20)
    ]
    assert p.out.anomalies[0].message == f"shipping of {pack_id(1)}, which was never commissioned"
    assert p.out.resolved == [((H[5], pack_id(1)), "settled")]


# --- ended items (6) ---------------------------------------------------------------------------


def test_anything_after_the_end_is_after_end_and_changes_nothing() -> None:
    ended = state(pack_id(1), PHARMACY, status="dispensed", made_by=H[3])
    p = run(
        Reader({pack_id(1): ended}),
        (ev("shipping", pack_id(1), destinations=[owning(TRADER)]), PHARMACY),
    )
    assert kinds(p) == [("after-end", pack_id(1))]
    assert p.out.anomalies[0].prior == H[3]
    assert p.out.anomalies[0].message == f"shipping of {pack_id(1)} after it was dispensed"
    assert p.out.item_versions == {} and p.out.held == []


def test_shipping_a_case_skips_its_ended_packs() -> None:
    reader = Reader(
        {
            case_id(1): state(case_id(1), MAKER),
            pack_id(1): state(pack_id(1), MAKER, parent=case_id(1)),
            pack_id(2): state(pack_id(2), MAKER, parent=case_id(1), status="destroyed"),
        },
        kids={case_id(1): [pack_id(1), pack_id(2)]},
    )
    p = run(reader, (ev("shipping", case_id(1), destinations=[owning(TRADER)]), MAKER))
    assert set(p.out.item_versions) == {case_id(1), pack_id(1)}
    assert latest(p, pack_id(1)).status == "in_transit" and p.out.anomalies == []


# --- clashes (3, 4, 5, 18) ---------------------------------------------------------------------


def test_acting_on_an_item_held_elsewhere_is_held_back_as_clone() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), TRADER)})
    p = run(reader, (ev("dispensing", pack_id(1)), PHARMACY))
    assert [(h.identifier, h.reason) for h in p.out.held] == [(pack_id(1), "clone")]
    assert p.out.item_versions == {} and p.out.anomalies == []


def test_observing_an_item_held_elsewhere_is_held_back_and_otherwise_changes_nothing() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), TRADER)})
    p = run(reader, (ev("storing", pack_id(1)), PHARMACY))
    assert [h.reason for h in p.out.held] == ["clone"]
    p = run(reader, (ev("storing", pack_id(1)), TRADER))
    assert p.out.held == [] and p.out.item_versions == {}


def test_a_clone_settled_is_applied_as_it_stands() -> None:
    dispensing = ev("dispensing", pack_id(1), where=SITE[PHARMACY])
    held = PendingEvent(
        Held(H[5], pack_id(1), "clone", 5, dispensing.event_time), dispensing, PHARMACY
    )
    p = Projector(Reader({pack_id(1): state(pack_id(1), TRADER)}, held_back=[held]), [dispensing])
    p.settle([held], SeqSlots(20, 30))
    assert custody(latest(p, pack_id(1)))[1:4] == ("dispensed", PHARMACY, SITE[PHARMACY])
    assert p.out.resolved == [((H[5], pack_id(1)), "settled")] and p.out.anomalies == []


def test_the_shipper_and_the_receiver_may_act_on_an_item_in_transit() -> None:
    moving = state(pack_id(1), MAKER, status="in_transit", to=TRADER)
    for actor in (MAKER, TRADER):
        p = run(Reader({pack_id(1): moving}), (ev("storing", pack_id(1)), actor))
        assert p.out.held == []
    p = run(Reader({pack_id(1): moving}), (ev("storing", pack_id(1)), PHARMACY))
    assert [h.reason for h in p.out.held] == ["clone"]


def test_receiving_runs_only_the_clash_test() -> None:
    # not in transit at all, but held by the source the receipt names: a shipment not indexed yet
    reader = Reader({pack_id(1): state(pack_id(1), MAKER)})
    receipt = ev("receiving", pack_id(1), where=SITE[TRADER], sources=[owning(MAKER)])
    p = run(reader, (receipt, TRADER))
    assert p.out.held == []
    assert custody(latest(p, pack_id(1)))[1:6] == ("active", TRADER, SITE[TRADER], None, None)
    # in transit to someone else
    reader = Reader({pack_id(1): state(pack_id(1), MAKER, status="in_transit", to=PHARMACY)})
    p = run(reader, (ev("receiving", pack_id(1), where=SITE[TRADER]), TRADER))
    assert [h.reason for h in p.out.held] == ["clone"]
    # in transit to no one known
    reader = Reader({pack_id(1): state(pack_id(1), MAKER, status="in_transit", to=None)})
    p = run(reader, (ev("receiving", pack_id(1), where=SITE[TRADER]), TRADER))
    assert p.out.held == []


def test_the_regulator_clashes_with_no_one() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), TRADER)})
    p = run(reader, (ev("destroying", pack_id(1), where=SITE[REGULATOR]), REGULATOR))
    assert p.out.held == [] and custody(latest(p, pack_id(1)))[1:3] == ("destroyed", REGULATOR)


def test_custody_clash_rule() -> None:
    active, moving = (
        state(pack_id(1), MAKER),
        state(pack_id(1), MAKER, status="in_transit", to=TRADER),
    )
    ended = state(pack_id(1), MAKER, status="dispensed")
    assert not custody_clash(Operation.SHIP, active, MAKER, None)
    assert custody_clash(Operation.SHIP, active, TRADER, None)
    assert not custody_clash(Operation.OBSERVE, moving, TRADER, None)
    assert custody_clash(Operation.OBSERVE, moving, PHARMACY, None)
    assert not custody_clash(Operation.RECEIVE, moving, TRADER, None)
    assert custody_clash(Operation.RECEIVE, moving, PHARMACY, None)
    assert custody_clash(Operation.RECEIVE, active, TRADER, None)
    assert not custody_clash(Operation.RECEIVE, active, TRADER, MAKER)
    assert not custody_clash(Operation.COMMISSION_SERIAL, active, TRADER, None)
    assert not custody_clash(Operation.TRANSFORM, active, TRADER, None)
    assert not custody_clash(Operation.DISPENSE, ended, TRADER, None)


# --- time (9) ----------------------------------------------------------------------------------


def test_a_backdated_event_that_fits_is_applied_on_top_and_reported_beyond_behind() -> None:
    later = T0 + timedelta(hours=5)
    reader = Reader({pack_id(1): state(pack_id(1), PHARMACY, at=later, made_by=H[3])})
    dispensing = ev("dispensing", pack_id(1), at=T0 + timedelta(hours=1), where=SITE[PHARMACY])
    p = run(reader, (dispensing, PHARMACY), behind=300)
    assert kinds(p) == [("event-time", pack_id(1))]
    assert p.out.anomalies[0].prior == H[3]
    assert p.out.anomalies[0].message == (
        f"dispensing of {pack_id(1)} dated 2026-11-02T10:00:00Z, earlier than its current state "
        "(2026-11-02T14:00:00Z) by more than 300 s: applied on top of it"
    )
    assert latest(p, pack_id(1)).status == "dispensed"
    assert latest(p, pack_id(1)).event_time == later  # never back in time


def test_a_backdated_event_within_behind_is_applied_silently() -> None:
    later = T0 + timedelta(hours=1, minutes=3)
    reader = Reader({pack_id(1): state(pack_id(1), PHARMACY, at=later)})
    p = run(reader, (ev("dispensing", pack_id(1), where=SITE[PHARMACY]), PHARMACY), behind=300)
    assert p.out.anomalies == [] and latest(p, pack_id(1)).status == "dispensed"


def test_a_backdated_event_that_clashes_is_history_only() -> None:
    later = T0 + timedelta(hours=5)
    reader = Reader({pack_id(1): state(pack_id(1), TRADER, at=later)})
    p = run(reader, (ev("shipping", pack_id(1), destinations=[owning(TRADER)]), MAKER))
    assert p.out.item_versions == {} and p.out.held == [] and p.out.anomalies == []


def test_a_backdated_observation_or_commissioning_is_history_only() -> None:
    later = T0 + timedelta(hours=5)
    reader = Reader({pack_id(1): state(pack_id(1), TRADER, at=later)})
    p = run(reader, (ev("storing", pack_id(1)), TRADER))
    assert p.out.item_versions == {} and p.out.anomalies == []


def test_an_event_dated_beyond_its_block_is_reported_and_taken_at_the_bound() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), MAKER)})
    shipping = ev(
        "shipping", pack_id(1), destinations=[owning(TRADER)], at=datetime(9999, 12, 31, tzinfo=UTC)
    )
    p = Projector(reader, [shipping])
    bound = T0 + timedelta(hours=2)
    [(bounded, ctx)] = p.bound_times([(shipping, EventContext(H[10], 10, MAKER))], bound)
    assert bounded.event_time == bound and kinds(p) == [("event-time", pack_id(1))]
    p.apply(bounded, ctx)
    assert latest(p, pack_id(1)).event_time == T0  # does not move the item's time forward


# --- moves (11, 12, 13, 14) --------------------------------------------------------------------


def test_shipping_to_an_unknown_party_is_in_transit_to_no_one() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), MAKER)})
    shipping = ev(
        "shipping", pack_id(1), destinations=[owning(OTHER)],
        quantities=[Quantity(CLASS, Decimal(2), "KGM")],
    )  # fmt: skip
    p = run(reader, (shipping, MAKER))
    assert custody(latest(p, pack_id(1)))[1:6] == ("in_transit", MAKER, SITE[MAKER], None, None)
    # debited from stock and credited "in transit to no one": the same key, so nothing moves
    assert [(v.quantity, v.uom) for v in p.out.holding_versions[(CLASS, MAKER, "")]] == [
        (Decimal(0), "KGM")
    ]


def test_quantities_move_blindly_and_none_quantities_are_skipped() -> None:
    shipping = ev(
        "shipping", destinations=[owning(TRADER)],
        quantities=[Quantity(CLASS, Decimal(3), "KGM"), Quantity(CLASS + "x", None, None)],
    )  # fmt: skip
    p = run(Reader(), (shipping, MAKER))
    assert {k: v[-1].quantity for k, v in p.out.holding_versions.items()} == {
        (CLASS, MAKER, ""): Decimal(-3),
        (CLASS, MAKER, TRADER): Decimal(3),
    }


def test_a_receipt_from_an_unknown_sender_credits_without_debiting_transit() -> None:
    receipt = ev(
        "receiving", where=SITE[TRADER], sources=[owning(OTHER)],
        quantities=[Quantity(CLASS, Decimal(2), "KGM")],
    )  # fmt: skip
    p = run(Reader(), (receipt, TRADER))
    assert {k: v[-1].quantity for k, v in p.out.holding_versions.items()} == {
        (CLASS, TRADER, ""): Decimal(2)
    }
    p = run(Reader(), (ev("receiving", where=SITE[TRADER], sources=[owning(MAKER)],
                          quantities=[Quantity(CLASS, Decimal(2), "KGM")]), TRADER))  # fmt: skip
    assert {k: v[-1].quantity for k, v in p.out.holding_versions.items()} == {
        (CLASS, MAKER, TRADER): Decimal(-2),
        (CLASS, TRADER, ""): Decimal(2),
    }


def test_without_an_owning_party_the_first_party_is_taken() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), MAKER)})
    shipping = ev(
        "shipping",
        pack_id(1),
        destinations=[owning(TRADER, "location"), owning(PHARMACY, "location")],
    )
    p = run(reader, (shipping, MAKER))
    assert latest(p, pack_id(1)).in_transit_to == TRADER
    shipping = ev(
        "shipping", pack_id(1), destinations=[owning(TRADER, "location"), owning(PHARMACY)]
    )
    p = run(reader, (shipping, MAKER))
    assert latest(p, pack_id(1)).in_transit_to == PHARMACY


def test_ending_sets_the_holder_and_location_to_who_ended_it_where() -> None:
    # a pharmacy dispensing a pack in transit to it (its receipt not indexed yet)
    reader = Reader({pack_id(1): state(pack_id(1), TRADER, status="in_transit", to=PHARMACY)})
    p = run(reader, (ev("dispensing", pack_id(1), where=SITE[PHARMACY]), PHARMACY))
    assert custody(latest(p, pack_id(1)))[1:6] == (
        "dispensed",
        PHARMACY,
        SITE[PHARMACY],
        None,
        None,
    )
    # no location named: it stays where it was
    p = run(reader, (ev("dispensing", pack_id(1)), PHARMACY))
    assert custody(latest(p, pack_id(1)))[1:4] == ("dispensed", PHARMACY, SITE[TRADER])


def test_ending_a_case_ends_its_packs_still_inside_it() -> None:
    reader = Reader(
        {
            case_id(1): state(case_id(1), MAKER),
            pack_id(1): state(pack_id(1), MAKER, parent=case_id(1)),
        },
        kids={case_id(1): [pack_id(1)]},
    )
    p = run(reader, (ev("destroying", case_id(1), where=SITE[MAKER]), MAKER))
    assert custody(latest(p, case_id(1)))[1:5] == ("destroyed", MAKER, SITE[MAKER], None)
    assert custody(latest(p, pack_id(1)))[1:5] == ("destroyed", MAKER, SITE[MAKER], case_id(1))


# --- aggregation (15, 20) ----------------------------------------------------------------------


def test_packing_then_shipping_moves_the_contents_one_version_per_event() -> None:
    p = run(
        Reader(),
        (
            ev(
                "commissioning", case_id(1), pack_id(1), pack_id(2), action="ADD", where=SITE[MAKER]
            ),
            MAKER,
        ),
        (
            ev(
                "packing",
                type="AggregationEvent",
                action="ADD",
                parent=case_id(1),
                children=[pack_id(1), pack_id(2)],
            ),
            MAKER,
        ),  # fmt: skip
        (ev("shipping", case_id(1), destinations=[owning(TRADER)]), MAKER),
    )
    assert [v.seq for v in p.out.item_versions[pack_id(1)]] == [10, 11, 12]
    assert [v.seq for v in p.out.item_versions[case_id(1)]] == [10, 12]
    assert custody(latest(p, pack_id(2)))[1:6] == (
        "in_transit",
        MAKER,
        SITE[MAKER],
        case_id(1),
        TRADER,
    )
    assert p.known_state()[1][case_id(1)] == [pack_id(1), pack_id(2)]


def test_a_late_packing_copies_the_parents_state() -> None:
    later = T0 + timedelta(hours=5)
    reader = Reader(
        {
            case_id(1): state(case_id(1), TRADER, status="in_transit", to=PHARMACY, at=later),
            pack_id(1): state(pack_id(1), MAKER),
        }
    )
    packing = ev(
        "packing", type="AggregationEvent", action="ADD", parent=case_id(1), children=[pack_id(1)]
    )
    p = run(reader, (packing, MAKER))
    assert custody(latest(p, pack_id(1)))[1:6] == (
        "in_transit",
        TRADER,
        SITE[TRADER],
        case_id(1),
        PHARMACY,
    )
    assert case_id(1) not in p.out.item_versions


def test_unpacking_skips_what_is_not_a_child_and_unpacks_all_when_none_listed() -> None:
    reader = Reader(
        {
            case_id(1): state(case_id(1), TRADER),
            pack_id(1): state(pack_id(1), TRADER, parent=case_id(1)),
            pack_id(2): state(pack_id(2), TRADER),
        },
        kids={case_id(1): [pack_id(1)]},
    )
    unpack = ev(
        "unpacking",
        type="AggregationEvent",
        action="DELETE",
        parent=case_id(1),
        children=[pack_id(2)],
    )
    p = run(reader, (unpack, TRADER))
    assert p.out.item_versions == {} and p.out.anomalies == []
    unpack = ev("unpacking", type="AggregationEvent", action="DELETE", parent=case_id(1))
    p = run(reader, (unpack, TRADER))
    assert latest(p, pack_id(1)).parent is None and set(p.out.item_versions) == {pack_id(1)}


def test_a_transformation_ends_its_inputs_and_commissions_its_outputs() -> None:
    reader = Reader({pack_id(1): state(pack_id(1), MAKER, parent=case_id(1))})
    transformation = NormalisedEvent(
        index=0,
        type="TransformationEvent",
        action=None,
        biz_step="commissioning",
        disposition=None,
        event_time=T0 + timedelta(hours=1),
        input_epcs=(pack_id(1),),
        output_epcs=(pack_id(2),),
        input_quantities=(Quantity(CLASS, Decimal(1), "KGM"),),
        biz_location=SITE[MAKER],
        lot=LOT,
    )
    p = run(reader, (transformation, MAKER))
    assert custody(latest(p, pack_id(1)))[1:5] == ("decommissioned", MAKER, SITE[MAKER], None)
    assert custody(latest(p, pack_id(2)))[1:3] == ("active", MAKER)
    assert p.out.holding_versions[(CLASS, MAKER, "")][-1].quantity == Decimal(-1)
