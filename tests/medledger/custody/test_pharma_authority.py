"""Commissioning authority under the pharma rules (issue 14, finding 5): a participant commissions
only its own products (GTINs under its GS1 company prefixes), only into lots it declared or that
nobody owns yet (which it then owns), and never past a lot's declared packs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medledger.custody.state import CommissionIntoLot, owns_gtin
from medledger.epcis.builders import Actor
from medledger.roles import Role
from tests.medledger.custody.rules_support import (
    API_MAKER,
    LOT,
    MAKER,
    PACK_GTIN,
    World,
    api_at_maker,
    commission,
    commission_lot,
    pack,
    transform,
)

#: A second manufacturer, with a company prefix of its own.
RIVAL = Actor("rival manufacturer", Role.MANUFACTURER, "4700999")


@pytest.fixture
def world() -> World:
    return World(validate=True)


def rival(world: World) -> World:
    participant = replace(world.who(MAKER), address="0x" + "ee" * 20, gln=RIVAL.gln)
    world.participants[RIVAL.name] = replace(participant, company_prefixes=("4700999",))
    world.store.add_participant(world.participants[RIVAL.name])
    return world


def test_a_gtin_belongs_to_the_prefix_its_digits_after_the_indicator_start_with() -> None:
    assert owns_gtin(("4700123",), PACK_GTIN)
    assert owns_gtin(("470012312",), PACK_GTIN)
    assert not owns_gtin(("0470012",), PACK_GTIN)  # the indicator digit is not the prefix's
    assert not owns_gtin((), PACK_GTIN)
    assert not owns_gtin(("4700123",), "4700123123452")  # a GTIN-14 only


def test_a_manufacturer_cannot_commission_another_companys_product(world: World) -> None:
    rival(world)
    error = world.reject(RIVAL, commission(RIVAL, [pack(1)]), rule="commission.not-own-product")
    assert error.pointer == "/epcisBody/eventList/0/epcList/0"
    assert "4700999" in str(error)


def test_nor_without_any_company_prefix(world: World) -> None:
    world.participants[MAKER.name] = replace(world.who(MAKER), company_prefixes=())
    error = world.reject(MAKER, commission(MAKER, [pack(1)]), rule="commission.not-own-product")
    assert "none registered" in str(error)


def test_lot_level_and_transformation_commissioning_are_held_to_the_same_rule(
    world: World,
) -> None:
    world.participants[API_MAKER.name] = replace(world.who(API_MAKER), company_prefixes=("4700",))
    world.reject(API_MAKER, commission_lot(API_MAKER), rule="commission.not-own-product")
    world.participants[API_MAKER.name] = replace(world.who(API_MAKER), company_prefixes=("8901",))
    api_at_maker(world)
    world.participants[MAKER.name] = replace(world.who(MAKER), company_prefixes=("4700999",))
    error = world.reject(MAKER, transform(MAKER, 1, [pack(1)]), rule="commission.not-own-product")
    assert error.pointer == "/epcisBody/eventList/0/outputEPCList/0"


def test_a_lot_someone_else_declared_is_theirs_alone(world: World) -> None:
    rival(world)
    world.participants[RIVAL.name] = replace(world.who(RIVAL), company_prefixes=("4700123",))
    world.store.declare_lot(PACK_GTIN, LOT, world.who(MAKER).address, packs=3)
    error = world.reject(RIVAL, commission(RIVAL, [pack(9)]), rule="commission.lot-not-own")
    assert "declared by" in str(error)


def test_an_undeclared_lot_belongs_to_its_first_commissioner(world: World) -> None:
    rival(world)
    world.participants[RIVAL.name] = replace(world.who(RIVAL), company_prefixes=("4700123",))
    changes = world.submit(MAKER, commission(MAKER, [pack(1)]))
    assert CommissionIntoLot(PACK_GTIN, LOT, world.who(MAKER).address, 1, False) in changes
    world.submit(MAKER, commission(MAKER, [pack(2)]))  # its own claim: no count to keep
    error = world.reject(RIVAL, commission(RIVAL, [pack(3)]), rule="commission.lot-not-own")
    assert "first commissioned by" in str(error)


def test_never_past_the_declared_packs_across_documents_and_within_one(world: World) -> None:
    maker = world.who(MAKER).address
    world.store.declare_lot(PACK_GTIN, LOT, maker, packs=3)
    changes = world.submit(MAKER, commission(MAKER, [pack(1)]))
    assert CommissionIntoLot(PACK_GTIN, LOT, maker, 1, True) in changes
    error = world.reject(
        MAKER,
        commission(MAKER, [pack(2)]),
        commission(MAKER, [pack(3), pack(4)]),
        rule="commission.over-declared",
    )
    assert error.pointer == "/epcisBody/eventList/1/epcList/1"
    assert "declared for 3 packs and 3 are commissioned" in str(error)
    world.submit(MAKER, commission(MAKER, [pack(2), pack(3)]))
    world.reject(MAKER, commission(MAKER, [pack(4)]), rule="commission.over-declared")
