"""medledger.merkle is OpenZeppelin's StandardMerkleTree over (bytes32 eventHash, bytes32 salt).

The reference is ``@openzeppelin/merkle-tree`` itself, run through ``oz_merkle.mjs`` in one node
process per fixture so the whole suite pays node's start-up a few times, not per tree.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from Crypto.Hash import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger import merkle
from medledger.errors import EmptyTreeError, MerkleError
from medledger.merkle import (
    MerkleTree,
    MultiProof,
    Value,
    hash_pair,
    leaf_hash,
    process_multiproof,
    process_proof,
    verify_multiproof,
    verify_proof,
)

REPO = Path(__file__).resolve().parents[2]
OZ_HELPER = Path(__file__).with_name("oz_merkle.mjs")
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree"


def keccak256(data: bytes) -> bytes:
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def random_values(n: int, seed: int) -> list[Value]:
    rng = random.Random(seed)
    return [(rng.randbytes(32), rng.randbytes(32)) for _ in range(n)]


def hexed(value: Value) -> list[str]:
    return ["0x" + value[0].hex(), "0x" + value[1].hex()]


def unhex(nodes: list[str]) -> list[bytes]:
    return [bytes.fromhex(node[2:]) for node in nodes]


def run_openzeppelin(jobs: list[dict[str, Any]]) -> list[Any]:
    """Answers from @openzeppelin/merkle-tree, one node process for all ``jobs``."""
    if not OZ_PACKAGE.is_dir():
        pytest.skip(f"{OZ_PACKAGE} is missing: run `npm ci` (or `make deps`) for interop tests")
    if shutil.which("node") is None:
        pytest.skip(
            "node is not on PATH: interop tests need Node.js to run @openzeppelin/merkle-tree"
        )
    done = subprocess.run(
        ["node", str(OZ_HELPER)],
        input=json.dumps({"jobs": jobs}),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    results: list[Any] = json.loads(done.stdout)["results"]
    return results


# --- Cases: every size 1..64, a few seeded random sizes up to 10,000 -------------------------

_rng = random.Random(20240607)
SIZES = list(range(1, 65)) + sorted(_rng.sample(range(65, 10_000), 4)) + [10_000]
CASES = {f"n={n}": random_values(n, seed=n) for n in SIZES}


def multiproof_sets(n: int, seed: int) -> list[list[int]]:
    """Value indices to multiprove: none, one, all (small trees), and random subsets."""
    rng = random.Random(seed)
    sets = [
        [],
        [0],
        [n - 1],
        rng.sample(range(n), min(n, 3)),
        rng.sample(range(n), min(n // 2, 500)),
    ]
    if n <= 64:
        sets.append(list(range(n)))
    return sets


def proof_indices(n: int) -> list[int]:
    """Every value of a small tree; the ends and a seeded sample of a large one (OZ is slow)."""
    if n <= 64:
        return list(range(n))
    return sorted({0, n - 1, *random.Random(n).sample(range(n), 200)})


@pytest.fixture(scope="module")
def openzeppelin() -> dict[str, dict[str, Any]]:
    """OZ's root, dump, proofs and some multiproofs, for every case."""
    jobs = [
        {
            "op": "build",
            "values": [hexed(v) for v in values],
            "proofs": proof_indices(len(values)),
            "multiproofs": multiproof_sets(len(values), seed=len(values)),
        }
        for values in CASES.values()
    ]
    return dict(zip(CASES, run_openzeppelin(jobs), strict=True))


@pytest.fixture(scope="module")
def trees() -> dict[str, MerkleTree]:
    return {case: MerkleTree.build(values) for case, values in CASES.items()}


# --- The encoding -----------------------------------------------------------------------------


def test_leaf_is_keccak_of_keccak_of_abi_encoded_pair() -> None:
    event_hash, salt = bytes(range(32)), bytes(range(32, 64))
    assert leaf_hash(event_hash, salt) == keccak256(keccak256(event_hash + salt))


def test_inner_node_hashes_the_smaller_child_first() -> None:
    low, high = b"\x01" * 32, b"\x02" * 32
    assert hash_pair(low, high) == hash_pair(high, low) == keccak256(low + high)


