"""The lock names a document's custody check takes first, and their numbers."""

from __future__ import annotations

from medledger.custody.lock_keys import (
    GLOBAL_KEY,
    document_keys,
    item_key,
    key_number,
    key_numbers,
    lot_key,
)
from medledger.epcis.normalise import normalise_events
from tests.medledger.custody.rules_support import (
    API_CLASS_DL,
    LOT,
    MAKER,
    PACK_GTIN,
    WHOLESALER,
    aggregate,
    case,
    commission,
    commission_lot,
    pack,
    pack_dl,
    ship,
    transform,
)


def test_commissioning_packs_names_each_pack_and_its_lot() -> None:
    keys = document_keys(normalise_events([commission(MAKER, [pack(1), pack(2)])]))
    assert keys == {item_key(pack_dl(1)), item_key(pack_dl(2)), lot_key(PACK_GTIN, LOT)}


def test_a_case_without_a_lot_names_the_case_only() -> None:
    (event,) = normalise_events([commission(MAKER, [case(1)], lot=None)])
    assert document_keys([event]) == {item_key(event.epcs[0])}


def test_packing_names_the_parent_and_the_children() -> None:
    (event,) = normalise_events([aggregate(MAKER, case(1), [pack(1), pack(2)])])
    assert event.parent_id is not None
    assert document_keys([event]) == {
        item_key(event.parent_id),
        item_key(pack_dl(1)),
        item_key(pack_dl(2)),
    }


def test_quantities_name_their_class_and_a_transformation_its_outputs_lot() -> None:
    keys = document_keys(
        normalise_events(
            [commission_lot(MAKER), ship(MAKER, WHOLESALER, kg=1.0), transform(MAKER, 1, [pack(3)])]
        )
    )
    assert item_key(API_CLASS_DL) in keys
    assert {item_key(pack_dl(3)), lot_key(PACK_GTIN, LOT)} <= keys
    assert lot_key("08901234999998", "API-LOT-1") in keys  # the class's own lot


def test_shipping_names_no_lot() -> None:
    """Moving packs changes no lot's authority: documents about packs of one lot do not wait
    for each other."""
    keys = document_keys(normalise_events([ship(MAKER, WHOLESALER, [pack(1)])]))
    assert keys == {item_key(pack_dl(1))}


def test_numbers_are_stable_signed_64_bit_and_sorted_once_each() -> None:
    number = key_number(item_key(pack(1)))
    assert number == key_number(item_key(pack(1)))
    assert -(2**63) <= number < 2**63
    names = [item_key(pack(i)) for i in range(50)] * 2
    numbers = key_numbers(names)
    assert numbers == sorted(set(numbers)) and len(numbers) == 50
    assert GLOBAL_KEY not in numbers
