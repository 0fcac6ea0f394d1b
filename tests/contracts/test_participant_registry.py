"""ParticipantRegistry: the regulator alone manages participants, their roles and status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from web3.contract import Contract

from tests.contracts.contract_support import (
    ALL_ROLES,
    AUDITOR,
    DISTRIBUTOR,
    MANUFACTURER,
    PHARMACY,
    REGULATOR,
    REGULATOR_GLN,
    STATUS_ACTIVE,
    STATUS_NONE,
    STATUS_SUSPENDED,
    Cast,
    Reverts,
    with_check_digit,
)

NEW_GLN = with_check_digit(400000000099)


def test_deployer_is_the_regulator_and_an_active_participant(
    participants: Contract, cast: Cast
) -> None:
    assert participants.functions.regulator().call() == cast.regulator
    assert participants.functions.owner().call() == cast.regulator
    roles, gln, status, registered_at = participants.functions.participant(cast.regulator).call()
    assert (roles, gln, status) == (REGULATOR, REGULATOR_GLN, STATUS_ACTIVE)
    assert registered_at > 0
    assert participants.functions.isActive(cast.regulator).call()


def test_participant_count_includes_the_regulator(participants: Contract) -> None:
    # regulator + the six participants the fixture registers
    assert participants.functions.participantCount().call() == 7


def test_regulator_registers_a_participant_and_an_event_records_it(
    participants: Contract, cast: Cast
) -> None:
    tx = participants.functions.register(cast.outsider, PHARMACY, NEW_GLN).transact(
        {"from": cast.regulator}
    )
    receipt = participants.w3.eth.wait_for_transaction_receipt(tx)
    (event,) = participants.events.ParticipantRegistered().process_receipt(receipt)
    assert dict(event["args"]) == {"account": cast.outsider, "roles": PHARMACY, "gln": NEW_GLN}
    roles, gln, status, _ = participants.functions.participant(cast.outsider).call()
    assert (roles, gln, status) == (PHARMACY, NEW_GLN, STATUS_ACTIVE)
    assert participants.functions.participantCount().call() == 8


def test_an_unregistered_account_has_status_none(participants: Contract, cast: Cast) -> None:
    assert participants.functions.participant(cast.outsider).call() == (0, 0, STATUS_NONE, 0)
    assert not participants.functions.isActive(cast.outsider).call()
    assert not participants.functions.hasAnyRole(cast.outsider, ALL_ROLES).call()


MANAGEMENT_CALLS: dict[str, Callable[[Contract, Cast], Any]] = {
    "register": lambda c, cast: c.functions.register(cast.outsider, PHARMACY, NEW_GLN),
    "setRoles": lambda c, cast: c.functions.setRoles(cast.distributor, PHARMACY),
    "suspend": lambda c, cast: c.functions.suspend(cast.distributor),
    "reinstate": lambda c, cast: c.functions.reinstate(cast.distributor),
    "setCompanyPrefixes": lambda c, cast: c.functions.setCompanyPrefixes(
        cast.distributor, ["4700123"]
    ),
}


@pytest.mark.parametrize("action", sorted(MANAGEMENT_CALLS))
@pytest.mark.parametrize("caller", ["manufacturer", "auditor", "outsider"])
def test_only_the_regulator_manages_participants(
    participants: Contract, cast: Cast, reverts: Reverts, action: str, caller: str
) -> None:
    sender = getattr(cast, caller)
    with reverts("OwnableUnauthorizedAccount", sender):
        MANAGEMENT_CALLS[action](participants, cast).transact({"from": sender})


def test_registering_the_zero_address_is_refused(participants: Contract, reverts: Reverts) -> None:
    zero = "0x" + "00" * 20
    with reverts("ZeroAddress"):
        participants.functions.register(zero, PHARMACY, NEW_GLN).transact()


def test_registering_twice_is_refused(participants: Contract, cast: Cast, reverts: Reverts) -> None:
    with reverts("AlreadyRegistered", cast.distributor):
        participants.functions.register(cast.distributor, PHARMACY, NEW_GLN).transact()


@pytest.mark.parametrize(
    "roles", [0, ALL_ROLES + 1, 1 << 31], ids=["none", "undefined-bit-10", "undefined-bit-31"]
)
def test_roles_must_be_nonzero_and_defined(
    participants: Contract, cast: Cast, reverts: Reverts, roles: int
) -> None:
    with reverts("InvalidRoles", roles):
        participants.functions.register(cast.outsider, roles, NEW_GLN).transact()
    with reverts("InvalidRoles", roles):
        participants.functions.setRoles(cast.distributor, roles).transact()


@pytest.mark.parametrize(
    "gln",
    [
        pytest.param(NEW_GLN + 1 if NEW_GLN % 10 != 9 else NEW_GLN - 1, id="wrong-check-digit"),
        pytest.param(with_check_digit(40000000009), id="12-digits"),
        pytest.param(with_check_digit(4000000000099), id="14-digits"),
        pytest.param(0, id="zero"),
    ],
)
def test_gln_must_have_13_digits_and_a_valid_check_digit(
    participants: Contract, cast: Cast, reverts: Reverts, gln: int
) -> None:
    with reverts("InvalidGln", gln):
        participants.functions.register(cast.outsider, PHARMACY, gln).transact()


def test_gln_with_leading_digit_one_and_check_digit_zero_is_accepted(
    participants: Contract, cast: Cast
) -> None:
    # 1000000000009 is the smallest valid 13-digit GLN (check digit computed, not assumed)
    gln = with_check_digit(100000000000)
    participants.functions.register(cast.outsider, PHARMACY, gln).transact()
    assert participants.functions.participant(cast.outsider).call()[1] == gln


def test_set_roles_replaces_roles_and_emits_previous_and_new(
    participants: Contract, cast: Cast
) -> None:
    tx = participants.functions.setRoles(cast.auditor, AUDITOR | PHARMACY).transact()
    receipt = participants.w3.eth.wait_for_transaction_receipt(tx)
    (event,) = participants.events.RolesChanged().process_receipt(receipt)
    assert dict(event["args"]) == {
        "account": cast.auditor,
        "previousRoles": AUDITOR,
        "roles": AUDITOR | PHARMACY,
    }
    assert participants.functions.participant(cast.auditor).call()[0] == AUDITOR | PHARMACY


def test_managing_an_unregistered_account_is_refused(
    participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    for call in (
        participants.functions.setRoles(cast.outsider, PHARMACY),
        participants.functions.suspend(cast.outsider),
        participants.functions.reinstate(cast.outsider),
    ):
        with reverts("NotRegistered", cast.outsider):
            call.transact()


def test_suspension_and_reinstatement_flip_activity_and_emit_events(
    participants: Contract, cast: Cast
) -> None:
    w3 = participants.w3
    tx = participants.functions.suspend(cast.manufacturer).transact()
    (suspended,) = participants.events.ParticipantSuspended().process_receipt(
        w3.eth.wait_for_transaction_receipt(tx)
    )
    assert suspended["args"]["account"] == cast.manufacturer
    assert participants.functions.participant(cast.manufacturer).call()[2] == STATUS_SUSPENDED
    assert not participants.functions.isActive(cast.manufacturer).call()
    assert not participants.functions.hasAnyRole(cast.manufacturer, MANUFACTURER).call()

    tx = participants.functions.reinstate(cast.manufacturer).transact()
    (reinstated,) = participants.events.ParticipantReinstated().process_receipt(
        w3.eth.wait_for_transaction_receipt(tx)
    )
    assert reinstated["args"]["account"] == cast.manufacturer
    assert participants.functions.isActive(cast.manufacturer).call()
    assert participants.functions.hasAnyRole(cast.manufacturer, MANUFACTURER).call()


def test_suspending_twice_and_reinstating_an_active_participant_are_refused(
    participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("NotSuspended", cast.distributor):
        participants.functions.reinstate(cast.distributor).transact()
    participants.functions.suspend(cast.distributor).transact()
    with reverts("AlreadySuspended", cast.distributor):
        participants.functions.suspend(cast.distributor).transact()


def test_has_any_role_needs_one_matching_bit(participants: Contract, cast: Cast) -> None:
    assert participants.functions.hasAnyRole(cast.distributor, DISTRIBUTOR | PHARMACY).call()
    assert not participants.functions.hasAnyRole(cast.distributor, PHARMACY).call()


def test_renouncing_the_regulator_role_is_disabled(
    participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("RenounceDisabled"):
        participants.functions.renounceOwnership().transact({"from": cast.regulator})
    assert participants.functions.regulator().call() == cast.regulator


def test_regulator_hand_over_takes_two_steps(participants: Contract, cast: Cast) -> None:
    participants.functions.transferOwnership(cast.outsider).transact({"from": cast.regulator})
    assert participants.functions.regulator().call() == cast.regulator
    participants.functions.acceptOwnership().transact({"from": cast.outsider})
    assert participants.functions.regulator().call() == cast.outsider


# --- GS1 company prefixes (issue 14, finding 5: commissioning authority) ------------------


def test_the_regulator_sets_a_participants_company_prefixes_and_an_event_records_them(
    participants: Contract, cast: Cast
) -> None:
    tx = participants.functions.setCompanyPrefixes(
        cast.api_maker, ["0614141", "890123412345"]
    ).transact()
    receipt = participants.w3.eth.wait_for_transaction_receipt(tx)
    (event,) = participants.events.CompanyPrefixesSet().process_receipt(receipt)
    assert dict(event["args"]) == {
        "account": cast.api_maker,
        "prefixes": ["0614141", "890123412345"],
    }
    assert participants.functions.companyPrefixes(cast.api_maker).call() == [
        "0614141",
        "890123412345",
    ]
    participants.functions.setCompanyPrefixes(cast.api_maker, []).transact()
    assert participants.functions.companyPrefixes(cast.api_maker).call() == []


@pytest.mark.parametrize(
    ("gtin", "owned"),
    [
        pytest.param(with_check_digit(61414100001), True, id="gtin-12-under-0614141"),
        pytest.param(with_check_digit(1061414100001), True, id="indicator-1"),
        pytest.param(with_check_digit(6141410000), False, id="leading-zeros-differ"),
        pytest.param(with_check_digit(61414200001), False, id="other-company"),
        pytest.param(with_check_digit(4700123123450 // 10), False, id="no-prefix-of-it"),
    ],
)
def test_a_gtin_is_owned_when_its_digits_after_the_indicator_start_with_a_prefix(
    participants: Contract, cast: Cast, gtin: int, owned: bool
) -> None:
    participants.functions.setCompanyPrefixes(cast.api_maker, ["0614141"]).transact()
    assert participants.functions.ownsGtin(cast.api_maker, gtin).call() is owned
    assert not participants.functions.ownsGtin(cast.distributor, gtin).call()


@pytest.mark.parametrize(
    "prefix",
    ["123", "1234567890123", "47001a3", "4700 12"],
    ids=["3-digits", "13-digits", "letter", "space"],
)
def test_a_company_prefix_is_4_to_12_digits(
    participants: Contract, cast: Cast, reverts: Reverts, prefix: str
) -> None:
    with reverts("InvalidCompanyPrefix", 1):
        participants.functions.setCompanyPrefixes(cast.api_maker, ["4700123", prefix]).transact()


def test_company_prefixes_are_bounded_and_only_for_registered_participants(
    participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("TooManyCompanyPrefixes", 33):
        participants.functions.setCompanyPrefixes(
            cast.api_maker, [f"47{i:05d}" for i in range(33)]
        ).transact()
    with reverts("NotRegistered", cast.outsider):
        participants.functions.setCompanyPrefixes(cast.outsider, ["4700123"]).transact()
