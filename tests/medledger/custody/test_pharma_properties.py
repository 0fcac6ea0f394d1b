"""Property tests of the custody rules: random valid journeys pass; one injected violation fails.

A journey: an API maker commissions an API lot and ships part of it to the manufacturer, who
makes packs from some of it, packs some of them into cases, and sends cases and loose packs
through a random chain of importers / distributors / wholesalers to a pharmacy or hospital,
which dispenses some packs. Documents are cut at random between an actor's consecutive events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medledger.epcis.builders import Actor
from medledger.epcis.identifiers import canonical_identifier
from tests.medledger.custody.rules_support import (
    API_MAKER,
    AUDITOR,
    DISTRIBUTOR,
    HOSPITAL,
    IMPORTER,
    LOT,
    MAKER,
    PACK_GTIN,
    PHARMACY,
    REGULATOR,
    TRADERS,
    WHOLESALER,
    Event,
    World,
    aggregate,
    api_at_maker,
    case,
    commission,
    commission_lot,
    decommission,
    dispense,
    pack,
    receive,
    ship,
    transform,
)

FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Journey:
    """Documents in order, each (actor, events); and what the story leaves where."""

    documents: list[tuple[Actor, list[Event]]] = field(default_factory=list)
    packed_at: int = 0  # number of documents up to and including the packing
    packs: list[str] = field(default_factory=list)
    cases: dict[str, list[str]] = field(default_factory=dict)
    dispensed: list[str] = field(default_factory=list)
    hops: list[Actor] = field(default_factory=list)
    api_left_at_maker: float = 0.0

    @property
    def end(self) -> Actor:
        return self.hops[-1]

    @property
    def undispensed(self) -> list[str]:
        return [p for p in self.packs if p not in self.dispensed]


@st.composite
def journeys(draw: st.DrawFn, min_cases: int = 0) -> Journey:
    j = Journey()
    steps: list[tuple[Actor, Event]] = []
    received_kg = draw(st.sampled_from([20.0, 35.5, 50.0]))
    used_kg = draw(st.sampled_from([0.5, 12.5, received_kg]))
    j.api_left_at_maker = received_kg - used_kg
    steps += [
        (API_MAKER, commission_lot(API_MAKER, 50.0)),
        (API_MAKER, ship(API_MAKER, MAKER, kg=received_kg)),
        (MAKER, receive(API_MAKER, MAKER, kg=received_kg)),
    ]
    n_packs = draw(st.integers(2, 12))
    j.packs = [pack(i) for i in range(n_packs)]
    steps.append((MAKER, transform(MAKER, used_kg, j.packs)))
    n_cases = draw(st.integers(min_cases, min(3, n_packs)))
    boxed = draw(st.integers(n_cases, n_packs)) if n_cases else 0
    j.cases = {case(c): j.packs[c:boxed:n_cases] for c in range(n_cases)}
    if n_cases:
        steps.append((MAKER, commission(MAKER, list(j.cases), lot=None)))
        steps += [(MAKER, aggregate(MAKER, c, kids)) for c, kids in j.cases.items()]
    units = list(j.cases) + j.packs[boxed:]
    j.hops = draw(st.lists(st.sampled_from(TRADERS), max_size=3))
    j.hops = [h for i, h in enumerate(j.hops) if i == 0 or h != j.hops[i - 1]]
    j.hops.append(draw(st.sampled_from([PHARMACY, HOSPITAL])))
    packed_steps = len(steps)
    holder = MAKER
    for to in j.hops:
        steps += [(holder, ship(holder, to, units)), (to, receive(holder, to, units))]
        holder = to
    j.dispensed = draw(st.lists(st.sampled_from(j.packs), unique=True, max_size=n_packs - 1))
    if j.dispensed:
        steps.append((holder, dispense(holder, j.dispensed)))
    # cut into documents: consecutive events of one actor, split at random points
    cuts = draw(st.lists(st.booleans(), min_size=len(steps), max_size=len(steps)))
    for i, ((actor, event), cut) in enumerate(zip(steps, cuts, strict=True)):
        if not j.documents or j.documents[-1][0] != actor or cut:
            j.documents.append((actor, []))
        j.documents[-1][1].append(event)
        if i + 1 == packed_steps:
            j.packed_at = len(j.documents)
    return j


def play(world: World, documents: list[tuple[Actor, list[Event]]]) -> None:
    for actor, events in documents:
        world.submit(actor, *events)


def snapshot(world: World, journey: Journey) -> dict[str, object]:
    ids = [*journey.packs, *journey.cases]
    return {i: world.store.item(i) for i in normalise_ids(ids)}


def normalise_ids(ids: list[str]) -> list[str]:
    return [canonical_identifier(i) for i in ids]


@given(journeys())
@FAST
def test_random_valid_journeys_are_accepted(journey: Journey) -> None:
    world = World()
    play(world, journey.documents)
    end = world.who(journey.end).address
    for n in range(len(journey.packs)):
        state = world.store.item(f"https://id.gs1.org/01/{PACK_GTIN}/21/P{n}")
        assert state is not None and state.holder == end


# --- violations: each builds (actor, events, expected rule) from a finished journey -----------

Violation = Callable[[World, Journey, st.DrawFn], tuple[Actor, list[Event], str]]


def ship_what_you_do_not_hold(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    trader = d(st.sampled_from(TRADERS))
    return (
        trader,
        [ship(trader, DISTRIBUTOR, [d(st.sampled_from(j.undispensed))])],
        "custody.not-held",
    )


def receive_what_was_not_shipped_to_you(
    w: World, j: Journey, d: st.DrawFn
) -> tuple[Actor, list[Event], str]:
    trader = d(st.sampled_from(TRADERS))
    loose = [p for p in j.undispensed if not any(p in kids for kids in j.cases.values())]
    unit = d(st.sampled_from(list(j.cases) + loose))
    return trader, [receive(j.end, trader, [unit])], "custody.not-shipped-to-submitter"


def dispense_twice(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    if j.dispensed:  # once in the journey, again now
        return j.end, [dispense(j.end, [d(st.sampled_from(j.dispensed))])], "custody.terminal"
    target = [d(st.sampled_from(j.packs))]
    return j.end, [dispense(j.end, target), dispense(j.end, target)], "custody.terminal"


def move_after_dispense(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    target = j.undispensed[0]
    return j.end, [dispense(j.end, [target]), decommission(j.end, [target])], "custody.terminal"


def double_commission(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    return MAKER, [commission(MAKER, [d(st.sampled_from(j.packs))])], "commission.duplicate"


def over_consume_api(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    extra = d(st.sampled_from([0.5, 1.0, 30.0]))
    event = transform(MAKER, j.api_left_at_maker + extra, [pack(1000)])
    return MAKER, [event], "transformation.over-consumed"


def wrong_role(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    actor = d(st.sampled_from([API_MAKER, MAKER, IMPORTER, DISTRIBUTOR, WHOLESALER, AUDITOR]))
    candidates = [dispense(actor, j.packs[:1])]  # none of them dispenses
    if actor is not API_MAKER:
        candidates.append(commission_lot(actor, 1.0, "urn:epc:class:lgtin:8901234.099999.X"))
    if actor is not MAKER:
        candidates.append(transform(actor, 1.0, [pack(2000)]))
    return actor, [d(st.sampled_from(candidates))], "role.not-allowed"


def recalled_lot(w: World, j: Journey, d: st.DrawFn) -> tuple[Actor, list[Event], str]:
    w.store.recall(PACK_GTIN, LOT)
    return j.end, [dispense(j.end, [d(st.sampled_from(j.undispensed))])], "custody.recalled"


VIOLATIONS: dict[str, Violation] = {
    f.__name__: f
    for f in (ship_what_you_do_not_hold, receive_what_was_not_shipped_to_you, dispense_twice,
              move_after_dispense, double_commission, over_consume_api, wrong_role, recalled_lot)
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
@given(journey=journeys(), data=st.data())
@FAST
def test_a_violation_injected_after_a_valid_journey_is_rejected(
    name: str, journey: Journey, data: st.DataObject
) -> None:
    world = World()
    play(world, journey.documents)
    # hypothesis: DataObject.draw is what DrawFn describes, but DrawFn also declares the
    # __signature__ attribute a bound method lacks
    actor, events, rule = VIOLATIONS[name](world, journey, data.draw)  # type: ignore[arg-type]
    before = snapshot(world, journey)
    world.reject(actor, *events, rule=rule)
    assert snapshot(world, journey) == before  # all-or-nothing: the store is untouched


@given(journey=journeys(min_cases=1), data=st.data())
@FAST
def test_a_child_in_two_parents_is_rejected(journey: Journey, data: st.DataObject) -> None:
    world = World()
    play(world, journey.documents[: journey.packed_at])
    child = data.draw(st.sampled_from([p for kids in journey.cases.values() for p in kids]))
    world.reject(
        MAKER,
        commission(MAKER, [case(99)], lot=None),
        aggregate(MAKER, case(99), [child]),
        rule="aggregation.already-packed",
    )


def test_the_regulator_is_not_exempt_from_custody() -> None:
    world = World()
    api_at_maker(world)
    world.reject(
        REGULATOR, ship(REGULATOR, DISTRIBUTOR, [pack(1)]), rule="custody.not-commissioned"
    )
