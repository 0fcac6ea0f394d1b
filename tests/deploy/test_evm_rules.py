"""Our contracts under the Besu genesis's rules: London, and zero fees as on QBFT with zeroBaseFee.

Besu itself cannot run here; the nearest we can get is ganache and anvil on London rules, and
anvil with a zero base fee and gas price, where keys that hold no ether deploy, register and
anchor (as on the permissioned chain, where nobody is funded).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.deployment import deploy_contracts
from chain.ledger import Ledger
from devkit.constants import REGULATOR_GLN
from devkit.nodes import available, running_node
from medledger.epcis.gs1 import check_digit
from medledger.merkle import MerkleTree
from medledger.roles import Role
from tests.conftest import gln_with_check_digit
from tests.deploy.deploy_support import BESU, load_json

pytestmark = pytest.mark.node

#: (node, its flags, whether fees are zero like Besu with zeroBaseFee and min-gas-price=0)
PROFILES = {
    "ganache-london": ("ganache", ["--chain.hardfork", "london"], False),
    "anvil-london-zero-fee": (
        "anvil",
        ["--hardfork", "london", "--base-fee", "0", "--gas-price", "0"],
        True,
    ),
}


@pytest.fixture(params=sorted(PROFILES))
def profile_chain(request: pytest.FixtureRequest) -> Iterator[tuple[Chain, bool]]:
    kind, flags, zero_fee = PROFILES[str(request.param)]
    if not available(kind):
        pytest.skip(f"{kind} is not installed in node_modules (run `make deps`)")
    with running_node(kind, flags) as node:
        yield Chain.from_url(node.url, poll_interval=0.05), zero_fee


def _account(chain: Chain, zero_fee: bool) -> LocalAccount:
    if zero_fee:
        fresh: LocalAccount = Account.create()  # no ether at all, as on the QBFT network
        return fresh
    return chain.new_funded_account()


def test_the_genesis_rules_are_the_ones_tested_here() -> None:
    config = load_json(BESU / "genesis.json")["config"]
    assert config["londonBlock"] == 0 and config["zeroBaseFee"] is True


def test_contracts_deploy_register_and_anchor_under_london_rules(
    profile_chain: tuple[Chain, bool],
) -> None:
    chain, zero_fee = profile_chain
    regulator = _account(chain, zero_fee)
    deployment = deploy_contracts(chain, regulator, REGULATOR_GLN)
    ledger = Ledger(chain, deployment)
    maker = _account(chain, zero_fee)
    ledger.register_participant(
        regulator, maker.address, Role.MANUFACTURER, gln_with_check_digit("470012310000")
    )
    ledger.set_company_prefixes(regulator, maker.address, ["4700123"])

    values = [(os.urandom(32), os.urandom(32)) for _ in range(5)]
    tree = MerkleTree.build(values)
    result = ledger.anchor(maker, tree.root, len(values))
    anchored = ledger.get_anchor(tree.root)
    assert anchored is not None
    assert (anchored.submitter, anchored.event_count) == (maker.address, 5)
    event_hash, salt = values[2]
    assert ledger.verify_event(tree.root, event_hash, salt, list(tree.proof_for(values[2])))
    gtin = int("0470012300001" + str(check_digit("0470012300001")))
    ledger.register_batch(maker, gtin, "LOT-1", 100)
    ledger.recall(regulator, gtin, "LOT-1", 1)
    assert ledger.is_recalled(gtin, "LOT-1")

    receipt = chain.w3.eth.get_transaction_receipt(result.tx_hash)  # type: ignore[arg-type]
    if zero_fee:
        assert chain.fee_fields() == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        assert receipt["effectiveGasPrice"] == 0
        assert chain.w3.eth.get_balance(maker.address) == 0
        assert chain.w3.eth.get_balance(regulator.address) == 0
    else:
        assert chain.w3.eth.get_block("latest")["baseFeePerGas"] > 0
