"""The batch Merkle tree: OpenZeppelin ``StandardMerkleTree`` ("standard-v1"), in pure Python.

Encoding — ``contracts/AnchorRegistry.sol`` (OpenZeppelin ``MerkleProof``) and
``@openzeppelin/merkle-tree`` must agree with this byte for byte:

* A value is ``(bytes32 eventHash, bytes32 salt)``. Its leaf is
  ``keccak256(keccak256(abi.encode(eventHash, salt)))``; ``abi.encode`` of two ``bytes32`` is their
  64-byte concatenation. Hashing twice means no 64-byte inner-node preimage is ever a valid leaf.
* Inner nodes hash a sorted pair: ``keccak256(min(a, b) ‖ max(a, b))``, bytes compared
  lexicographically (``Hashes.commutativeKeccak256``), so proofs carry no left/right bits.
* Leaves are sorted ascending by hash (OZ's default ``sortLeaves: true``, a stable sort) and laid
  out as OZ does: ``tree`` has ``2n - 1`` nodes, ``tree[2n - 2 - i]`` is the i-th sorted leaf,
  ``tree[i] = hash_pair(tree[2i + 1], tree[2i + 2])`` and ``tree[0]`` is the root.
* A proof is the sibling hashes from the leaf up (OZ ``getProof``); a multiproof is
  ``(leaves, proof, proof_flags)`` as OZ ``getMultiProof`` returns it, leaves in descending tree
  index, checked by ``processMultiProof``'s queue rules.

Bytes inside, hex only in :meth:`MerkleTree.dump` / :meth:`MerkleTree.load`. No I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from Crypto.Hash import keccak

from medledger.errors import EmptyTreeError, MerkleError

Value = tuple[bytes, bytes]
"""``(eventHash, salt)``, 32 bytes each."""

FORMAT = "standard-v1"
LEAF_ENCODING = ["bytes32", "bytes32"]


Hash2 = Callable[[bytes, bytes], bytes]


def _keccak(data: bytes) -> bytes:
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def _slow_leaf(event_hash: bytes, salt: bytes) -> bytes:
    return _keccak(_keccak(event_hash + salt))


def _slow_node(a: bytes, b: bytes) -> bytes:
    return _keccak(a + b if a < b else b + a)


def _bulk_hashers() -> tuple[Hash2, Hash2]:
    """``(leaf_of, node_of)`` on 32-byte halves, sharing one C keccak state (so: one thread).

    ``keccak.new`` allocates a state per call, which costs about 3x the hash itself; here the
    state is reset instead. This reaches into pycryptodome's C binding (ctypes or cffi), so
    anything unexpected falls back to the public API (``test_bulk_hashers_match_public_api``).
    """
    try:
        from Crypto.Util import _raw_api

        lib: Any = keccak._raw_keccak_lib  # type: ignore[attr-defined]
        raw: Any = _raw_api  # its stub lacks c_ubyte, which the C calls need
        state = raw.VoidPointer()
        if lib.keccak_init(state.address_of(), raw.c_size_t(64), raw.c_ubyte(24)):
            return _slow_leaf, _slow_node
        keep = raw.SmartPointer(state.get(), lib.keccak_destroy)  # freed with the closures
        ptr, out = keep.get(), raw.create_string_buffer(32)
        reset, absorb, digest = lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest
        # Padding 0x01 is original Keccak (Ethereum's keccak256), not SHA-3's 0x06.
        n32, n64, pad = raw.c_size_t(32), raw.c_size_t(64), raw.c_ubyte(1)

        def node_of(a: bytes, b: bytes, _keep: object = keep) -> bytes:
            reset(ptr)
            absorb(ptr, a + b if a < b else b + a, n64)
            digest(ptr, out, n32, pad)
            return bytes(out)

        def leaf_of(event_hash: bytes, salt: bytes, _keep: object = keep) -> bytes:
            reset(ptr)
            absorb(ptr, event_hash + salt, n64)
            digest(ptr, out, n32, pad)
            reset(ptr)
            absorb(ptr, out, n32)
            digest(ptr, out, n32, pad)
            return bytes(out)

        a, b = bytes(range(32)), bytes(range(32, 64))
        if node_of(b, a) == _slow_node(b, a) and leaf_of(a, b) == _slow_leaf(a, b):
            return leaf_of, node_of
    except Exception:  # any change in the binding just means the slow path
        pass
    return _slow_leaf, _slow_node


_local = threading.local()


def _hashers() -> tuple[Hash2, Hash2]:
    """This thread's ``(leaf_of, node_of)``: ctypes and cffi release the GIL, so no sharing."""
    try:
        return _local.hashers  # type: ignore[no-any-return]
    except AttributeError:
        _local.hashers = _bulk_hashers()
        return _local.hashers  # type: ignore[no-any-return]


