"""Merkle tree build and proof verification: medledger.merkle against @openzeppelin/merkle-tree.

Run: ``make bench`` or ``.venv/bin/python -m bench.merkle`` from the repository root. Both sides
get the same seeded random values (written to a file node reads untimed); node times
``StandardMerkleTree.of`` and ``StandardMerkleTree.verify`` inside its own process, so process
start-up and data transfer are not counted. One cold run per size and side, no warm-up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import machine_line, write_section
from medledger.merkle import MerkleTree, Value, leaf_hash, verify_proof

REPO = Path(__file__).resolve().parent.parent
OZ_SCRIPT = Path(__file__).with_name("merkle_oz.mjs")
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree"
SIZES = (100_000, 1_000_000)
PROOFS = 10_000  # verified against the largest tree
SEED = 20240607
TARGET_LEAVES_PER_SECOND = 100_000
COMMAND = ".venv/bin/python -m bench.merkle"


@dataclass(frozen=True)
class Run:
    n: int
    root: str
    build_seconds: float
    verified: int
    verify_seconds: float


def seeded_values(n: int, seed: int = SEED) -> bytes:
    """``n`` values of 64 bytes (eventHash ‖ salt), the same for every run and both sides."""
    return random.Random(seed).randbytes(64 * n)


def python_run(blob: bytes, proofs: int) -> Run:
    values: list[Value] = [
        (blob[i : i + 32], blob[i + 32 : i + 64]) for i in range(0, len(blob), 64)
    ]
    start = time.perf_counter()
    tree = MerkleTree.build(values)
    build_seconds = time.perf_counter() - start
    picked = values[:proofs]
    paths = [tree.proof_for(value) for value in picked]
    root = tree.root
    start = time.perf_counter()
    verified = sum(
        verify_proof(root, leaf_hash(e, s), p) for (e, s), p in zip(picked, paths, strict=True)
    )
    verify_seconds = time.perf_counter() - start
    assert verified == len(picked), f"only {verified} of {len(picked)} proofs verified"
    return Run(len(values), "0x" + root.hex(), build_seconds, verified, verify_seconds)


def openzeppelin_run(blob: bytes, proofs: int) -> Run | None:
    if not OZ_PACKAGE.is_dir() or shutil.which("node") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        file.write(blob)
        file.flush()
        done = subprocess.run(
            ["node", "--max-old-space-size=8192", str(OZ_SCRIPT), file.name, str(proofs)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
    out: dict[str, Any] = json.loads(done.stdout)
    return Run(out["n"], out["root"], out["buildSeconds"], out["verified"], out["verifySeconds"])


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({seconds:.2f} s)"


def _ratio(ours: float, theirs: float | None) -> str:
    return "—" if theirs is None else f"{theirs / ours:.1f}x"


def main() -> None:
    load_before = os.getloadavg()[0]
    runs: list[tuple[Run, Run | None]] = []
    for n in SIZES:
        blob = seeded_values(n)
        proofs = PROOFS if n == max(SIZES) else 0
        ours, theirs = python_run(blob, proofs), openzeppelin_run(blob, proofs)
        if theirs is not None and theirs.root != ours.root:
            raise SystemExit(f"roots differ at n={n}: Python {ours.root}, OZ {theirs.root}")
        runs.append((ours, theirs))
        print(
            f"n={n:,}: Python {ours.build_seconds:.2f} s, OZ "
            f"{'absent' if theirs is None else f'{theirs.build_seconds:.2f} s'}",
            flush=True,
        )

    rows = [
        "| operation | Python `medledger.merkle` | `@openzeppelin/merkle-tree` 1.0.8 (node)"
        " | Python speed-up |",
        "|---|---:|---:|---:|",
    ]
    for ours, theirs in runs:
        rows.append(
            f"| build, {ours.n:,} leaves | {_rate(ours.n, ours.build_seconds)} | "
            f"{'absent' if theirs is None else _rate(theirs.n, theirs.build_seconds)} | "
            f"{_ratio(ours.build_seconds, None if theirs is None else theirs.build_seconds)} |"
        )
    ours, theirs = runs[-1]
    depth = (2 * ours.n - 2).bit_length() - 1
    rows.append(
        f"| verify value + proof (depth ≤ {depth}), {ours.verified:,} proofs | "
        f"{_rate(ours.verified, ours.verify_seconds)} | "
        f"{'absent' if theirs is None else _rate(theirs.verified, theirs.verify_seconds)} | "
        f"{_ratio(ours.verify_seconds, None if theirs is None else theirs.verify_seconds)} |"
    )
    table = "\n".join(rows)
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"

    slowest = min(run.n / run.build_seconds for run, _ in runs)
    faster = all(js is None or py.build_seconds <= js.build_seconds for py, js in runs)
    verdict = (
        f"Targets: >= {TARGET_LEAVES_PER_SECOND:,} leaves/s: "
        f"**{'met' if slowest >= TARGET_LEAVES_PER_SECOND else 'missed'}** "
        f"(slowest {slowest:,.0f}/s); at least as fast as OZ JS: "
        f"**{'met' if faster else 'missed'}**."
    )
    body = f"""Measured {datetime.now(UTC):%Y-%m-%d} on {machine_line()}.
Command: `{COMMAND}` (part of `make bench`).
Both sides get the same seeded random `(bytes32, bytes32)` values and their roots are checked
equal. OZ is timed inside node (`StandardMerkleTree.of`, `StandardMerkleTree.verify`), excluding
process start and data transfer; one cold run each. Verification includes the value's leaf hash.
Python hashes with pycryptodome's C keccak, reusing one hash state per thread. The machine was
shared with other work (1-minute load average {load}), so expect some noise.

{table}

{verdict}"""
    print(table)
    print(verdict)
    write_section("Merkle trees", body)


if __name__ == "__main__":
    main()
