"""AnchorRegistry: who may anchor a batch root, once, and how inclusion proofs verify against it."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from tests.contracts.contract_support import AUDITOR, PHARMACY, Cast, Reverts

ROOT = keccak(text="batch root")
META = keccak(text="batch metadata")
ZERO32 = b"\x00" * 32
ANCHOR_GAS_BUDGET = 80_000


# --- StandardMerkleTree, by hand --------------------------------------------------------------


def leaf(event_hash: bytes, salt: bytes) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(eventHash, salt))))"""
    return keccak(keccak(encode(["bytes32", "bytes32"], [event_hash, salt])))


def node(a: bytes, b: bytes) -> bytes:
    """Sorted-pair hash: keccak256 of the smaller hash, then the larger."""
    return keccak(min(a, b) + max(a, b))


EVENT_A, SALT_A = keccak(text="event A"), keccak(text="salt A")
EVENT_B, SALT_B = keccak(text="event B"), keccak(text="salt B")
LEAF_A, LEAF_B = leaf(EVENT_A, SALT_A), leaf(EVENT_B, SALT_B)
TWO_LEAF_ROOT = node(LEAF_A, LEAF_B)


def anchor(anchors: Contract, root: bytes, sender: str, event_count: int = 1) -> Any:
    tx = anchors.functions.anchor(root, event_count, META).transact({"from": sender})
    return anchors.w3.eth.wait_for_transaction_receipt(tx)


# --- Who may anchor ---------------------------------------------------------------------------


def test_an_api_maker_anchors_a_root_which_is_stored_with_submitter_and_block(
    w3: Web3, anchors: Contract, cast: Cast
) -> None:
    receipt = anchor(anchors, ROOT, cast.api_maker, event_count=12)
    block = w3.eth.get_block(receipt["blockNumber"])
    assert anchors.functions.isAnchored(ROOT).call()
    assert anchors.functions.getAnchor(ROOT).call() == (
        cast.api_maker,
        12,
        receipt["blockNumber"],
        block["timestamp"],
    )
    (event,) = anchors.events.Anchored().process_receipt(receipt)
    assert dict(event["args"]) == {
        "root": ROOT,
        "submitter": cast.api_maker,
        "eventCount": 12,
        "metadataHash": META,
        "relayer": cast.api_maker,
    }


@pytest.mark.parametrize("who", ["manufacturer", "distributor", "regulator"])
def test_every_submitting_role_may_anchor(anchors: Contract, cast: Cast, who: str) -> None:
    anchor(anchors, ROOT, getattr(cast, who))
    assert anchors.functions.getAnchor(ROOT).call()[0] == getattr(cast, who)


def test_an_auditor_cannot_anchor(
    anchors: Contract, cast: Cast, reverts: Reverts, participants: Contract
) -> None:
    auditor_roles = participants.functions.participant(cast.auditor).call()[0]
    with reverts("RoleNotPermitted", cast.auditor, auditor_roles):
        anchor(anchors, ROOT, cast.auditor)


def test_an_unregistered_account_cannot_anchor(
    anchors: Contract, cast: Cast, reverts: Reverts
) -> None:
    with reverts("ParticipantNotActive", cast.outsider):
        anchor(anchors, ROOT, cast.outsider)


