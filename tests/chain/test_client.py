"""Chain access: the same behaviour on the in-process chain and on real JSON-RPC nodes."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from eth_account.signers.local import LocalAccount
from web3.exceptions import Web3RPCError

from chain.client import Chain
from chain.deployment import deploy_contracts
from chain.ledger import Ledger
from devkit.constants import REGULATOR_GLN
from devkit.nodes import free_port
from medledger.errors import ChainUnavailableError, ContractRevertError, TransactionError
from medledger.roles import Role
from tests.conftest import ParticipantFactory, gln_with_check_digit


def test_an_unreachable_node_is_a_clear_error() -> None:
    with pytest.raises(ChainUnavailableError, match="no JSON-RPC node answers"):
        Chain.from_url(f"http://127.0.0.1:{free_port()}", timeout=1)


def test_a_revert_names_the_custom_error_and_its_arguments(
    ledger: Ledger, participant: ParticipantFactory
) -> None:
    manufacturer = participant(Role.MANUFACTURER)
    root = os.urandom(32)
    ledger.anchor(manufacturer, root, 3)
    with pytest.raises(ContractRevertError, match="RootAlreadyAnchored") as caught:
        ledger.anchor(manufacturer, root, 3)
    assert caught.value.error_name == "RootAlreadyAnchored"
    assert caught.value.error_args["submitter"] == manufacturer.address


def test_a_gas_estimate_the_node_could_not_give_is_not_taken_for_a_revert(
    ledger: Ledger, participant: ParticipantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node between states (a reorganisation under way) or too busy to answer gives an error
    that says nothing about the contract: it is a TransactionError to retry, never a revert
    (a revert fails an anchoring batch for good; found by the reorg campaign on a busy host)."""
    manufacturer = participant(Role.MANUFACTURER)
    w3 = ledger.chain.w3

    def busy_node(*args: object, **kwargs: object) -> int:
        raise Web3RPCError("header not found")

    monkeypatch.setattr(w3.eth, "estimate_gas", busy_node)
    with pytest.raises(TransactionError, match="could not estimate gas") as caught:
        ledger.anchor(manufacturer, os.urandom(32), 1)
    assert not isinstance(caught.value, ContractRevertError)
    monkeypatch.undo()
    with pytest.raises(ContractRevertError, match="RoleNotPermitted"):  # a real revert still is
        ledger.anchor(participant(Role.AUDITOR), os.urandom(32), 1)


def test_a_view_call_the_node_could_not_answer_is_no_answer_of_the_contract(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timed-out call used to become a ContractRevertError, which receipt verification reads as
    "not an anchor registry": an auditor would be told something false about a good receipt."""

    def timing_out(*args: object, **kwargs: object) -> object:
        raise requests.exceptions.ReadTimeout("read timed out")

    monkeypatch.setattr(ledger.chain.w3.eth, "call", timing_out)
    with pytest.raises(ChainUnavailableError, match="did not answer getAnchor") as caught:
        ledger.get_anchor(os.urandom(32))
    assert not isinstance(caught.value, ContractRevertError)
    monkeypatch.undo()
    assert ledger.get_anchor(os.urandom(32)) is None  # the contract's own answer


def test_a_reverting_transaction_uses_no_nonce(
    ledger: Ledger, participant: ParticipantFactory
) -> None:
    auditor = participant(Role.AUDITOR)
    before = ledger.chain.w3.eth.get_transaction_count(auditor.address)
    with pytest.raises(ContractRevertError, match="RoleNotPermitted"):
        ledger.anchor(auditor, os.urandom(32), 1)
    assert ledger.chain.w3.eth.get_transaction_count(auditor.address) == before


def test_concurrent_sends_from_one_account_keep_nonces_in_order(
    ledger: Ledger, participant: ParticipantFactory
) -> None:
    manufacturer = participant(Role.MANUFACTURER)
    roots = [os.urandom(32) for _ in range(24)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda r: ledger.anchor(manufacturer, r, 1), roots))
    assert len({r.tx_hash for r in results}) == len(roots)
    assert all(ledger.get_anchor(r) is not None for r in roots)
    assert ledger.chain.w3.eth.get_transaction_count(manufacturer.address) == len(roots)


def test_a_sender_resynchronises_when_the_node_saw_other_transactions(
    ledger: Ledger, participant: ParticipantFactory
) -> None:
    manufacturer = participant(Role.MANUFACTURER)
    ledger.anchor(manufacturer, os.urandom(32), 1)
    # Another process (a restarted gateway, say) uses the same key behind this sender's back.
    other = Chain(ledger.chain.w3, kind="embedded", poll_interval=0.01)
    Ledger(other, ledger.deployment).anchor(manufacturer, os.urandom(32), 1)
    ledger.anchor(manufacturer, os.urandom(32), 1)
    assert ledger.chain.w3.eth.get_transaction_count(manufacturer.address) == 3


@pytest.mark.node
def test_json_rpc_nodes_deploy_anchor_and_map_reverts_like_the_embedded_chain(
    rpc_chain: Chain,
) -> None:
    regulator = rpc_chain.new_funded_account()
    deployment = deploy_contracts(rpc_chain, regulator, REGULATOR_GLN)
    ledger = Ledger(rpc_chain, deployment)
    maker: LocalAccount = rpc_chain.new_funded_account()
    ledger.register_participant(
        regulator, maker.address, Role.API_MAKER, gln_with_check_digit("890123400001")
    )
    root = os.urandom(32)
    result = ledger.anchor(maker, root, 5)
    anchored = ledger.get_anchor(root)
    assert anchored is not None
    assert (anchored.submitter, anchored.event_count) == (maker.address, 5)
    assert anchored.block_number == result.block_number
    with pytest.raises(ContractRevertError) as duplicate:
        ledger.anchor(maker, root, 5)
    assert duplicate.value.error_name == "RootAlreadyAnchored"
    with pytest.raises(ContractRevertError) as not_regulator:
        ledger.suspend(maker, regulator.address)
    assert not_regulator.value.error_name == "OwnableUnauthorizedAccount"


def test_the_embedded_chain_estimates_in_one_run_with_room_for_calls(chain: Chain) -> None:
    """chain/embedded_gas.py, not py-evm's binary search (a dozen runs a transaction): a plain
    transfer's 21,000 grown by 1/63 plus 2,300; after a snapshot revert (a new py-evm chain
    object) too. A deployment sent with its estimate (and the sender's margin) is mined."""
    sender = chain.new_funded_account()
    transfer = {"from": sender.address, "to": sender.address, "value": 1}
    assert chain.w3.eth.estimate_gas(transfer) == 21_000 * 64 // 63 + 2_300  # type: ignore[arg-type]
    tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.revert_to_snapshot(tester.take_snapshot())
    assert chain.w3.eth.estimate_gas(transfer) == 21_000 * 64 // 63 + 2_300  # type: ignore[arg-type]
    assert deploy_contracts(chain, sender, REGULATOR_GLN).anchor_registry
