"""RecallRegistry: manufacturers register their batches; the regulator or the batch's own
manufacturer recalls and releases them."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3.contract import Contract

from tests.contracts.contract_support import (
    DISTRIBUTOR,
    MANUFACTURER,
    MANUFACTURER_PREFIX,
    OTHER_MANUFACTURER_PREFIX,
    PHARMACY,
    Cast,
    Reverts,
    with_check_digit,
)

GTIN = with_check_digit(950123456789)  # GTIN-13 held as a GTIN-14 number with a leading zero
LOT = "LOT-2025/07A"
PACKS = 1000
REASON = 3
ZERO_ADDRESS = "0x" + "00" * 20


def key(gtin: int = GTIN, lot: str = LOT) -> bytes:
    return keccak(encode(["uint64", "string"], [gtin, lot]))


def register_batch(
    recalls: Contract, sender: str, gtin: int = GTIN, lot: str = LOT, packs: int = PACKS
) -> Any:
    tx = recalls.functions.registerBatch(gtin, lot, packs).transact({"from": sender})
    return recalls.w3.eth.wait_for_transaction_receipt(tx)


def recall(recalls: Contract, sender: str, gtin: int = GTIN, lot: str = LOT) -> Any:
    tx = recalls.functions.recall(gtin, lot, REASON).transact({"from": sender})
    return recalls.w3.eth.wait_for_transaction_receipt(tx)


def release(recalls: Contract, sender: str, gtin: int = GTIN, lot: str = LOT) -> Any:
    tx = recalls.functions.release(gtin, lot, REASON).transact({"from": sender})
    return recalls.w3.eth.wait_for_transaction_receipt(tx)


@pytest.fixture
def registered(recalls: Contract, cast: Cast) -> bytes:
    """The batch (GTIN, LOT), registered by `cast.manufacturer`."""
    register_batch(recalls, cast.manufacturer)
    return key()


# --- Batches ----------------------------------------------------------------------------------


def test_batch_key_is_keccak_of_abi_encoded_gtin_and_lot(recalls: Contract) -> None:
    assert recalls.functions.batchKey(GTIN, LOT).call() == key()


def test_a_manufacturer_registers_a_batch_as_its_own(recalls: Contract, cast: Cast) -> None:
    receipt = register_batch(recalls, cast.manufacturer)
    (event,) = recalls.events.BatchRegistered().process_receipt(receipt)
    assert dict(event["args"]) == {
        "key": key(),
        "gtin": GTIN,
        "lot": LOT,
        "manufacturer": cast.manufacturer,
        "packs": PACKS,
    }
    assert recalls.functions.batch(key()).call() == (cast.manufacturer, False, 0, PACKS, False, 0)


def test_a_batch_is_registered_only_once(
    recalls: Contract, participants: Contract, cast: Cast, registered: bytes, reverts: Reverts
) -> None:
    participants.functions.setCompanyPrefixes(
        cast.other_manufacturer, [OTHER_MANUFACTURER_PREFIX, MANUFACTURER_PREFIX]
    ).transact()  # a licensee of the same products
    with reverts("BatchAlreadyRegistered", registered, cast.manufacturer):
        register_batch(recalls, cast.other_manufacturer)


def test_a_manufacturer_registers_batches_only_of_its_own_products(
    recalls: Contract, participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    """Issue 14, finding 5: a batch of another company's GTIN is not the caller's to register."""
    with reverts("GtinNotOwned", cast.other_manufacturer, GTIN):
        register_batch(recalls, cast.other_manufacturer)
    participants.functions.setCompanyPrefixes(cast.manufacturer, []).transact()
    with reverts("GtinNotOwned", cast.manufacturer, GTIN):
        register_batch(recalls, cast.manufacturer)


def test_a_batch_declares_at_least_one_pack(
    recalls: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("InvalidPacks"):
        register_batch(recalls, cast.manufacturer, packs=0)


@pytest.mark.parametrize("who", ["distributor", "api_maker", "auditor", "regulator"])
def test_only_a_manufacturer_registers_batches(
    recalls: Contract, participants: Contract, cast: Cast, reverts: Reverts, who: str
) -> None:
    sender = getattr(cast, who)
    roles = participants.functions.participant(sender).call()[0]
    with reverts("RoleNotPermitted", sender, roles):
        register_batch(recalls, sender)


def test_an_unregistered_or_suspended_account_cannot_register_batches(
    recalls: Contract, participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("ParticipantNotActive", cast.outsider):
        register_batch(recalls, cast.outsider)
    participants.functions.suspend(cast.manufacturer).transact()
    with reverts("ParticipantNotActive", cast.manufacturer):
        register_batch(recalls, cast.manufacturer)


@pytest.mark.parametrize(
    "gtin",
    [
        pytest.param(0, id="zero"),
        pytest.param(GTIN + 1 if GTIN % 10 != 9 else GTIN - 1, id="wrong-check-digit"),
        pytest.param(with_check_digit(10**13), id="15-digits"),
    ],
)
def test_a_gtin_must_be_at_most_14_digits_with_a_valid_check_digit(
    recalls: Contract, cast: Cast, reverts: Reverts, gtin: int
) -> None:
    with reverts("InvalidGtin", gtin):
        register_batch(recalls, cast.manufacturer, gtin=gtin)
    with reverts("InvalidGtin", gtin):
        recall(recalls, cast.regulator, gtin=gtin)


@pytest.mark.parametrize(
    "lot",
    [
        pytest.param("", id="empty"),
        pytest.param("L" * 21, id="21-characters"),
        pytest.param("LOT 1", id="space"),
        pytest.param("LOT#1", id="hash-sign"),
        pytest.param("LOTÉ", id="non-ascii"),
    ],
)
def test_a_lot_must_be_1_to_20_characters_of_gs1_set_82(
    recalls: Contract, cast: Cast, reverts: Reverts, lot: str
) -> None:
    with reverts("InvalidLot"):
        register_batch(recalls, cast.manufacturer, lot=lot)


@pytest.mark.parametrize(
    "lot", ["L" * 20, "!\"%&'()*+,-./:;<=>?_", "a1Z9"], ids=["20-chars", "punctuation", "mixed"]
)
def test_lots_of_gs1_set_82_are_accepted(recalls: Contract, cast: Cast, lot: str) -> None:
    register_batch(recalls, cast.manufacturer, lot=lot)
    assert recalls.functions.batch(key(lot=lot)).call()[0] == cast.manufacturer


# --- Recall and release -----------------------------------------------------------------------


def test_the_regulator_recalls_and_releases_any_batch_even_unregistered(
    recalls: Contract, cast: Cast
) -> None:
    receipt = recall(recalls, cast.regulator)
    (event,) = recalls.events.Recalled().process_receipt(receipt)
    assert dict(event["args"]) == {
        "key": key(),
        "gtin": GTIN,
        "lot": LOT,
        "reasonCode": REASON,
        "by": cast.regulator,
    }
    assert recalls.functions.isRecalled(GTIN, LOT).call()
    assert recalls.functions.batch(key()).call() == (
        ZERO_ADDRESS,
        True,
        receipt["blockNumber"],
        0,
        False,
        0,
    )

    receipt = release(recalls, cast.regulator)
    (event,) = recalls.events.Released().process_receipt(receipt)
    assert event["args"]["by"] == cast.regulator
    assert not recalls.functions.isRecalled(GTIN, LOT).call()
    assert recalls.functions.batch(key()).call() == (ZERO_ADDRESS, False, 0, 0, False, 0)


def test_the_registering_manufacturer_recalls_and_releases_its_batch(
    recalls: Contract, cast: Cast, registered: bytes
) -> None:
    assert not recalls.functions.isRecalled(GTIN, LOT).call()
    receipt = recall(recalls, cast.manufacturer)
    assert recalls.events.Recalled().process_receipt(receipt)[0]["args"]["by"] == cast.manufacturer
    assert recalls.functions.isRecalled(GTIN, LOT).call()
    release(recalls, cast.manufacturer)
    assert not recalls.functions.isRecalled(GTIN, LOT).call()


@pytest.mark.parametrize("who", ["other_manufacturer", "distributor", "auditor", "outsider"])
def test_nobody_else_recalls_or_releases_a_batch(
    recalls: Contract, cast: Cast, registered: bytes, reverts: Reverts, who: str
) -> None:
    sender = getattr(cast, who)
    with reverts("NotAuthorisedToRecall", sender):
        recall(recalls, sender)
    recall(recalls, cast.regulator)
    with reverts("NotAuthorisedToRecall", sender):
        release(recalls, sender)


def test_a_manufacturer_cannot_recall_an_unregistered_batch(
    recalls: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("NotAuthorisedToRecall", cast.manufacturer):
        recall(recalls, cast.manufacturer)


def test_a_suspended_manufacturer_cannot_recall_its_batch(
    recalls: Contract, participants: Contract, cast: Cast, registered: bytes, reverts: Reverts
) -> None:
    participants.functions.suspend(cast.manufacturer).transact()
    with reverts("ParticipantNotActive", cast.manufacturer):
        recall(recalls, cast.manufacturer)


def test_a_manufacturer_that_lost_the_role_cannot_recall_its_batch(
    recalls: Contract, participants: Contract, cast: Cast, registered: bytes, reverts: Reverts
) -> None:
    participants.functions.setRoles(cast.manufacturer, DISTRIBUTOR | PHARMACY).transact()
    with reverts("RoleNotPermitted", cast.manufacturer, DISTRIBUTOR | PHARMACY):
        recall(recalls, cast.manufacturer)
    participants.functions.setRoles(cast.manufacturer, MANUFACTURER).transact()
    recall(recalls, cast.manufacturer)


def test_recalling_twice_is_refused(
    recalls: Contract, cast: Cast, registered: bytes, reverts: Reverts
) -> None:
    recall(recalls, cast.manufacturer)
    with reverts("AlreadyRecalled", registered):
        recall(recalls, cast.regulator)


def test_releasing_a_batch_that_is_not_recalled_is_refused(
    recalls: Contract, cast: Cast, registered: bytes, reverts: Reverts
) -> None:
    with reverts("NotRecalled", registered):
        release(recalls, cast.regulator)
    recall(recalls, cast.regulator)
    release(recalls, cast.regulator)
    with reverts("NotRecalled", registered):
        release(recalls, cast.manufacturer)


def test_a_batch_recalled_before_registration_stays_recalled(recalls: Contract, cast: Cast) -> None:
    recall(recalls, cast.regulator)
    register_batch(recalls, cast.manufacturer)
    assert recalls.functions.isRecalled(GTIN, LOT).call()
    release(recalls, cast.manufacturer)
    assert not recalls.functions.isRecalled(GTIN, LOT).call()


def test_recall_status_is_per_lot(recalls: Contract, cast: Cast) -> None:
    recall(recalls, cast.regulator)
    assert not recalls.functions.isRecalled(GTIN, LOT + "B").call()
