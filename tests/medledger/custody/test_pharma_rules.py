"""The pharma rules one at a time: what each accepts, and what it rejects (rule id and field)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from medledger.custody.state import ItemStatus, LotSuspension, MoveQuantity, PutItem
from tests.medledger.custody.rules_support import (
    API_CLASS_DL,
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
    Event,
    World,
    aggregate,
    api_at_maker,
    case,
    commission,
    commission_lot,
    decommission,
    destroy,
    dispense,
    inspect,
    pack,
    pack_dl,
    packs_at_maker,
    receive,
    receive_back,
    send_back,
    ship,
    transform,
)

E0 = "/epcisBody/eventList/0"


@pytest.fixture
def world() -> World:
    return World(validate=True)


# --- participants and roles ------------------------------------------------------------------


def test_a_suspended_participant_submits_nothing(world: World) -> None:
    world.participants[MAKER.name] = replace(world.who(MAKER), active=False)
    error = world.reject(MAKER, commission(MAKER, [pack(1)]), rule="participant.suspended")
    assert error.pointer == "/"


@pytest.mark.parametrize(
    ("actor", "event", "allowed"),
    [
        (API_MAKER, commission_lot(API_MAKER), True),
        (MAKER, commission_lot(MAKER), False),
        (MAKER, commission(MAKER, [pack(1)]), True),
        (API_MAKER, commission(API_MAKER, [pack(1)]), False),
        (DISTRIBUTOR, commission(DISTRIBUTOR, [pack(1)]), False),
        (AUDITOR, commission(AUDITOR, [pack(1)]), False),
        # (the regulator commissions only under its own company prefix: see test_authority)
        (REGULATOR, commission(REGULATOR, ["urn:epc:id:sgtin:4700012.012345.R1"]), True),
    ],
    ids=["api-maker-lot", "maker-lot", "maker-pack", "api-maker-pack", "distributor-pack",
         "auditor", "regulator"],
)  # fmt: skip
def test_the_role_table_decides_who_commissions_what(
    world: World, actor: object, event: dict[str, object], allowed: bool
) -> None:
    assert isinstance(actor, type(MAKER))
    if allowed:
        world.submit(actor, event)
    else:
        error = world.reject(actor, event, rule="role.not-allowed")
        assert error.pointer == f"{E0}/bizStep"
        assert error.event_index == 0


def test_only_pharmacies_and_hospitals_dispense(world: World) -> None:
    packs = packs_at_maker(world)
    error = world.reject(MAKER, dispense(MAKER, packs[:1]), rule="role.not-allowed")
    assert "may not dispense" in str(error)
    world.submit(MAKER, ship(MAKER, HOSPITAL, packs[:1]))
    world.submit(HOSPITAL, receive(MAKER, HOSPITAL, packs[:1]), dispense(HOSPITAL, packs[:1]))


def test_only_manufacturers_transform(world: World) -> None:
    api_at_maker(world)
    world.reject(DISTRIBUTOR, transform(DISTRIBUTOR, 1, [pack(1)]), rule="role.not-allowed")


def test_an_auditor_submits_nothing(world: World) -> None:
    packs = packs_at_maker(world)
    world.reject(AUDITOR, inspect(AUDITOR, packs), rule="role.not-allowed")


def test_an_event_the_rules_do_not_know_is_unsupported(world: World) -> None:
    event = commission(MAKER, [pack(1)])
    event["bizStep"] = "shipping"  # ObjectEvent ADD shipping: no such operation
    error = world.reject(MAKER, event, rule="event.unsupported")
    assert error.pointer == f"{E0}/type"


# --- own locations and parties ---------------------------------------------------------------


def test_the_read_point_must_be_the_submitters_own(world: World) -> None:
    event = commission(MAKER, [pack(1)])
    event["readPoint"] = {"id": DISTRIBUTOR.sgln}
    error = world.reject(MAKER, event, rule="location.not-own")
    assert error.pointer == f"{E0}/readPoint/id"


def test_a_location_that_is_no_gln_is_not_the_submitters_own(world: World) -> None:
    """``geo:`` and other URIs pass the schema and the ``epcis`` rule set; not ``pharma``."""
    event = commission(MAKER, [pack(1)])
    event["readPoint"] = {"id": "geo:47.506694,11.104301"}
    assert world.reject(MAKER, event, rule="location.not-own").pointer == f"{E0}/readPoint/id"


def test_the_biz_location_must_be_the_submitters_own(world: World) -> None:
    event = commission(MAKER, [pack(1)])
    event["bizLocation"] = {"id": DISTRIBUTOR.sgln}
    assert world.reject(MAKER, event, rule="location.not-own").pointer == f"{E0}/bizLocation/id"


def test_any_extension_of_the_submitters_gln_is_its_own(world: World) -> None:
    event = commission(MAKER, [pack(1)])
    event["readPoint"] = {"id": MAKER.sgln[:-1] + "dock7"}  # urn:epc:id:sgln:<gln>.dock7
    event["bizLocation"] = {"id": f"https://example.com/414/{MAKER.gln}/254/line2"}
    world.submit(MAKER, event)


def test_the_read_point_is_required(world: World) -> None:
    event = commission(MAKER, [pack(1)])
    del event["readPoint"]
    assert world.reject(MAKER, event, rule="location.missing").pointer == f"{E0}/readPoint"


def test_a_shipment_comes_from_the_submitter(world: World) -> None:
    packs = packs_at_maker(world)
    event = ship(MAKER, DISTRIBUTOR, packs)
    event["sourceList"] = [{"type": "owning_party", "source": IMPORTER.pgln}]
    error = world.reject(MAKER, event, rule="party.not-own")
    assert error.pointer == f"{E0}/sourceList/0/source"


def test_the_regulator_acts_on_other_premises(world: World) -> None:
    packs = packs_at_maker(world)
    world.submit(REGULATOR, inspect(MAKER, packs), destroy(MAKER, packs[:1]))
    assert world.store.item(pack_dl(0)).status is ItemStatus.DESTROYED  # type: ignore[union-attr]


# --- commissioning ---------------------------------------------------------------------------


def test_a_pack_is_commissioned_once(world: World) -> None:
    world.submit(MAKER, commission(MAKER, [pack(1)]))
    error = world.reject(MAKER, commission(MAKER, [pack(2), pack(1)]), rule="commission.duplicate")
    assert error.pointer == f"{E0}/epcList/1"


def test_the_same_pack_twice_in_one_event_is_a_double_commission(world: World) -> None:
    # two spellings pass the schema's uniqueItems; normalised they are one pack
    event = commission(MAKER, [pack(1), pack_dl(1)])
    assert world.reject(MAKER, event, rule="commission.duplicate").pointer == f"{E0}/epcList/1"


def test_an_api_lot_is_commissioned_once(world: World) -> None:
    world.submit(API_MAKER, commission_lot(API_MAKER))
    error = world.reject(API_MAKER, commission_lot(API_MAKER), rule="commission.duplicate")
    assert error.pointer == f"{E0}/quantityList/0/epcClass"


def test_commissioning_an_api_lot_records_the_lot_and_its_quantity(world: World) -> None:
    changes = world.submit(API_MAKER, commission_lot(API_MAKER, 50))
    maker = world.who(API_MAKER).address
    assert MoveQuantity(API_CLASS_DL, maker, Decimal("50.0"), "KGM") in changes
    lot = world.store.item(API_CLASS_DL)
    assert lot is not None and (lot.gtin, lot.lot, lot.commissioned_by) == (
        "08901234999998",
        "API-LOT-1",
        maker,
    )


def test_a_pack_carries_its_lot(world: World) -> None:
    error = world.reject(
        MAKER, commission(MAKER, [pack(1)], lot=None), rule="commission.lot-required"
    )
    assert error.pointer == f"{E0}/ilmd"
    world.submit(MAKER, commission(MAKER, [case(1)], lot=None))  # a case has no lot of its own


def test_a_quantity_must_be_positive(world: World) -> None:
    error = world.reject(API_MAKER, commission_lot(API_MAKER, 0), rule="quantity.invalid")
    assert error.pointer == f"{E0}/quantityList/0/quantity"


def test_nothing_happens_to_what_was_never_commissioned(world: World) -> None:
    error = world.reject(
        MAKER, ship(MAKER, DISTRIBUTOR, [pack(9)]), rule="custody.not-commissioned"
    )
    assert error.pointer == f"{E0}/epcList/0"


# --- shipping and receiving ------------------------------------------------------------------


def test_shipping_puts_in_transit_and_receiving_changes_custody(world: World) -> None:
    packs = packs_at_maker(world, 2)
    world.submit(MAKER, ship(MAKER, DISTRIBUTOR, packs))
    moving = world.store.item(pack_dl(0))
    assert moving is not None and moving.status is ItemStatus.IN_TRANSIT
    assert (moving.holder, moving.in_transit_to) == (
        world.who(MAKER).address,
        world.who(DISTRIBUTOR).address,
    )
    world.submit(DISTRIBUTOR, receive(MAKER, DISTRIBUTOR, packs))
    arrived = world.store.item(pack_dl(0))
    assert arrived is not None and arrived.status is ItemStatus.ACTIVE
    assert arrived.holder == world.who(DISTRIBUTOR).address
    assert arrived.location == f"https://id.gs1.org/414/{DISTRIBUTOR.gln}"


def test_you_ship_only_what_you_hold(world: World) -> None:
    packs = packs_at_maker(world)
    error = world.reject(
        DISTRIBUTOR, ship(DISTRIBUTOR, PHARMACY, packs[1:2]), rule="custody.not-held"
    )
    assert error.pointer == f"{E0}/epcList/0"
    assert "held by" in str(error)


def test_what_is_in_transit_is_held_by_nobody(world: World) -> None:
    packs = packs_at_maker(world)
    world.submit(MAKER, ship(MAKER, DISTRIBUTOR, packs))
    world.reject(MAKER, ship(MAKER, IMPORTER, packs), rule="custody.not-held")


def test_you_receive_only_what_was_shipped_to_you(world: World) -> None:
    packs = packs_at_maker(world)
    world.submit(MAKER, ship(MAKER, DISTRIBUTOR, packs))
    error = world.reject(
        IMPORTER, receive(MAKER, IMPORTER, packs), rule="custody.not-shipped-to-submitter"
    )
    assert error.pointer == f"{E0}/epcList/0"
    world.reject(
        DISTRIBUTOR, receive(MAKER, DISTRIBUTOR, [pack(9)]), rule="custody.not-commissioned"
    )


def test_a_shipment_goes_to_a_registered_participant(world: World) -> None:
    packs = packs_at_maker(world)
    event = ship(MAKER, DISTRIBUTOR, packs)
    event["destinationList"] = [
        {"type": "owning_party", "destination": "urn:epc:id:pgln:4711111.00001"}
    ]
    error = world.reject(MAKER, event, rule="shipping.destination-unknown")
    assert error.pointer == f"{E0}/destinationList/0/destination"
    del event["destinationList"]
    assert world.reject(MAKER, event, rule="shipping.destination-unknown").pointer == (
        f"{E0}/destinationList"
    )


def test_a_suspended_participant_receives_no_shipment(world: World) -> None:
    packs = packs_at_maker(world)
    world.store.add_participant(replace(world.who(DISTRIBUTOR), active=False))
    world.reject(MAKER, ship(MAKER, DISTRIBUTOR, packs), rule="shipping.destination-unknown")


def test_a_receipt_of_quantities_names_its_registered_sender(world: World) -> None:
    world.submit(API_MAKER, commission_lot(API_MAKER), ship(API_MAKER, MAKER, kg=50))
    event = receive(API_MAKER, MAKER, kg=50)
    del event["sourceList"]
    world.reject(MAKER, event, rule="receiving.source-unknown")


def test_api_quantities_move_in_transit_then_to_the_receiver(world: World) -> None:
    world.submit(API_MAKER, commission_lot(API_MAKER, 50), ship(API_MAKER, MAKER, kg=20))
    maker, plant = world.who(API_MAKER).address, world.who(MAKER).address
    assert world.store.quantity_held(API_CLASS_DL, maker) == Decimal(30)
    assert world.store.quantity_in_transit(API_CLASS_DL, maker, plant) == Decimal(20)
    error = world.reject(
        MAKER, receive(API_MAKER, MAKER, kg=25), rule="custody.not-shipped-to-submitter"
    )
    assert error.pointer == f"{E0}/quantityList/0"
    world.submit(MAKER, receive(API_MAKER, MAKER, kg=20))
    assert world.store.quantity_in_transit(API_CLASS_DL, maker, plant) == 0
    assert world.store.quantity_held(API_CLASS_DL, plant) == Decimal(20)
    world.reject(API_MAKER, ship(API_MAKER, MAKER, kg=31), rule="custody.not-held")


# --- terminal states and recalls ---------------------------------------------------------------


def _at_pharmacy(world: World) -> list[str]:
    packs = packs_at_maker(world)
    world.submit(MAKER, ship(MAKER, PHARMACY, packs))
    world.submit(PHARMACY, receive(MAKER, PHARMACY, packs))
    return packs


def test_a_pack_is_dispensed_once(world: World) -> None:
    packs = _at_pharmacy(world)
    world.submit(PHARMACY, dispense(PHARMACY, packs[:1]))
    error = world.reject(PHARMACY, dispense(PHARMACY, packs[:1]), rule="custody.terminal")
    assert "was dispensed" in str(error)


@pytest.mark.parametrize("ending", [dispense, destroy, decommission])
def test_nothing_happens_after_an_item_ended(world: World, ending: Callable[..., Event]) -> None:
    packs = _at_pharmacy(world)
    world.submit(PHARMACY, ending(PHARMACY, packs[:1]))
    error = world.reject(PHARMACY, dispense(PHARMACY, packs[:1]), rule="custody.terminal")
    assert error.pointer == f"{E0}/epcList/0"
    world.reject(REGULATOR, ship(REGULATOR, DISTRIBUTOR, packs[:1]), rule="custody.terminal")


def test_decommissioning_is_for_the_holder(world: World) -> None:
    packs = packs_at_maker(world)
    world.reject(DISTRIBUTOR, decommission(DISTRIBUTOR, packs[:1]), rule="custody.not-held")
    world.submit(MAKER, decommission(MAKER, packs[:1]))


def test_nothing_moves_while_its_lot_is_recalled(world: World) -> None:
    packs = packs_at_maker(world)
    world.store.recall(PACK_GTIN, LOT)
    error = world.reject(MAKER, ship(MAKER, DISTRIBUTOR, packs), rule="custody.recalled")
    assert error.pointer == f"{E0}/epcList/0"
    world.submit(MAKER, destroy(MAKER, packs))  # destroying a recalled lot is allowed
    world.store.recall(PACK_GTIN, LOT, recalled=False)


def test_a_recalled_api_lot_is_not_consumed(world: World) -> None:
    api_at_maker(world)
    world.store.recall("08901234999998", "API-LOT-1")
    error = world.reject(MAKER, transform(MAKER, 1, [pack(1)]), rule="custody.recalled")
    assert error.pointer == f"{E0}/inputQuantityList/0/epcClass"


def test_a_case_of_a_recalled_lot_does_not_move(world: World) -> None:
    packs_at_maker(world, 4, cases=1)
    world.store.recall(PACK_GTIN, LOT)
    world.reject(MAKER, ship(MAKER, DISTRIBUTOR, [case(0)]), rule="custody.recalled")


# --- returns -----------------------------------------------------------------------------------


def _at_pharmacy_via_distributor(world: World, cases: int = 0) -> list[str]:
    packs = packs_at_maker(world, 4, cases=cases)
    moved = [case(c) for c in range(cases)] or packs
    world.submit(MAKER, ship(MAKER, DISTRIBUTOR, moved))
    world.submit(DISTRIBUTOR, receive(MAKER, DISTRIBUTOR, moved))
    world.submit(DISTRIBUTOR, ship(DISTRIBUTOR, PHARMACY, moved))
    world.submit(PHARMACY, receive(DISTRIBUTOR, PHARMACY, moved))
    return packs


def test_a_pharmacy_returns_a_recalled_pack_and_its_distributor_takes_it_back(
    world: World,
) -> None:
    packs = _at_pharmacy_via_distributor(world)
    world.store.recall(PACK_GTIN, LOT)
    world.reject(PHARMACY, dispense(PHARMACY, packs[:1]), rule="custody.recalled")
    world.reject(PHARMACY, ship(PHARMACY, DISTRIBUTOR, packs[:1]), rule="role.not-allowed")
    world.submit(PHARMACY, send_back(PHARMACY, DISTRIBUTOR, packs[:1]))
    returning = world.store.item(pack_dl(0))
    assert returning is not None and returning.status == ItemStatus.IN_TRANSIT
    world.submit(DISTRIBUTOR, receive_back(PHARMACY, DISTRIBUTOR, packs[:1]))
    back = world.store.item(pack_dl(0))
    assert back is not None and (back.status, back.holder) == (
        ItemStatus.ACTIVE,
        world.who(DISTRIBUTOR).address,
    )
    # back at the distributor, it still goes nowhere forward, only further back
    world.reject(DISTRIBUTOR, ship(DISTRIBUTOR, PHARMACY, packs[:1]), rule="custody.recalled")
    world.submit(DISTRIBUTOR, send_back(DISTRIBUTOR, MAKER, packs[:1]))
    world.submit(MAKER, receive_back(DISTRIBUTOR, MAKER, packs[:1]))
    world.submit(MAKER, destroy(MAKER, packs[:1]))


def test_a_return_of_a_recalled_pack_is_received_only_as_a_return(world: World) -> None:
    packs = _at_pharmacy_via_distributor(world)
    world.store.recall(PACK_GTIN, LOT)
    world.submit(PHARMACY, send_back(PHARMACY, DISTRIBUTOR, packs[:1]))
    world.reject(DISTRIBUTOR, receive(PHARMACY, DISTRIBUTOR, packs[:1]), rule="custody.recalled")
    world.reject(  # a return is received by whom it was sent to
        MAKER, receive_back(PHARMACY, MAKER, packs[:1]), rule="custody.not-shipped-to-submitter"
    )


def test_a_shipping_with_disposition_returned_or_recalled_is_a_return(world: World) -> None:
    packs = _at_pharmacy_via_distributor(world)
    world.store.recall(PACK_GTIN, LOT)
    for n, disposition in enumerate(("returned", "recalled")):
        shipment = ship(PHARMACY, DISTRIBUTOR, packs[n : n + 1])
        world.submit(PHARMACY, {**shipment, "disposition": disposition})
        receipt = receive(PHARMACY, DISTRIBUTOR, packs[n : n + 1])
        world.submit(DISTRIBUTOR, {**receipt, "disposition": disposition})


def test_a_return_goes_up_the_chain_only(world: World) -> None:
    packs = _at_pharmacy_via_distributor(world)
    error = world.reject(
        PHARMACY, send_back(PHARMACY, HOSPITAL, packs[:1]), rule="return.not-upstream"
    )
    assert error.pointer == f"{E0}/destinationList"
    world.reject(AUDITOR, send_back(AUDITOR, MAKER, packs[:1]), rule="role.not-allowed")
    world.reject(PHARMACY, send_back(PHARMACY, MAKER, [pack(99)]), rule="custody.not-commissioned")
    world.reject(DISTRIBUTOR, send_back(DISTRIBUTOR, MAKER, packs[:1]), rule="custody.not-held")


def test_a_case_of_a_recalled_lot_goes_back_with_its_packs(world: World) -> None:
    packs = _at_pharmacy_via_distributor(world, cases=1)
    world.store.recall(PACK_GTIN, LOT)
    world.reject(PHARMACY, send_back(PHARMACY, DISTRIBUTOR, packs[:1]), rule="aggregation.packed")
    world.submit(PHARMACY, send_back(PHARMACY, DISTRIBUTOR, [case(0)]))
    world.submit(DISTRIBUTOR, receive_back(PHARMACY, DISTRIBUTOR, [case(0)]))
    held = [world.store.item(pack_dl(n)) for n in range(4)]
    assert {(s.status, s.holder) for s in held if s is not None} == {
        (ItemStatus.ACTIVE, world.who(DISTRIBUTOR).address)
    }


def test_a_suspended_lot_that_stops_shipping_still_goes_back(world: World) -> None:
    packs = _at_pharmacy_via_distributor(world)
    world.store.suspend(PACK_GTIN, LOT, LotSuspension(stops_shipping=True))
    world.reject(PHARMACY, dispense(PHARMACY, packs[:1]), rule="custody.suspended")
    world.submit(PHARMACY, send_back(PHARMACY, DISTRIBUTOR, packs[:1]))
    world.submit(DISTRIBUTOR, receive_back(PHARMACY, DISTRIBUTOR, packs[:1]))
    world.reject(DISTRIBUTOR, ship(DISTRIBUTOR, PHARMACY, packs[:1]), rule="custody.suspended")


def test_a_recalled_class_level_lot_goes_back_as_a_quantity(world: World) -> None:
    api_at_maker(world, 50)
    world.submit(MAKER, ship(MAKER, DISTRIBUTOR, kg=10))
    world.submit(DISTRIBUTOR, receive(MAKER, DISTRIBUTOR, kg=10))
    world.store.recall("08901234999998", "API-LOT-1")
    world.reject(DISTRIBUTOR, ship(DISTRIBUTOR, MAKER, kg=10), rule="custody.recalled")
    world.reject(DISTRIBUTOR, send_back(DISTRIBUTOR, MAKER, kg=11), rule="custody.not-held")
    world.submit(DISTRIBUTOR, send_back(DISTRIBUTOR, MAKER, kg=10))
    world.reject(MAKER, receive(DISTRIBUTOR, MAKER, kg=10), rule="custody.recalled")
    world.submit(MAKER, receive_back(DISTRIBUTOR, MAKER, kg=10))
    assert world.store.quantity_held(API_CLASS_DL, world.who(MAKER).address) == Decimal(50)


# --- aggregation -----------------------------------------------------------------------------


def test_shipping_and_receiving_a_case_moves_its_packs(world: World) -> None:
    packs = packs_at_maker(world, 4, cases=2)
    world.submit(MAKER, ship(MAKER, DISTRIBUTOR, [case(0)]))
    assert world.store.item(pack_dl(0)).status is ItemStatus.IN_TRANSIT  # type: ignore[union-attr]
    assert world.store.item(pack_dl(1)).status is ItemStatus.ACTIVE  # type: ignore[union-attr]
    world.submit(DISTRIBUTOR, receive(MAKER, DISTRIBUTOR, [case(0)]))
    inside = world.store.item(pack_dl(2))
    assert inside is not None and inside.holder == world.who(DISTRIBUTOR).address
    assert inside.parent == "https://id.gs1.org/00/047001230000000005"
    assert sorted(world.store.children(inside.parent)) == sorted([pack_dl(0), pack_dl(2)])
    assert packs


def test_a_pallet_moves_its_cases_and_their_packs(world: World) -> None:
    packs_at_maker(world, 4, cases=2)
    world.submit(
        MAKER, commission(MAKER, [case(9)], lot=None), aggregate(MAKER, case(9), [case(0), case(1)])
    )
    world.submit(MAKER, ship(MAKER, IMPORTER, [case(9)]))
    world.submit(IMPORTER, receive(MAKER, IMPORTER, [case(9)]))
    for n in range(4):
        assert world.store.item(pack_dl(n)).holder == world.who(IMPORTER).address  # type: ignore[union-attr]


def test_a_child_has_at_most_one_parent(world: World) -> None:
    packs = packs_at_maker(world, 4, cases=1)
    world.submit(MAKER, commission(MAKER, [case(5)], lot=None))
    error = world.reject(
        MAKER, aggregate(MAKER, case(5), packs[2:]), rule="aggregation.already-packed"
    )
    assert error.pointer == f"{E0}/childEPCs/0"


def test_a_packed_pack_does_not_move_alone(world: World) -> None:
    packs = packs_at_maker(world, 2, cases=1)
    error = world.reject(MAKER, ship(MAKER, DISTRIBUTOR, packs[:1]), rule="aggregation.packed")
    assert "unpack" in str(error)


def test_parent_and_children_must_be_held_by_the_packer(world: World) -> None:
    packs = packs_at_maker(world, 2)
    world.submit(MAKER, commission(MAKER, [case(0)], lot=None), ship(MAKER, DISTRIBUTOR, packs[:1]))
    error = world.reject(MAKER, aggregate(MAKER, case(0), packs), rule="custody.not-held")
    assert error.pointer == f"{E0}/childEPCs/0"
    error = world.reject(
        MAKER, aggregate(MAKER, case(7), packs[1:]), rule="custody.not-commissioned"
    )
    assert error.pointer == f"{E0}/parentID"


def test_a_case_cannot_contain_itself(world: World) -> None:
    packs_at_maker(world, 2, cases=1)
    world.submit(
        MAKER, commission(MAKER, [case(9)], lot=None), aggregate(MAKER, case(9), [case(0)])
    )
    world.reject(MAKER, aggregate(MAKER, case(0), [case(9)]), rule="aggregation.cycle")


def test_unpacking_releases_the_children(world: World) -> None:
    packs = packs_at_maker(world, 4, cases=1)
    world.reject(
        MAKER, aggregate(MAKER, case(0), [pack(99)], "DELETE"), rule="custody.not-commissioned"
    )
    world.submit(MAKER, commission(MAKER, [pack(99)]))
    world.reject(
        MAKER, aggregate(MAKER, case(0), [pack(99)], "DELETE"), rule="aggregation.not-a-child"
    )
    world.submit(
        MAKER, aggregate(MAKER, case(0), packs[:1], "DELETE"), ship(MAKER, DISTRIBUTOR, packs[:1])
    )
    world.submit(MAKER, aggregate(MAKER, case(0), [], "DELETE"))  # no children listed: all of them
    assert world.store.children("https://id.gs1.org/00/047001230000000005") == []


def test_dispensing_a_pack_from_a_case_takes_it_out(world: World) -> None:
    packs = packs_at_maker(world, 2, cases=1)
    world.submit(MAKER, ship(MAKER, PHARMACY, [case(0)]))
    world.submit(PHARMACY, receive(MAKER, PHARMACY, [case(0)]), dispense(PHARMACY, packs[:1]))
    assert world.store.children("https://id.gs1.org/00/047001230000000005") == [pack_dl(1)]


# --- transformation --------------------------------------------------------------------------


def test_a_transformation_consumes_held_api_and_commissions_its_outputs(world: World) -> None:
    api_at_maker(world, 50)
    changes = world.submit(MAKER, transform(MAKER, 12.5, [pack(1), pack(2)]))
    plant = world.who(MAKER).address
    assert MoveQuantity(API_CLASS_DL, plant, Decimal("-12.5"), "KGM") in changes
    made = [c.state for c in changes if isinstance(c, PutItem)]
    assert [(s.status, s.holder, s.lot, s.gtin) for s in made] == [
        (ItemStatus.ACTIVE, plant, LOT, PACK_GTIN)
    ] * 2
    assert world.store.quantity_held(API_CLASS_DL, plant) == Decimal("37.5")


def test_a_transformation_does_not_over_consume(world: World) -> None:
    api_at_maker(world, 50)
    world.submit(MAKER, transform(MAKER, 40, [pack(1)]))
    error = world.reject(
        MAKER, transform(MAKER, 10.5, [pack(2)]), rule="transformation.over-consumed"
    )
    assert error.pointer == f"{E0}/inputQuantityList/0"
    assert "holds 10 " in str(error)


def test_a_transformation_needs_api_the_maker_holds(world: World) -> None:
    world.submit(API_MAKER, commission_lot(API_MAKER))  # still at the API maker
    world.reject(MAKER, transform(MAKER, 1, [pack(1)]), rule="transformation.over-consumed")


def test_transformation_outputs_are_commissioned_once(world: World) -> None:
    api_at_maker(world)
    world.submit(MAKER, commission(MAKER, [pack(1)]))
    error = world.reject(MAKER, transform(MAKER, 1, [pack(1)]), rule="commission.duplicate")
    assert error.pointer == f"{E0}/outputEPCList/0"
    world.reject(
        MAKER, {**transform(MAKER, 1, [pack(2)]), "ilmd": {}}, rule="commission.lot-required"
    )