def _check_node(node: bytes, what: str) -> None:
    if not isinstance(node, bytes | bytearray) or len(node) != 32:
        raise MerkleError(f"{what} must be 32 bytes, got {node!r}")


def leaf_hash(event_hash: bytes, salt: bytes) -> bytes:
    """``keccak256(keccak256(abi.encode(eventHash, salt)))``."""
    _check_node(event_hash, "eventHash")
    _check_node(salt, "salt")
    return _hashers()[0](bytes(event_hash), bytes(salt))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """``keccak256`` of the two nodes, the lexicographically smaller one first."""
    _check_node(a, "node")
    _check_node(b, "node")
    return _hashers()[1](bytes(a), bytes(b))


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root ``proof`` leads to from the leaf hash ``leaf``, as ``MerkleProof.processProof``."""
    _check_node(leaf, "leaf")
    node, node_of = bytes(leaf), _hashers()[1]
    for i, sibling in enumerate(proof):
        _check_node(sibling, f"proof[{i}]")
        node = node_of(node, bytes(sibling))
    return node


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` proves the leaf hash ``leaf`` under ``root``."""
    _check_node(root, "root")
    return process_proof(leaf, proof) == root


def process_multiproof(
    leaves: Sequence[bytes], proof: Sequence[bytes], proof_flags: Sequence[bool]
) -> bytes:
    """The root a multiproof over leaf hashes leads to, as ``MerkleProof.processMultiProof``."""
    for name, nodes in (("leaves", leaves), ("proof", proof)):
        for i, node in enumerate(nodes):
            _check_node(node, f"{name}[{i}]")
    if len(leaves) + len(proof) != len(proof_flags) + 1:
        raise MerkleError(
            "invalid multiproof: leaves + proof must equal proof_flags + 1, got "
            f"{len(leaves)} + {len(proof)} != {len(proof_flags)} + 1"
        )
    queue, siblings = deque(bytes(leaf) for leaf in leaves), deque(bytes(p) for p in proof)
    node_of = _hashers()[1]
    for step, flag in enumerate(proof_flags):
        a = queue.popleft() if queue else None
        source = queue if flag else siblings
        b = source.popleft() if source else None
        if a is None or b is None:
            raise MerkleError(f"invalid multiproof: nothing left to hash at step {step}")
        queue.append(node_of(a, b))
    # With the length check above, a queue that never ran dry ends with exactly one node left.
    return queue.pop() if queue else siblings.pop()


@dataclass(frozen=True)
class MultiProof:
    """``leaves`` are values in the order OZ ``getMultiProof`` returns them."""

    leaves: tuple[Value, ...]
    proof: tuple[bytes, ...]
    proof_flags: tuple[bool, ...]

    @property
    def leaf_hashes(self) -> tuple[bytes, ...]:
        """What ``MerkleProof.multiProofVerify`` takes as ``leaves``."""
        return tuple(leaf_hash(e, s) for e, s in self.leaves)


def verify_multiproof(root: bytes, multiproof: MultiProof) -> bool:
    """Whether ``multiproof`` proves all its values under ``root``."""
    _check_node(root, "root")
    mp = multiproof
    return process_multiproof(mp.leaf_hashes, mp.proof, mp.proof_flags) == root


