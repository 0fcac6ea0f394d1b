"""Fixtures for the contract behaviour tests: an in-process EVM with the three registries deployed
from the committed artifacts, a cast of participants, and `reverts`, which asserts a custom error
by name (and optionally arguments) decoded from the revert data against the artifacts' ABIs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_typing import ChecksumAddress
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from tests.contracts.contract_support import (
    API_MAKER,
    AUDITOR,
    DISTRIBUTOR,
    MANUFACTURER,
    MANUFACTURER_PREFIX,
    OTHER_MANUFACTURER_PREFIX,
    REGULATOR_GLN,
    WHOLESALER,
    Cast,
    Deployment,
    Reverts,
    decode_custom_error,
    load_artifact,
    normalise,
    revert_data,
    with_check_digit,
)


@pytest.fixture
def reverts() -> Reverts:
    """`with reverts("ErrorName", *args):` asserts the block reverts with that custom error."""

    @contextmanager
    def expect(name: str, *args: Any) -> Iterator[None]:
        with pytest.raises((ContractLogicError, TransactionFailed)) as info:
            yield
        error = decode_custom_error(revert_data(info.value))
        assert error.name == name, f"expected {name}, reverted with {error}"
        if args:
            assert tuple(map(normalise, error.args)) == tuple(map(normalise, args)), error

    return expect


# --- Chain and contracts ---------------------------------------------------------------------


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": sender})
    )
    address = receipt["contractAddress"]
    assert address is not None, f"{name} was not deployed"
    return w3.eth.contract(address=address, abi=artifact["abi"])


# A fixed key keeps signatures reproducible between runs.
SIGNER_KEY = "0x" + "5e" * 32


@pytest.fixture(scope="session")
def _deployment() -> Deployment:
    w3 = Web3(EthereumTesterProvider())
    accounts: list[ChecksumAddress] = list(w3.eth.accounts)
    cast = Cast(
        regulator=accounts[0],
        api_maker=accounts[1],
        manufacturer=accounts[2],
        other_manufacturer=accounts[3],
        distributor=accounts[4],
        auditor=accounts[5],
        outsider=accounts[6],
    )
    # Transactions without an explicit sender come from the regulator.
    w3.eth.default_account = accounts[0]
    participants = deploy(w3, "ParticipantRegistry", REGULATOR_GLN, sender=cast.regulator)
    anchors = deploy(w3, "AnchorRegistry", participants.address, sender=cast.regulator)
    recalls = deploy(w3, "RecallRegistry", participants.address, sender=cast.regulator)
    signer: LocalAccount = Account.from_key(SIGNER_KEY)
    roster = [
        (cast.api_maker, API_MAKER, 400000000002),
        (cast.manufacturer, MANUFACTURER, 400000000003),
        (cast.other_manufacturer, MANUFACTURER, 400000000004),
        (cast.distributor, DISTRIBUTOR | WHOLESALER, 400000000005),
        (cast.auditor, AUDITOR, 400000000006),
        (signer.address, MANUFACTURER, 400000000007),
    ]
    for account, roles, gln_body in roster:
        participants.functions.register(account, roles, with_check_digit(gln_body)).transact(
            {"from": cast.regulator}
        )
    for account, prefixes in (
        (cast.manufacturer, [MANUFACTURER_PREFIX]),
        (cast.other_manufacturer, [OTHER_MANUFACTURER_PREFIX]),
        (signer.address, [MANUFACTURER_PREFIX]),
    ):
        participants.functions.setCompanyPrefixes(account, prefixes).transact(
            {"from": cast.regulator}
        )
    return Deployment(w3, participants, anchors, recalls, cast, signer)


@pytest.fixture
def deployment(_deployment: Deployment) -> Iterator[Deployment]:
    """The session's deployment, rolled back to its freshly deployed state after each test."""
    tester = _deployment.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    yield _deployment
    tester.revert_to_snapshot(snapshot)


@pytest.fixture
def w3(deployment: Deployment) -> Web3:
    return deployment.w3


@pytest.fixture
def cast(deployment: Deployment) -> Cast:
    return deployment.cast


@pytest.fixture
def participants(deployment: Deployment) -> Contract:
    return deployment.participants


@pytest.fixture
def anchors(deployment: Deployment) -> Contract:
    return deployment.anchors


@pytest.fixture
def recalls(deployment: Deployment) -> Contract:
    return deployment.recalls


@pytest.fixture
def signer(deployment: Deployment) -> LocalAccount:
    return deployment.signer