def test_bulk_hashers_match_public_api() -> None:
    leaf_of, node_of = merkle._bulk_hashers()
    assert (leaf_of, node_of) != (merkle._slow_leaf, merkle._slow_node), "fast path unavailable"
    rng = random.Random(1)
    for _ in range(100):
        a, b = rng.randbytes(32), rng.randbytes(32)
        assert node_of(a, b) == node_of(b, a) == keccak256(min(a, b) + max(a, b))
        assert leaf_of(a, b) == keccak256(keccak256(a + b))


def test_single_leaf_tree_is_its_own_root_with_an_empty_proof() -> None:
    value = (b"\xaa" * 32, b"\xbb" * 32)
    tree = MerkleTree.build([value])
    assert tree.root == leaf_hash(*value)
    assert tree.proof_for(value) == []


# --- Byte-identical to @openzeppelin/merkle-tree ----------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_root_tree_and_dump_match_openzeppelin(
    case: str, trees: dict[str, MerkleTree], openzeppelin: dict[str, dict[str, Any]]
) -> None:
    ours, theirs = trees[case], openzeppelin[case]
    assert "0x" + ours.root.hex() == theirs["root"]
    assert list(ours.tree) == unhex(theirs["dump"]["tree"])
    assert ours.dump() == theirs["dump"]


@pytest.mark.parametrize("case", CASES)
def test_proofs_match_openzeppelin(
    case: str, trees: dict[str, MerkleTree], openzeppelin: dict[str, dict[str, Any]]
) -> None:
    tree = trees[case]
    ours = [tree.proof_for(tree.values[i]) for i in proof_indices(len(tree))]
    assert ours == [unhex(proof) for proof in openzeppelin[case]["proofs"]]


@pytest.mark.parametrize("case", CASES)
def test_multiproofs_match_openzeppelin(
    case: str, trees: dict[str, MerkleTree], openzeppelin: dict[str, dict[str, Any]]
) -> None:
    tree = trees[case]
    for indices, theirs in zip(
        multiproof_sets(len(tree), seed=len(tree)), openzeppelin[case]["multiproofs"], strict=True
    ):
        ours = tree.multiproof([tree.values[i] for i in indices])
        assert [hexed(v) for v in ours.leaves] == theirs["leaves"]
        assert list(ours.proof) == unhex(theirs["proof"])
        assert list(ours.proof_flags) == theirs["proofFlags"]


@pytest.mark.parametrize("case", CASES)
def test_python_verifies_openzeppelin_proofs(
    case: str, openzeppelin: dict[str, dict[str, Any]]
) -> None:
    theirs, values = openzeppelin[case], CASES[case]
    root = bytes.fromhex(theirs["root"][2:])
    for i, proof in zip(proof_indices(len(values)), theirs["proofs"], strict=True):
        value = values[i]
        assert verify_proof(root, leaf_hash(*value), unhex(proof))
    for mp in theirs["multiproofs"]:
        leaves = tuple((bytes.fromhex(e[2:]), bytes.fromhex(s[2:])) for e, s in mp["leaves"])
        proof = MultiProof(leaves, tuple(unhex(mp["proof"])), tuple(mp["proofFlags"]))
        assert verify_multiproof(root, proof)


def inner_node_forgery(tree: MerkleTree) -> tuple[Value, list[bytes]]:
    """An inner node's two children as a *value*, with the proof from that inner node up.

    With single hashing, leaf = keccak256(left ‖ right) would equal the inner node and this proof
    would verify: a second preimage. Double hashing the leaf is what stops it.
    """
    index = 1  # the root's left child: internal in every tree with at least 4 leaves
    left, right = tree.tree[2 * index + 1], tree.tree[2 * index + 2]
    assert keccak256(min(left, right) + max(left, right)) == tree.tree[index]
    sub_proof = [tree.tree[2]]
    assert process_proof(tree.tree[index], sub_proof) == tree.root  # single hashing would pass
    return (min(left, right), max(left, right)), sub_proof


