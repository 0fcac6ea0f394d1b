"""RecallRegistry suspensions: the regulator or an active pharmacovigilance officer suspends a
batch pending an investigation (with a case number), lifts it; the regulator escalates it to a
recall in one transaction."""

from __future__ import annotations

from typing import Any

import pytest
from web3.contract import Contract

from tests.contracts.contract_support import (
    MANUFACTURER,
    PHARMACOVIGILANCE,
    Cast,
    Reverts,
    with_check_digit,
)
from tests.contracts.test_recall_registry import GTIN, LOT, key, recall

CASE = "PV-2026/0042"
REASON = 1
ZERO_ADDRESS = "0x" + "00" * 20


def suspend(recalls: Contract, sender: str, case: str = CASE, lot: str = LOT) -> Any:
    tx = recalls.functions.suspend(GTIN, lot, REASON, case).transact({"from": sender})
    return recalls.w3.eth.wait_for_transaction_receipt(tx)


def lift(recalls: Contract, sender: str) -> Any:
    tx = recalls.functions.liftSuspension(GTIN, LOT, 2).transact({"from": sender})
    return recalls.w3.eth.wait_for_transaction_receipt(tx)


def escalate(recalls: Contract, sender: str) -> Any:
    tx = recalls.functions.escalateSuspension(GTIN, LOT, 8).transact({"from": sender})
    return recalls.w3.eth.wait_for_transaction_receipt(tx)


@pytest.fixture
def officer(participants: Contract, cast: Cast) -> str:
    """`cast.outsider`, registered as a pharmacovigilance officer."""
    participants.functions.register(
        cast.outsider, PHARMACOVIGILANCE, with_check_digit(400000000009)
    ).transact({"from": cast.regulator})
    assert participants.functions.isActive(cast.outsider).call()
    return cast.outsider


def test_the_regulator_suspends_any_batch_with_a_case_number_and_lifts_it(
    recalls: Contract, cast: Cast
) -> None:
    receipt = suspend(recalls, cast.regulator)
    (event,) = recalls.events.Suspended().process_receipt(receipt)
    assert dict(event["args"]) == {
        "key": key(),
        "gtin": GTIN,
        "lot": LOT,
        "reasonCode": REASON,
        "caseNumber": CASE,
        "by": cast.regulator,
    }
    assert recalls.functions.isSuspended(GTIN, LOT).call()
    assert not recalls.functions.isRecalled(GTIN, LOT).call()
    assert recalls.functions.batch(key()).call() == (
        ZERO_ADDRESS,
        False,
        0,
        0,
        True,
        receipt["blockNumber"],
    )
    receipt = lift(recalls, cast.regulator)
    (event,) = recalls.events.SuspensionLifted().process_receipt(receipt)
    assert dict(event["args"]) == {
        "key": key(),
        "gtin": GTIN,
        "lot": LOT,
        "reasonCode": 2,
        "by": cast.regulator,
    }
    assert recalls.functions.batch(key()).call() == (ZERO_ADDRESS, False, 0, 0, False, 0)


def test_a_pharmacovigilance_officer_suspends_and_lifts(recalls: Contract, officer: str) -> None:
    suspend(recalls, officer)
    assert recalls.functions.isSuspended(GTIN, LOT).call()
    lift(recalls, officer)
    assert not recalls.functions.isSuspended(GTIN, LOT).call()


def test_an_officer_suspended_or_without_the_role_may_not(
    recalls: Contract, participants: Contract, cast: Cast, officer: str, reverts: Reverts
) -> None:
    participants.functions.suspend(officer).transact({"from": cast.regulator})
    with reverts("NotAuthorisedToSuspend", officer):
        suspend(recalls, officer)
    participants.functions.reinstate(officer).transact({"from": cast.regulator})
    participants.functions.setRoles(officer, MANUFACTURER).transact({"from": cast.regulator})
    with reverts("NotAuthorisedToSuspend", officer):
        suspend(recalls, officer)


@pytest.mark.parametrize("who", ["manufacturer", "distributor", "auditor", "outsider"])
def test_nobody_else_suspends_or_lifts(
    recalls: Contract, cast: Cast, reverts: Reverts, who: str
) -> None:
    sender = getattr(cast, who)
    with reverts("NotAuthorisedToSuspend", sender):
        suspend(recalls, sender)
    suspend(recalls, cast.regulator)
    with reverts("NotAuthorisedToSuspend", sender):
        lift(recalls, sender)


def test_only_the_regulator_escalates_a_suspension_to_a_recall_in_one_transaction(
    recalls: Contract, cast: Cast, officer: str, reverts: Reverts
) -> None:
    suspend(recalls, officer)
    with reverts("NotAuthorisedToRecall", officer):
        escalate(recalls, officer)
    receipt = escalate(recalls, cast.regulator)
    (escalated,) = recalls.events.SuspensionEscalated().process_receipt(receipt)
    (recalled,) = recalls.events.Recalled().process_receipt(receipt)
    assert escalated["args"]["reasonCode"] == recalled["args"]["reasonCode"] == 8
    assert escalated["logIndex"] < recalled["logIndex"]
    assert recalls.functions.batch(key()).call() == (
        ZERO_ADDRESS,
        True,
        receipt["blockNumber"],
        0,
        False,
        0,
    )


def test_suspending_twice_or_a_recalled_batch_and_lifting_or_escalating_none_are_refused(
    recalls: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("NotSuspended", key()):
        lift(recalls, cast.regulator)
    with reverts("NotSuspended", key()):
        escalate(recalls, cast.regulator)
    suspend(recalls, cast.regulator)
    with reverts("AlreadySuspended", key()):
        suspend(recalls, cast.regulator)
    escalate(recalls, cast.regulator)
    with reverts("AlreadyRecalled", key()):
        suspend(recalls, cast.regulator)
    with reverts("AlreadyRecalled", key(GTIN, "OTHER")):
        recall(recalls, cast.regulator, lot="OTHER")
        suspend(recalls, cast.regulator, lot="OTHER")


@pytest.mark.parametrize(
    "case", ["", "x" * 33, "PV 1", "PV\u00e91"], ids=["empty", "33-chars", "space", "non-ascii"]
)
def test_a_case_number_is_1_to_32_characters_of_gs1_set_82(
    recalls: Contract, cast: Cast, reverts: Reverts, case: str
) -> None:
    with reverts("InvalidCaseNumber"):
        suspend(recalls, cast.regulator, case=case)
    suspend(recalls, cast.regulator, case="x" * 32)
