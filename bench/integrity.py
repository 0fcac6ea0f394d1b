"""What serving only what verifies costs: the checks before a receipt and a batch leave.

On one of ``bench.ingest``'s documents (1,000 commissioning ObjectEvents) stored as capture
stores them (``gateway.intake.event_records``: the JSON, the event hash, a salt), one batch:

- in this process, no database: per receipt, :func:`gateway.integrity.check_event` (the stored
  JSON re-hashed) and :func:`gateway.integrity.proven_leaf` (leaf and proof from the kept tree,
  as before, now verified to the root: the verification alone is shown too); per batch,
  :func:`gateway.integrity.check_batch` (1,000 re-hashes and the tree rebuilt). Thread CPU
  time, the best of ``--runs`` (and the median); the garbage collector is off while timing;
- with ``--http``: a gateway (SQLite, in-process chain, ``TestClient``) with that batch
  anchored, wall time of ``GET /events/{id}/receipt`` and ``GET /batches/{root}`` with the
  checks and with them replaced by no-ops (what the gateway did before).

    .venv/bin/python -m bench.integrity [--runs 30] [--http]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.ingest import EVENTS_PER_DOCUMENT, Documents
from gateway import integrity
from gateway.intake import event_records, prepare
from gateway.store.batches import BatchEvent
from medledger.epcis.event_id import EventId
from medledger.epcis.schema import load_schema
from medledger.merkle import MerkleTree, leaf_hash, verify_proof


def stored_batch() -> tuple[bytes, list[BatchEvent], MerkleTree]:
    document = json.loads(Documents("I").next())
    events, normalised, ids = prepare(document, load_schema())
    records = event_records(events, normalised, ids)
    batch = [
        BatchEvent(event_id=r.event_id, event_hash=r.event_hash, salt=r.salt, raw=r.raw)
        for r in records
    ]
    tree = MerkleTree.build([(e.event_hash, e.salt) for e in batch])
    return tree.root, batch, tree


def one_run(root: bytes, batch: list[BatchEvent], tree: MerkleTree) -> dict[str, float]:
    """CPU µs per receipt (over the batch's events) and ms per batch, of each check."""
    proofs = [
        (leaf_hash(e.event_hash, e.salt), tree.proof_for((e.event_hash, e.salt))) for e in batch
    ]
    clock = time.thread_time
    started = clock()
    for e in batch:
        integrity.check_event(e.event_id, e.raw, e.event_hash, root=root)
    rehashed = clock()
    for e in batch:
        integrity.proven_leaf(tree, e.event_id, (e.event_hash, e.salt), root)
    proven = clock()
    for leaf, proof in proofs:
        verify_proof(root, leaf, proof)
    verified = clock()
    integrity.check_batch(root, batch)
    checked = clock()
    for e in batch:
        json.loads(e.raw)
    parsed = clock()
    MerkleTree.build([(e.event_hash, e.salt) for e in batch])
    built = clock()
    per_event = 1e6 / len(batch)
    return {
        "receipt: re-hash (µs)": (rehashed - started) * per_event,
        "receipt: leaf and proof (µs)": (proven - rehashed) * per_event,
        "  of which proof verification (µs)": (verified - proven) * per_event,
        "receipt: both (µs)": (proven - started) * per_event,
        "batch of 1,000: check (ms)": (checked - verified) * 1e3,
        "  for scale: JSON parse (ms)": (parsed - checked) * 1e3,
        "  for scale: tree build (ms)": (built - parsed) * 1e3,
    }


def in_process(runs: int) -> None:
    root, batch, tree = stored_batch()
    assert len(batch) == EVENTS_PER_DOCUMENT
    samples: dict[str, list[float]] = {}
    gc.disable()
    for run in range(runs + 3):
        times = one_run(root, batch, tree)
        if run >= 3:  # the first ones warm the caches
            for name, value in times.items():
                samples.setdefault(name, []).append(value)
        gc.collect()
    gc.enable()
    for name, values in samples.items():
        best, median = min(values), statistics.median(values)
        print(f"{name:30} {best:8.2f} best, {median:8.2f} median ({runs} runs)")


def unchecked_leaf(
    tree: MerkleTree, event_id: str, value: tuple[bytes, bytes], root: bytes
) -> tuple[bytes, tuple[bytes, ...]]:
    """The leaf and proof as the receipt took them before: from the tree, unverified."""
    return tree.tree[tree.leaf_index(value)], tuple(tree.proof_for(value))


@contextmanager
def checks_off() -> Iterator[None]:
    saved = integrity.check_event, integrity.proven_leaf, integrity.check_batch
    integrity.check_event = lambda *_a, **_k: None
    integrity.proven_leaf = unchecked_leaf
    integrity.check_batch = lambda *_a, **_k: None
    try:
        yield
    finally:
        integrity.check_event, integrity.proven_leaf, integrity.check_batch = saved


def wall_ms(call: Callable[[], Any], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def over_http(receipts: int, batches: int) -> None:
    from fastapi.testclient import TestClient

    from gateway.api.app import create_app
    from gateway.service import GatewayService
    from gateway.settings import GatewaySettings
    from provenance.journey import MANUFACTURER

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        service = GatewayService(
            GatewaySettings(
                data_dir=data / "data", database_url=f"sqlite:///{data}/g.db"
            ).allowing_development_password()
        )
        try:
            http = TestClient(create_app(service, run_batcher=False))
            regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
            made = http.post("/participants", json=MANUFACTURER.registration(), headers=regulator)
            key = {"Authorization": f"Bearer {made.json()['apiKey']}"}
            body = Documents("H").next()
            accepted = http.post("/capture", content=body, headers={**key, **_JSON}).json()
            service.batcher.step(flush=True)
            ids = [EventId.parse_uri(i).hex for i in accepted["eventIDs"]]
            first = http.get(f"/events/{ids[0]}/receipt", headers=regulator).json()
            path = f"/batches/{first['root']}"

            def receipt(n: list[int] = [0]) -> None:  # noqa: B006 - a counter
                n[0] = (n[0] + 1) % len(ids)
                response = http.get(f"/events/{ids[n[0]]}/receipt", headers=regulator)
                assert response.status_code == 200

            def batch() -> None:
                assert http.get(path, headers=regulator).status_code == 200

            for label, context in (("checked", _nothing), ("unchecked", checks_off)):
                with context():
                    wall_ms(receipt, 20)  # warm up
                    r = wall_ms(receipt, receipts)
                    b = wall_ms(batch, batches)
                print(f"{label:10} GET receipt {r:7.2f} ms median ({receipts}), ", end="")
                print(f"GET batch of 1,000 {b:8.1f} ms median ({batches})")
        finally:
            service.stop()


_JSON = {"Content-Type": "application/json"}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--http", action="store_true", help="also through a gateway's HTTP API")
    args = parser.parse_args()
    in_process(args.runs)
    if args.http:
        over_http(receipts=300, batches=15)


if __name__ == "__main__":
    main()