class MerkleTree:
    """An immutable tree over ``(eventHash, salt)`` values; build with :meth:`build`."""

    __slots__ = ("tree", "values", "_tree_indices", "_lookup")

    def __init__(self, tree: tuple[bytes, ...], values: tuple[Value, ...], indices: list[int]):
        self.tree = tree
        self.values = values
        self._tree_indices = indices
        self._lookup: dict[bytes, int] | None = None

    @classmethod
    def build(cls, values: Sequence[Value]) -> MerkleTree:
        n = len(values)
        if n == 0:
            raise EmptyTreeError("a Merkle tree needs at least one leaf, got 0 values")
        vals, event_hashes, salts = _checked(values)
        leaf_of, node_of = _hashers()
        hashes = list(map(leaf_of, event_hashes, salts))
        order = sorted(range(n), key=hashes.__getitem__)
        tree = [b""] * (n - 1) + [hashes[i] for i in reversed(order)]
        indices = [0] * n
        deque(map(indices.__setitem__, order, range(2 * n - 2, n - 2, -1)), maxlen=0)
        # Heap level d holds nodes 2^d - 1 .. 2^(d+1) - 2: hash the inner ones level by level,
        # deepest first, so map() keeps the loop in C.
        for depth in range((n - 1).bit_length() - 1, -1, -1):
            lo, hi = (1 << depth) - 1, min((2 << depth) - 2, n - 2)
            left, right = tree[2 * lo + 1 : 2 * hi + 3 : 2], tree[2 * lo + 2 : 2 * hi + 3 : 2]
            tree[lo : hi + 1] = map(node_of, left, right)
        return cls(tuple(tree), vals, indices)

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def __len__(self) -> int:
        return len(self.values)

    def leaf_index(self, value: Value) -> int:
        """The tree index of ``value``'s leaf (the last one, for a duplicated value, as OZ)."""
        if self._lookup is None:
            self._lookup = {self.tree[t]: t for t in self._tree_indices}
        leaf = leaf_hash(*value)
        index = self._lookup.get(leaf)
        if index is None:
            raise MerkleError(f"value not in tree: {value!r} (leaf 0x{leaf.hex()})")
        return index

    def proof_for(self, value: Value) -> list[bytes]:
        """Sibling hashes from ``value``'s leaf up to the root (OZ ``getProof``)."""
        index, proof = self.leaf_index(value), []
        while index > 0:
            proof.append(self.tree[index - 1 if index % 2 == 0 else index + 1])
            index = (index - 1) // 2
        return proof

    def multiproof(self, values: Sequence[Value]) -> MultiProof:
        """One proof for several values (OZ ``getMultiProof``)."""
        indices = sorted((self.leaf_index(v) for v in values), reverse=True)
        if len(set(indices)) != len(indices):
            raise MerkleError(f"cannot prove a duplicated value, tree indices {indices}")
        stack, proof, flags = deque(indices), [], []
        while stack and stack[0] > 0:
            j = stack.popleft()
            sibling = j - 1 if j % 2 == 0 else j + 1
            flags.append(bool(stack) and stack[0] == sibling)
            if flags[-1]:
                stack.popleft()
            else:
                proof.append(self.tree[sibling])
            stack.append((j - 1) // 2)
        if not indices:
            proof.append(self.root)
        by_index = {t: v for v, t in zip(self.values, self._tree_indices, strict=True)}
        leaves = tuple(by_index[i] for i in indices)
        return MultiProof(leaves, tuple(proof), tuple(flags))

    def dump(self) -> dict[str, Any]:
        """The JSON shape of OZ ``StandardMerkleTree.dump()``, with lowercase 0x-hex."""
        return {
            "format": FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": ["0x" + node.hex() for node in self.tree],
            "values": [
                {"value": ["0x" + e.hex(), "0x" + s.hex()], "treeIndex": t}
                for (e, s), t in zip(self.values, self._tree_indices, strict=True)
            ],
        }

    @classmethod
    def load(cls, dump: dict[str, Any]) -> MerkleTree:
        """Rebuild from :meth:`dump` output (ours or OZ's) and check it node for node."""
        if dump.get("format") != FORMAT or dump.get("leafEncoding") != LEAF_ENCODING:
            raise MerkleError(
                f"expected format {FORMAT!r} with leafEncoding {LEAF_ENCODING}, got "
                f"{dump.get('format')!r} with {dump.get('leafEncoding')!r}"
            )
        try:
            values = [(_unhex(v["value"][0]), _unhex(v["value"][1])) for v in dump["values"]]
            dumped = [_unhex(node) for node in dump["tree"]]
            dumped_indices = [v["treeIndex"] for v in dump["values"]]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise MerkleError(f"malformed tree dump: {exc!r}") from exc
        tree = cls.build(values)
        if dumped_indices != tree._tree_indices:
            raise MerkleError("tree dump has wrong treeIndex values for its leaves")
        if dumped != list(tree.tree):
            bad = next(
                (i for i, (x, y) in enumerate(zip(dumped, tree.tree, strict=False)) if x != y),
                min(len(dumped), len(tree.tree)),
            )
            raise MerkleError(
                f"tree dump does not match its values at node {bad} of {len(dumped)} "
                f"(expected {len(tree.tree)} nodes, root 0x{tree.root.hex()})"
            )
        return tree


def _checked(values: Sequence[Value]) -> tuple[tuple[Value, ...], list[bytes], list[bytes]]:
    """``(values, event_hashes, salts)``, all exact 32-byte ``bytes``, or a MerkleError.

    The common case is checked in bulk and copies no pairs (copying a million of them costs about
    half a second, a tenth of the build); anything else is checked and copied one by one.
    """
    if set(map(type, values)) == {tuple} and set(map(len, values)) == {2}:
        event_hashes, salts = list(map(itemgetter(0), values)), list(map(itemgetter(1), values))
        types = set(map(type, event_hashes)) | set(map(type, salts))
        if types == {bytes} and set(map(len, event_hashes)) | set(map(len, salts)) == {32}:
            return tuple(values), event_hashes, salts
    pairs = []
    for i, value in enumerate(values):
        if not (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(isinstance(x, bytes | bytearray) and len(x) == 32 for x in value)
        ):
            raise MerkleError(f"values[{i}] must be two 32-byte strings, got {value!r}")
        pairs.append((bytes(value[0]), bytes(value[1])))
    return tuple(pairs), [e for e, _ in pairs], [s for _, s in pairs]


def _unhex(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x") or len(text) != 66:
        raise ValueError(f"expected 0x followed by 64 hex digits, got {text!r}")
    return bytes.fromhex(text[2:])
