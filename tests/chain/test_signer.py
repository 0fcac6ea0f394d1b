"""Signing through a remote signer (chain/signer.py) that speaks Web3Signer's Eth1 JSON-RPC.

The signer here is devkit's fake Web3Signer (a real HTTP server following the documented API,
keys in memory); the client, the sender and the chain (anvil) are the real ones.

- A participant whose key only the remote signer holds anchors a batch, and its receipts verify
  against the chain as ``provenance verify`` checks them, on fee-paying EIP-1559 rules and on
  zero-fee London rules (Besu QBFT with zeroBaseFee), in the transaction form the sender uses
  for that node.
- A signer that does not sign (no such key, an HTTP error, no answer in time, a signature for
  another chain) raises SignerError, a TransactionError: nothing is sent, no nonce is used, and
  the same sender sends the next transaction with the nonce that was free.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.anchoring import anchor_batch
from chain.client import Chain
from chain.deployment import deploy_contracts
from chain.ledger import Ledger
from chain.signer import Web3Signer, Web3SignerClient, decode_signed, mismatch, signing_params
from chain.verification import verify_receipt
from devkit.constants import REGULATOR_GLN
from devkit.nodes import available, running_node
from devkit.web3signer_fake import Web3SignerFake, running_web3signer
from medledger.errors import SignerError, TransactionError
from medledger.merkle import MerkleTree
from medledger.roles import Role
from tests.conftest import gln_with_check_digit

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not available("anvil"), reason="anvil not installed (npm install)"),
]

#: anvil's flags, and whether fees are zero (keys need no ether) as on Besu with zeroBaseFee
RULES = {
    "eip1559-fees": ([], False),
    "london-zero-fee": (["--hardfork", "london", "--base-fee", "0", "--gas-price", "0"], True),
}


@dataclass
class Setup:
    chain: Chain
    ledger: Ledger
    regulator: LocalAccount
    maker: LocalAccount  # its key: held by the fake signer only
    stranger: LocalAccount  # registered too, its key held by nobody the tests reach
    fake: Web3SignerFake


def make_setup(url: str, zero_fee: bool) -> Iterator[Setup]:
    chain = Chain.from_url(url, poll_interval=0.05)
    regulator: LocalAccount = Account.create() if zero_fee else chain.new_funded_account()
    ledger = Ledger(chain, deploy_contracts(chain, regulator, REGULATOR_GLN))
    maker: LocalAccount = Account.create()
    stranger: LocalAccount = Account.create()
    for n, account in enumerate((maker, stranger)):
        if not zero_fee:
            chain.fund(account.address, 10**20)
        ledger.register_participant(
            regulator, account.address, Role.MANUFACTURER, gln_with_check_digit(f"47001231000{n}")
        )
    with running_web3signer(chain.chain_id, [maker]) as fake:
        yield Setup(chain, ledger, regulator, maker, stranger, fake)


@pytest.fixture(params=sorted(RULES))
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    flags, zero_fee = RULES[str(request.param)]
    with running_node("anvil", flags) as node:
        yield from make_setup(node.url, zero_fee)


@pytest.fixture(scope="module")
def shared() -> Iterator[Setup]:
    """One fee-paying anvil for the failure cases."""
    with running_node("anvil") as node:
        yield from make_setup(node.url, False)


def mined_nonce(chain: Chain, address: str) -> int:
    return int(chain.w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]


def test_a_batch_anchored_through_the_remote_signer_has_receipts_that_verify(setup: Setup) -> None:
    signer = Web3Signer(setup.fake.url, setup.maker.address)
    values = [(os.urandom(32), os.urandom(32)) for _ in range(5)]

    anchored = anchor_batch(setup.ledger, signer, values)

    assert setup.fake.signed == 1
    assert anchored.submitter == setup.maker.address
    on_chain = setup.ledger.get_anchor(anchored.root)
    assert on_chain is not None and on_chain.submitter == setup.maker.address
    mined = setup.chain.w3.eth.get_transaction(anchored.tx.tx_hash)  # type: ignore[arg-type]
    assert mined["from"] == setup.maker.address
    fees = setup.chain.fee_fields()
    assert set(fees) <= set(mined)  # the form the sender uses for this node, signed remotely
    for event_hash, salt in values:
        verdict = verify_receipt(anchored.receipt_for(event_hash, salt), chain=setup.chain)
        assert verdict.valid, verdict.failures


def test_the_signer_lists_its_accounts_and_answers_upcheck(shared: Setup) -> None:
    client = Web3SignerClient(shared.fake.url)
    assert client.upcheck()
    assert client.accounts() == {shared.maker.address}
    shared.fake.fail_with(503, "down for maintenance")
    try:
        assert not client.upcheck()
        with pytest.raises(SignerError, match="HTTP 503"):
            client.accounts()
    finally:
        shared.fake.heal()


FAULTS = {
    "unknown address": ("no unlocked account matches the sender", None),
    "HTTP 500": ("HTTP 500", (500, "Internal Server Error")),
    "HTTP 401": ("HTTP 401", (401, "Unauthorized")),
    "timeout": ("did not answer eth_signTransaction within 0.3s", None),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_signer_that_does_not_sign_sends_nothing_and_the_next_attempt_takes_the_free_nonce(
    shared: Setup, fault: str
) -> None:
    message, failure = FAULTS[fault]
    who = shared.stranger if fault == "unknown address" else shared.maker
    signer = Web3Signer(shared.fake.url, who.address, timeout=0.3)
    root = MerkleTree.build([(os.urandom(32), os.urandom(32))]).root
    nonce_before = mined_nonce(shared.chain, who.address)
    block_before = shared.chain.block_number
    if failure is not None:
        shared.fake.fail_with(*failure)
    if fault == "timeout":
        shared.fake.stall(1.0)
    try:
        with pytest.raises(SignerError, match=f"(?i){message}") as raised:
            shared.ledger.anchor(signer, root, 1)
    finally:
        shared.fake.heal()
    assert isinstance(raised.value, TransactionError)  # retried like any refused transaction
    assert shared.fake.url in str(raised.value)
    assert shared.chain.block_number == block_before  # nothing was sent
    assert shared.ledger.get_anchor(root) is None
    assert mined_nonce(shared.chain, who.address) == nonce_before

    # Tried again once the signer signs (holds the key): the same root, the nonce left free.
    shared.fake.add_key(who)
    retry = Web3Signer(shared.fake.url, who.address)
    result = shared.ledger.anchor(retry, root, 1)
    mined = shared.chain.w3.eth.get_transaction(result.tx_hash)  # type: ignore[arg-type]
    assert mined["nonce"] == nonce_before
    assert shared.ledger.get_anchor(root) is not None


def test_a_signature_for_another_chain_is_refused_before_it_is_sent(shared: Setup) -> None:
    """Web3Signer signs for its own ``--chain-id``: one set for another chain is caught here."""
    with running_web3signer(shared.chain.chain_id + 1, [shared.maker]) as wrong:
        signer = Web3Signer(wrong.url, shared.maker.address)
        block_before = shared.chain.block_number
        with pytest.raises(SignerError, match="chainId"):
            shared.ledger.anchor(signer, os.urandom(32), 1)
    assert shared.chain.block_number == block_before


def test_the_legacy_form_is_signed_and_checked_as_asked() -> None:
    """A node without a base fee gets legacy transactions (``gasPrice``, EIP-155): the signer's
    answer is that transaction, and anything else it might return is told apart."""
    key: LocalAccount = Account.create()
    tx = {
        "chainId": 1337,
        "nonce": 7,
        "gas": 60_000,
        "gasPrice": 0,
        "to": Account.create().address,
        "value": 0,
        "data": "0x1234",
    }
    with running_web3signer(1337, [key]) as fake:
        assert signing_params(key.address, tx)["gasPrice"] == "0x0"
        signed = Web3Signer(fake.url, key.address).sign_transaction(tx)
    raw = signed.raw_transaction
    assert raw == bytes(key.sign_transaction(tx).raw_transaction)  # deterministic (RFC 6979)
    assert decode_signed(raw)["chainId"] == 1337 and decode_signed(raw)["gasPrice"] == 0
    assert mismatch(raw, key.address, tx) is None
    assert mismatch(raw, key.address, {**tx, "nonce": 8}) == "nonce 7, not 8"
    assert mismatch(raw, Account.create().address, tx).startswith("signed by")  # type: ignore[union-attr]
    eip1559 = {k: v for k, v in tx.items() if k != "gasPrice"}
    eip1559 |= {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    assert mismatch(raw, key.address, eip1559) == "a legacy transaction"