def test_a_suspended_participant_cannot_anchor_until_reinstated(
    anchors: Contract, participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    participants.functions.suspend(cast.manufacturer).transact()
    with reverts("ParticipantNotActive", cast.manufacturer):
        anchor(anchors, ROOT, cast.manufacturer)
    participants.functions.reinstate(cast.manufacturer).transact()
    anchor(anchors, ROOT, cast.manufacturer)
    assert anchors.functions.isAnchored(ROOT).call()


def test_losing_every_submitting_role_stops_anchoring(
    anchors: Contract, participants: Contract, cast: Cast, reverts: Reverts
) -> None:
    participants.functions.setRoles(cast.manufacturer, PHARMACY).transact()
    anchor(anchors, ROOT, cast.manufacturer)  # pharmacy is a submitting role
    participants.functions.setRoles(cast.manufacturer, AUDITOR).transact()
    with reverts("RoleNotPermitted", cast.manufacturer, AUDITOR):
        anchor(anchors, keccak(text="another root"), cast.manufacturer)


# --- What may be anchored ---------------------------------------------------------------------


def test_a_root_is_anchored_only_once_even_by_another_participant(
    anchors: Contract, cast: Cast, reverts: Reverts
) -> None:
    anchor(anchors, ROOT, cast.api_maker)
    with reverts("RootAlreadyAnchored", ROOT, cast.api_maker):
        anchor(anchors, ROOT, cast.api_maker)
    with reverts("RootAlreadyAnchored", ROOT, cast.api_maker):
        anchor(anchors, ROOT, cast.manufacturer)


def test_the_zero_root_is_refused(anchors: Contract, cast: Cast, reverts: Reverts) -> None:
    with reverts("ZeroRoot"):
        anchor(anchors, ZERO32, cast.api_maker)


def test_an_empty_batch_is_refused(anchors: Contract, cast: Cast, reverts: Reverts) -> None:
    with reverts("EmptyBatch"):
        anchor(anchors, ROOT, cast.api_maker, event_count=0)


def test_an_unanchored_root_reads_as_all_zero(anchors: Contract) -> None:
    assert not anchors.functions.isAnchored(ROOT).call()
    assert anchors.functions.getAnchor(ROOT).call() == ("0x" + "00" * 20, 0, 0, 0)


def test_anchoring_a_fresh_root_costs_at_most_80k_gas(anchors: Contract, cast: Cast) -> None:
    receipt = anchor(anchors, ROOT, cast.api_maker, event_count=1000)
    assert receipt["gasUsed"] <= ANCHOR_GAS_BUDGET, receipt["gasUsed"]


# --- Relayed anchoring (EIP-712) --------------------------------------------------------------

ANCHOR_TYPES = {
    "Anchor": [
        {"name": "submitter", "type": "address"},
        {"name": "root", "type": "bytes32"},
        {"name": "eventCount", "type": "uint32"},
        {"name": "metadataHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def domain(w3: Web3, anchors: Contract) -> dict[str, Any]:
    return {
        "name": "ProvenanceAnchorRegistry",
        "version": "1",
        "chainId": w3.eth.chain_id,
        "verifyingContract": anchors.address,
    }


def sign_anchor(
    w3: Web3,
    anchors: Contract,
    key: LocalAccount,
    *,
    submitter: str,
    root: bytes = ROOT,
    event_count: int = 3,
    nonce: int = 0,
    deadline: int,
) -> bytes:
    message = {
        "submitter": submitter,
        "root": root,
        "eventCount": event_count,
        "metadataHash": META,
        "nonce": nonce,
        "deadline": deadline,
    }
    signed = Account.sign_typed_data(key.key, domain(w3, anchors), ANCHOR_TYPES, message)
    return bytes(signed.signature)


def later(w3: Web3, seconds: int = 3600) -> int:
    return int(w3.eth.get_block("latest")["timestamp"]) + seconds


def relay(
    anchors: Contract,
    submitter: str,
    signature: bytes,
    deadline: int,
    *,
    relayer: str,
    root: bytes = ROOT,
    event_count: int = 3,
) -> Any:
    tx = anchors.functions.anchorFor(
        submitter, root, event_count, META, deadline, signature
    ).transact({"from": relayer})
    return anchors.w3.eth.wait_for_transaction_receipt(tx)


def test_domain_separator_matches_eip712_for_this_chain_and_contract(
    w3: Web3, anchors: Contract
) -> None:
    type_hash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                type_hash,
                keccak(text="ProvenanceAnchorRegistry"),
                keccak(text="1"),
                w3.eth.chain_id,
                anchors.address,
            ],
        )
    )
    assert anchors.functions.domainSeparator().call() == expected


def test_a_relayed_anchor_is_recorded_with_the_signing_participant_as_submitter(
    w3: Web3, anchors: Contract, cast: Cast, signer: LocalAccount
) -> None:
    assert w3.eth.get_balance(signer.address) == 0  # the participant needs no ether
    deadline = later(w3)
    signature = sign_anchor(w3, anchors, signer, submitter=signer.address, deadline=deadline)
    receipt = relay(anchors, signer.address, signature, deadline, relayer=cast.outsider)
    assert anchors.functions.getAnchor(ROOT).call()[:2] == (signer.address, 3)
    (event,) = anchors.events.Anchored().process_receipt(receipt)
    assert event["args"]["submitter"] == signer.address
    assert event["args"]["relayer"] == cast.outsider
    assert anchors.functions.nonces(signer.address).call() == 1


def test_relayed_anchor_signed_by_another_key_is_rejected(
    w3: Web3, anchors: Contract, cast: Cast, signer: LocalAccount, reverts: Reverts
) -> None:
    impostor: LocalAccount = Account.from_key("0x" + "1f" * 32)
    deadline = later(w3)
    signature = sign_anchor(w3, anchors, impostor, submitter=signer.address, deadline=deadline)
    with reverts("InvalidSignature", signer.address, impostor.address):
        relay(anchors, signer.address, signature, deadline, relayer=cast.outsider)


def test_a_relayed_signature_cannot_be_replayed(
    w3: Web3, anchors: Contract, cast: Cast, signer: LocalAccount, reverts: Reverts
) -> None:
    deadline = later(w3)
    signature = sign_anchor(w3, anchors, signer, submitter=signer.address, deadline=deadline)
    relay(anchors, signer.address, signature, deadline, relayer=cast.outsider)
    # Replayed, the signature is checked against nonce 1 and recovers some other address.
    with reverts("InvalidSignature"):
        relay(anchors, signer.address, signature, deadline, relayer=cast.distributor)
    assert anchors.functions.nonces(signer.address).call() == 1


def test_the_next_relayed_anchor_uses_the_next_nonce(
    w3: Web3, anchors: Contract, cast: Cast, signer: LocalAccount
) -> None:
    deadline = later(w3)
    first = sign_anchor(w3, anchors, signer, submitter=signer.address, deadline=deadline)
    relay(anchors, signer.address, first, deadline, relayer=cast.outsider)
    other_root = keccak(text="second root")
    second = sign_anchor(
        w3, anchors, signer, submitter=signer.address, root=other_root, nonce=1, deadline=deadline
    )
    relay(anchors, signer.address, second, deadline, relayer=cast.outsider, root=other_root)
    assert anchors.functions.getAnchor(other_root).call()[0] == signer.address


def test_a_relayed_anchor_past_its_deadline_is_rejected(
    w3: Web3, anchors: Contract, cast: Cast, signer: LocalAccount, reverts: Reverts
) -> None:
    deadline = later(w3, seconds=-1)
    signature = sign_anchor(w3, anchors, signer, submitter=signer.address, deadline=deadline)
    with reverts("SignatureExpired", deadline):
        relay(anchors, signer.address, signature, deadline, relayer=cast.outsider)


def test_a_relayed_anchor_needs_an_active_submitting_participant(
    w3: Web3, anchors: Contract, cast: Cast, reverts: Reverts
) -> None:
    stranger: LocalAccount = Account.from_key("0x" + "2e" * 32)
    deadline = later(w3)
    signature = sign_anchor(w3, anchors, stranger, submitter=stranger.address, deadline=deadline)
    with reverts("ParticipantNotActive", stranger.address):
        relay(anchors, stranger.address, signature, deadline, relayer=cast.outsider)


def test_a_malformed_signature_is_rejected_as_invalid(
    w3: Web3, anchors: Contract, cast: Cast, signer: LocalAccount, reverts: Reverts
) -> None:
    deadline = later(w3)
    zero = "0x" + "00" * 20
    with reverts("InvalidSignature", signer.address, zero):
        relay(anchors, signer.address, b"\x01" * 64, deadline, relayer=cast.outsider)


# --- Verification -----------------------------------------------------------------------------


def test_leaf_hash_is_the_standard_merkle_tree_leaf(anchors: Contract) -> None:
    assert anchors.functions.leafHash(EVENT_A, SALT_A).call() == LEAF_A


def test_a_single_leaf_tree_verifies_with_an_empty_proof(anchors: Contract, cast: Cast) -> None:
    anchor(anchors, LEAF_A, cast.api_maker)  # the root of a one-leaf tree is the leaf
    assert anchors.functions.verify(LEAF_A, LEAF_A, []).call()
    assert anchors.functions.verifyEvent(LEAF_A, EVENT_A, SALT_A, []).call()


def test_both_leaves_of_a_two_leaf_tree_verify_with_the_sibling_as_proof(
    anchors: Contract, cast: Cast
) -> None:
    anchor(anchors, TWO_LEAF_ROOT, cast.api_maker, event_count=2)
    assert anchors.functions.verify(TWO_LEAF_ROOT, LEAF_A, [LEAF_B]).call()
    assert anchors.functions.verify(TWO_LEAF_ROOT, LEAF_B, [LEAF_A]).call()
    assert anchors.functions.verifyEvent(TWO_LEAF_ROOT, EVENT_B, SALT_B, [LEAF_A]).call()


def test_a_wrong_proof_or_salt_does_not_verify(anchors: Contract, cast: Cast) -> None:
    anchor(anchors, TWO_LEAF_ROOT, cast.api_maker, event_count=2)
    assert not anchors.functions.verify(TWO_LEAF_ROOT, LEAF_A, [LEAF_A]).call()
    assert not anchors.functions.verify(TWO_LEAF_ROOT, LEAF_A, []).call()
    assert not anchors.functions.verifyEvent(TWO_LEAF_ROOT, EVENT_A, SALT_B, [LEAF_B]).call()


def test_a_correct_proof_against_an_unanchored_root_does_not_verify(anchors: Contract) -> None:
    assert not anchors.functions.verify(TWO_LEAF_ROOT, LEAF_A, [LEAF_B]).call()
    assert not anchors.functions.verifyEvent(LEAF_A, EVENT_A, SALT_A, []).call()


def test_a_multiproof_of_both_leaves_of_a_two_leaf_tree_verifies(
    anchors: Contract, cast: Cast
) -> None:
    anchor(anchors, TWO_LEAF_ROOT, cast.api_maker, event_count=2)
    verify_multi = anchors.functions.verifyMulti
    assert verify_multi(TWO_LEAF_ROOT, [], [True], [LEAF_A, LEAF_B]).call()
    assert verify_multi(TWO_LEAF_ROOT, [LEAF_B], [False], [LEAF_A]).call()


def test_a_wrong_empty_or_malformed_multiproof_does_not_verify(
    anchors: Contract, cast: Cast
) -> None:
    anchor(anchors, TWO_LEAF_ROOT, cast.api_maker, event_count=2)
    verify_multi = anchors.functions.verifyMulti
    assert not verify_multi(TWO_LEAF_ROOT, [], [True], [LEAF_A, LEAF_A]).call()
    # no leaves: OZ would "prove" proof[0]; refused
    assert not verify_multi(TWO_LEAF_ROOT, [TWO_LEAF_ROOT], [], []).call()
    # flags inconsistent with proof and leaves: false rather than a revert
    assert not verify_multi(TWO_LEAF_ROOT, [], [True, True], [LEAF_A, LEAF_B]).call()


def test_a_multiproof_against_an_unanchored_root_does_not_verify(anchors: Contract) -> None:
    assert not anchors.functions.verifyMulti(TWO_LEAF_ROOT, [], [True], [LEAF_A, LEAF_B]).call()
