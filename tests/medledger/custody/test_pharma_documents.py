"""Documents as a whole: the demo journey passes end to end, and a document is all-or-nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from medledger.custody import (
    RULES,
    InMemoryCustody,
    RuleSet,
    RuleViolation,
    check_document,
    check_events,
)
from medledger.custody.state import ItemStatus, MoveQuantity, Participant, PutItem
from medledger.epcis.builders import as_document
from medledger.epcis.normalise import normalise_events
from medledger.epcis.schema import validate_document
from medledger.roles import Role
from provenance.journey import ACTORS, API_MAKER, MANUFACTURER, build_journey
from tests.medledger.custody.rules_support import API_MAKER as API
from tests.medledger.custody.rules_support import (
    DISTRIBUTOR,
    MAKER,
    World,
    commission,
    commission_lot,
    pack,
    pack_dl,
    packs_at_maker,
    receive,
    ship,
)


def test_the_demo_journey_is_accepted_end_to_end() -> None:
    store = InMemoryCustody()
    who = {
        a.name: Participant(f"0x{i:040x}", int(a.roles), a.gln, True, (a.company_prefix,))
        for i, a in enumerate(ACTORS)
    }
    for participant in who.values():
        store.add_participant(participant)
    journey = build_journey(pack_count=1000)
    for name, events in journey.events.items():  # in story order: maker, plant, trade, pharmacy
        validate_document(as_document(events))
        store.apply(check_document(normalise_events(events), who[name], store))
    dispensed = store.item("https://id.gs1.org/01/04700123123452/21/S00000001")
    assert dispensed is not None and dispensed.status is ItemStatus.DISPENSED
    lot = "https://id.gs1.org/01/08901234999998/10/APIL-2026-0042"
    assert store.quantity_held(lot, who[MANUFACTURER.name].address) == 50 - 12.5
    assert store.quantity_held(lot, who[API_MAKER.name].address) == 0


def test_a_document_is_all_or_nothing() -> None:
    world = World()
    packs = packs_at_maker(world, 2)
    before = world.store.item(pack_dl(0))
    good = ship(MAKER, DISTRIBUTOR, packs[:1])
    bad = ship(MAKER, DISTRIBUTOR, [pack(77)])
    with pytest.raises(RuleViolation) as info:
        world.submit(MAKER, commission(MAKER, [pack(50)]), good, bad)
    assert (info.value.event_index, info.value.pointer) == (2, "/epcisBody/eventList/2/epcList/0")
    assert world.store.item(pack_dl(0)) == before  # nothing of events 0 and 1 was applied
    assert world.store.item(pack_dl(50)) is None


def test_later_events_see_earlier_ones_and_changes_are_net() -> None:
    world = World()
    packs = packs_at_maker(world, 2)
    with pytest.raises(RuleViolation) as info:  # the second shipment sees the first
        world.check(MAKER, [ship(MAKER, DISTRIBUTOR, packs), ship(MAKER, DISTRIBUTOR, packs)])
    assert (info.value.rule, info.value.event_index) == ("custody.not-held", 1)
    changes = world.submit(MAKER, commission(MAKER, [pack(9)]), ship(MAKER, DISTRIBUTOR, [pack(9)]))
    puts = [c.state for c in changes if isinstance(c, PutItem)]
    assert [(s.identifier, s.status) for s in puts] == [(pack_dl(9), ItemStatus.IN_TRANSIT)]
    world.submit(DISTRIBUTOR, receive(MAKER, DISTRIBUTOR, [pack(9)]))


def test_quantity_moves_are_netted_per_holder() -> None:
    world = World()
    changes = world.submit(API, commission_lot(API, 50), ship(API, MAKER, kg=50))
    moves = [c for c in changes if isinstance(c, MoveQuantity)]
    assert [(m.delta, m.in_transit_to) for m in moves] == [(Decimal(50), world.who(MAKER).address)]


def test_the_epcis_rule_set_checks_no_custody() -> None:
    world = World()
    events = normalise_events([ship(MAKER, DISTRIBUTOR, [pack(1)])])  # never commissioned
    auditor = Participant("0x" + "9" * 40, int(Role.AUDITOR), "4700901100008", True)
    assert check_events(RuleSet.EPCIS, events, auditor, world.store) == []
    with pytest.raises(RuleViolation, match=r"not been commissioned \[custody\.not-commissioned\]"):
        check_events(RuleSet.PHARMA, events, world.who(MAKER), world.store)


def test_every_rule_id_is_documented() -> None:
    text = (Path(__file__).parents[3] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert [rule for rule in RULES if f"`{rule}`" not in text] == []