def test_openzeppelin_verifies_python_proofs_and_rejects_forgeries(
    trees: dict[str, MerkleTree],
) -> None:
    jobs: list[dict[str, Any]] = []
    expected: list[bool] = []

    def verify(tree: MerkleTree, value: Value, proof: list[bytes], valid: bool) -> None:
        root = "0x" + tree.root.hex()
        jobs.append(
            {
                "op": "verify",
                "root": root,
                "value": hexed(value),
                "proof": ["0x" + p.hex() for p in proof],
            }
        )
        expected.append(valid)

    for case, tree in trees.items():
        rng = random.Random(case)
        n = len(tree)
        for i in sorted(set(rng.sample(range(n), min(n, 8)) + [0, n - 1])):
            value = tree.values[i]
            verify(tree, value, tree.proof_for(value), True)
            verify(tree, (value[0], bytes(32)), tree.proof_for(value), False)
        if n >= 4:
            verify(tree, *inner_node_forgery(tree), False)
        mp = tree.multiproof(rng.sample(tree.values, min(n // 2, 500)))
        jobs.append(
            {
                "op": "verifyMultiProof",
                "root": "0x" + tree.root.hex(),
                "multiproof": {
                    "leaves": [hexed(v) for v in mp.leaves],
                    "proof": ["0x" + p.hex() for p in mp.proof],
                    "proofFlags": list(mp.proof_flags),
                },
            }
        )
        expected.append(True)
    assert run_openzeppelin(jobs) == expected


# --- What must not verify -----------------------------------------------------------------------

SMALL = MerkleTree.build(random_values(13, seed=13))


def test_a_proof_for_another_leaf_does_not_verify() -> None:
    first, second = SMALL.values[0], SMALL.values[1]
    assert not verify_proof(SMALL.root, leaf_hash(*second), SMALL.proof_for(first))


def test_a_tampered_salt_does_not_verify() -> None:
    event_hash, salt = SMALL.values[4]
    tampered = bytes([salt[0] ^ 1]) + salt[1:]
    assert not verify_proof(
        SMALL.root, leaf_hash(event_hash, tampered), SMALL.proof_for((event_hash, salt))
    )


def test_an_inner_node_cannot_be_proven_as_a_leaf_value() -> None:
    forged_value, sub_proof = inner_node_forgery(SMALL)
    assert not verify_proof(SMALL.root, leaf_hash(*forged_value), sub_proof)
    with pytest.raises(MerkleError, match="value not in tree"):
        SMALL.proof_for(forged_value)


def test_a_multiproof_with_a_foreign_value_does_not_verify() -> None:
    mp = SMALL.multiproof(SMALL.values[:3])
    foreign = (b"\x00" * 32, b"\x00" * 32)
    assert not verify_multiproof(
        SMALL.root, MultiProof((foreign, *mp.leaves[1:]), mp.proof, mp.proof_flags)
    )


# --- Malformed input is an error that says what is wrong ---------------------------------------


def test_an_empty_tree_is_an_error() -> None:
    with pytest.raises(EmptyTreeError, match="at least one leaf, got 0"):
        MerkleTree.build([])


@pytest.mark.parametrize(
    "values",
    [[(b"\x01" * 31, b"\x02" * 32)], [(b"\x01" * 32, b"\x02" * 33)], [(b"\x01" * 32, "ab" * 16)]],
    ids=["short-event-hash", "long-salt", "salt-not-bytes"],
)
def test_values_must_be_pairs_of_32_bytes(values: list[Value]) -> None:
    with pytest.raises(MerkleError, match=r"values\[0\] must be two 32-byte strings"):
        MerkleTree.build(values)


def test_proof_nodes_must_be_32_bytes() -> None:
    with pytest.raises(MerkleError, match=r"proof\[1\] must be 32 bytes, got b'\\x00'"):
        process_proof(bytes(32), [bytes(32), b"\x00"])


def test_proving_an_absent_value_names_it() -> None:
    absent = (b"\x07" * 32, b"\x07" * 32)
    with pytest.raises(MerkleError, match=r"value not in tree: .*\(leaf 0x[0-9a-f]{64}\)"):
        SMALL.proof_for(absent)


def test_a_value_cannot_be_multiproven_twice() -> None:
    with pytest.raises(MerkleError, match="cannot prove a duplicated value"):
        SMALL.multiproof([SMALL.values[0], SMALL.values[0]])


@pytest.mark.parametrize(
    ("leaves", "proof", "flags", "message"),
    [
        (2, 1, [True], r"leaves \+ proof must equal proof_flags \+ 1, got 2 \+ 1 != 1 \+ 1"),
        (1, 1, [True], "nothing left to hash at step 0"),
        (3, 0, [True, False], "nothing left to hash at step 1"),
        (3, 1, [True, True, True], "nothing left to hash at step 2"),
    ],
    ids=["lengths", "flag-without-second-leaf", "proof-exhausted", "queue-exhausted"],
)
def test_an_invalid_multiproof_is_an_error(
    leaves: int, proof: int, flags: list[bool], message: str
) -> None:
    with pytest.raises(MerkleError, match=message):
        process_multiproof([bytes(32)] * leaves, [bytes(32)] * proof, flags)


# --- Serialisation ------------------------------------------------------------------------------


def test_dump_load_round_trip() -> None:
    loaded = MerkleTree.load(json.loads(json.dumps(SMALL.dump())))
    assert (loaded.tree, loaded.values, loaded.dump()) == (SMALL.tree, SMALL.values, SMALL.dump())


def test_load_reads_an_openzeppelin_dump(openzeppelin: dict[str, dict[str, Any]]) -> None:
    dump = openzeppelin["n=64"]["dump"]
    assert MerkleTree.load(dump).dump() == dump


def test_load_rejects_a_dump_whose_tree_does_not_match_its_values() -> None:
    dump = SMALL.dump()
    dump["tree"][3] = "0x" + "00" * 32
    with pytest.raises(MerkleError, match=r"does not match its values at node 3 of 25"):
        MerkleTree.load(dump)


def test_load_rejects_another_format() -> None:
    with pytest.raises(MerkleError, match="expected format 'standard-v1'"):
        MerkleTree.load({**SMALL.dump(), "leafEncoding": ["address", "uint256"]})


def test_load_rejects_malformed_hex() -> None:
    dump = SMALL.dump()
    dump["values"][0]["value"][1] = "0x1234"
    with pytest.raises(MerkleError, match="malformed tree dump: .*0x1234"):
        MerkleTree.load(dump)


# --- Properties on random trees -----------------------------------------------------------------

node32 = st.binary(min_size=32, max_size=32)
trees_and_picks = st.lists(st.tuples(node32, node32), min_size=1, max_size=40, unique=True).flatmap(
    lambda values: st.tuples(
        st.just(values), st.integers(0, len(values) - 1), st.sets(st.integers(0, len(values) - 1))
    )
)


@settings(max_examples=200, deadline=None)
@given(trees_and_picks)
def test_every_proof_verifies_and_only_for_its_own_value(
    case: tuple[list[Value], int, set[int]],
) -> None:
    values, i, _ = case
    tree = MerkleTree.build(values)
    proof = tree.proof_for(values[i])
    assert verify_proof(tree.root, leaf_hash(*values[i]), proof)
    for j, other in enumerate(values):
        if j != i:
            assert not verify_proof(tree.root, leaf_hash(*other), proof)


@settings(max_examples=200, deadline=None)
@given(trees_and_picks, st.data())
def test_a_changed_proof_node_never_verifies(
    case: tuple[list[Value], int, set[int]], data: st.DataObject
) -> None:
    values, i, _ = case
    tree = MerkleTree.build(values)
    proof = tree.proof_for(values[i])
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = bytearray(proof[k])
        flipped[bit // 8] ^= 1 << (bit % 8)
        proof[k] = bytes(flipped)
        assert not verify_proof(tree.root, leaf_hash(*values[i]), proof)


@settings(max_examples=200, deadline=None)
@given(trees_and_picks)
def test_every_multiproof_verifies(case: tuple[list[Value], int, set[int]]) -> None:
    values, _, picks = case
    tree = MerkleTree.build(values)
    mp = tree.multiproof([values[j] for j in picks])
    assert sorted(mp.leaves) == sorted(values[j] for j in picks)
    assert verify_multiproof(tree.root, mp)
