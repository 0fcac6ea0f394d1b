"""The Python Merkle core and OpenZeppelin's MerkleProof.sol agree: proofs verify on-chain."""

from __future__ import annotations

import random

import pytest
from eth_account.signers.local import LocalAccount

from chain.ledger import Ledger
from medledger.merkle import MerkleTree, Value, leaf_hash
from medledger.roles import Role
from tests.conftest import ParticipantFactory, participants_of


@pytest.fixture(scope="module")
def ledger(module_ledger: tuple[Ledger, LocalAccount]) -> Ledger:
    """One deployment for the module: each test anchors roots of its own."""
    return module_ledger[0]


@pytest.fixture(scope="module")
def participant(module_ledger: tuple[Ledger, LocalAccount]) -> ParticipantFactory:
    return participants_of(*module_ledger)


def random_values(n: int, seed: int) -> list[Value]:
    rng = random.Random(seed)
    return [(rng.randbytes(32), rng.randbytes(32)) for _ in range(n)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 33, 64])
def test_every_proof_of_an_anchored_tree_verifies_through_the_anchor_registry(
    ledger: Ledger, participant: ParticipantFactory, size: int
) -> None:
    values = random_values(size, seed=size)
    tree = MerkleTree.build(values)
    ledger.anchor(participant(Role.MANUFACTURER), tree.root, size)
    for event_hash, salt in values:
        proof = tree.proof_for((event_hash, salt))
        assert ledger.verify_event(tree.root, event_hash, salt, proof)
        leaf = leaf_hash(event_hash, salt)
        assert ledger.chain.call(ledger.anchors, "verify", tree.root, leaf, proof)


@pytest.mark.parametrize("size", [2, 5, 16, 40])
def test_multiproofs_verify_through_the_anchor_registry(
    ledger: Ledger, participant: ParticipantFactory, size: int
) -> None:
    values = random_values(size, seed=100 + size)
    tree = MerkleTree.build(values)
    ledger.anchor(participant(Role.MANUFACTURER), tree.root, size)
    chosen = random.Random(size).sample(values, k=max(1, size // 3))
    multi = tree.multiproof(chosen)
    assert ledger.chain.call(
        ledger.anchors,
        "verifyMulti",
        tree.root,
        list(multi.proof),
        list(multi.proof_flags),
        list(multi.leaf_hashes),
    )


def test_forged_proofs_fail_on_chain(ledger: Ledger, participant: ParticipantFactory) -> None:
    values = random_values(8, seed=7)
    tree = MerkleTree.build(values)
    ledger.anchor(participant(Role.MANUFACTURER), tree.root, 8)
    (hash_a, salt_a), (hash_b, salt_b) = values[0], values[1]
    other_proof = tree.proof_for((hash_b, salt_b))
    assert not ledger.verify_event(tree.root, hash_a, salt_a, other_proof)
    assert not ledger.verify_event(tree.root, hash_a, bytes(32), tree.proof_for(values[0]))
    # An inner node passed off as a leaf: its two children as (eventHash, salt) are double
    # hashed into something else, so the path from there to the root does not hold.
    left, right = tree.tree[1], tree.tree[2]
    assert not ledger.verify_event(tree.root, left, right, [])
    assert not ledger.verify_event(tree.root, tree.tree[1], bytes(32), [tree.tree[2]])


def test_a_proof_against_a_root_never_anchored_is_false(ledger: Ledger) -> None:
    values = random_values(4, seed=1)
    tree = MerkleTree.build(values)
    assert not ledger.verify_event(tree.root, *values[0], tree.proof_for(values[0]))
