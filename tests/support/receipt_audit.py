"""What a campaign checks at the end: receipts fetched, verified offline and on chain, and the
chain's and the store's view of every anchor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from web3 import Web3

from chain.client import Chain
from chain.ledger import Ledger
from chain.verification import verify_offline, verify_on_chain
from medledger.formats.receipt import Receipt
from provenance.verify import default_event_hasher

ROOT = Path(__file__).resolve().parents[2]
ANCHORED_TOPIC = Web3.keccak(text="Anchored(bytes32,address,uint32,bytes32,address)").to_0x_hex()


def event_path(event_id: str) -> str:
    """``/events/<64 hex digits>/receipt`` for an ``ni:///sha-256;<hex>?ver=CBV2.0`` id."""
    digest = event_id.split(";", 1)[1].split("?", 1)[0]
    return f"/events/{digest}/receipt"


def unanchored_batches(database_url: str) -> list[dict[str, Any]]:
    """The gateway's batches not (yet) anchored, with their last error: what a campaign's
    failure message shows when acknowledged events lack a receipt."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, participant, state, nonce, tx_hash, attempts, sent_at, last_error"
                    " FROM batches WHERE state <> 'anchored' ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


@dataclass
class Harvest:
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_answer: dict[str, str] = field(default_factory=dict)  # event id -> status, if no receipt


def fetch_receipts(
    url: str, key: str, event_ids: list[str], *, timeout: float, workers: int = 2
) -> Harvest:
    """Ask for every event's receipt until each answers 200 or ``timeout`` seconds pass."""
    harvest = Harvest()
    waiting = list(event_ids)
    deadline = time.monotonic() + timeout
    lock = threading.Lock()
    while waiting and time.monotonic() < deadline:
        shares = [waiting[i::workers] for i in range(workers)]

        def fetch(share: list[str]) -> None:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as http:
                for event_id in share:
                    try:
                        response = http.get(event_path(event_id))
                    except httpx.HTTPError as exc:
                        answer = type(exc).__name__
                    else:
                        if response.status_code == 200:
                            with lock:
                                harvest.receipts[event_id] = response.json()
                                harvest.last_answer.pop(event_id, None)
                            continue
                        answer = f"{response.status_code} {response.text[:200]}"
                    with lock:
                        harvest.last_answer[event_id] = answer

        threads = [threading.Thread(target=fetch, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        waiting = [e for e in waiting if e not in harvest.receipts]
        if waiting:
            time.sleep(0.5)
    return harvest


@dataclass
class Verification:
    offline: int = 0
    on_chain: int = 0
    anchors: int = 0  # distinct anchors (root, transaction, block) asked of the chain
    failures: dict[str, list[str]] = field(default_factory=dict)  # event id -> failed checks

    @property
    def valid(self) -> int:
        return self.offline - len(self.failures)


def verify_receipts(receipts: dict[str, dict[str, Any]], chain: Chain) -> Verification:
    """Every receipt checked as ``provenance verify --rpc`` checks it, with its library.

    Offline checks run for every receipt. The on-chain checks (chain id, contract, root anchored
    by whom at which block, the transaction and its log, the contract's ``verifyEvent``) run in
    full for the first receipt of each anchor; the other receipts of that anchor carry the same
    root, transaction, block and submitter, so they pass the same chain checks, and their proof
    reaching that root (offline) is what ``verifyEvent`` computes. Thousands of receipts then
    take seconds, not minutes.
    """
    hasher = default_event_hasher()
    result = Verification()
    chain_checks: dict[tuple[Any, ...], list[str]] = {}
    for event_id, document in receipts.items():
        receipt = Receipt.from_json(document)
        failed = [
            f"{c.name}: {c.detail}"
            for c in verify_offline(receipt, event_hasher=hasher)
            if not c.ok
        ]
        result.offline += 1
        anchor = (
            receipt.root, receipt.tx_hash, receipt.block_number, receipt.chain_id,
            receipt.contract.lower(), receipt.anchored_by.lower(),
        )  # fmt: skip
        if anchor not in chain_checks:
            chain_checks[anchor] = [
                f"{c.name}: {c.detail}" for c in verify_on_chain(receipt, chain) if not c.ok
            ]
            result.anchors += 1
        failed += chain_checks[anchor]
        result.on_chain += 1
        if failed:
            result.failures[event_id] = failed
    return result


def verify_with_cli(
    receipts: list[dict[str, Any]], rpc_url: str, folder: Path
) -> subprocess.CompletedProcess[str]:
    """``provenance verify --rpc`` on these receipts, written as files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, document in enumerate(receipts):
        path = folder / f"receipt-{n:03d}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        paths.append(str(path))
    return subprocess.run(
        [sys.executable, "-m", "provenance", "verify", "--rpc", rpc_url, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def anchored_roots(chain: Chain, contract: str) -> Counter[str]:
    """How many ``Anchored`` logs each root has on the chain (more than one: anchored twice)."""
    logs = chain.w3.eth.get_logs(
        {
            "address": Web3.to_checksum_address(contract),
            "fromBlock": 0,
            "toBlock": "latest",
            "topics": [ANCHORED_TOPIC],
        }  # fmt: skip
    )
    return Counter("0x" + bytes(log["topics"][1]).hex() for log in logs)


@dataclass(frozen=True)
class StoredBatch:
    id: int
    state: str
    root: str | None
    tx_hash: str | None
    block_number: int | None


def stored_batches(database_url: str) -> list[StoredBatch]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, state, root, tx_hash, block_number FROM batches ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [
        StoredBatch(
            int(row[0]),
            str(row[1]),
            "0x" + bytes(row[2]).hex() if row[2] else None,
            row[3],
            row[4],
        )  # fmt: skip
        for row in rows
    ]


def stored_event_count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
    finally:
        engine.dispose()


def failed_with_root_on_chain(batches: list[StoredBatch], ledger: Ledger) -> list[StoredBatch]:
    """Batches left ``failed`` although the chain holds their root."""
    return [
        b
        for b in batches
        if b.state == "failed"
        and b.root is not None
        and ledger.get_anchor(bytes.fromhex(b.root[2:])) is not None
    ]


def settle_receipts(
    url: str, key: str, event_ids: list[str], chain: Chain, *, timeout: float, patience: float
) -> tuple[Harvest, Verification]:
    """Every event's receipt, verified; receipts that fail are asked for again (the gateway may
    still be recovering or re-anchoring) until all verify, ``timeout`` seconds pass, or
    ``patience`` seconds pass without one more receipt verifying."""
    deadline = time.monotonic() + timeout
    harvest = fetch_receipts(url, key, event_ids, timeout=timeout)
    verification = verify_receipts(harvest.receipts, chain)
    progress_at, failing = time.monotonic(), len(verification.failures)
    while verification.failures and time.monotonic() < min(deadline, progress_at + patience):
        time.sleep(2)
        again = fetch_receipts(url, key, sorted(verification.failures), timeout=30)
        harvest.receipts.update(again.receipts)
        verification = verify_receipts(harvest.receipts, chain)
        if len(verification.failures) < failing:
            progress_at, failing = time.monotonic(), len(verification.failures)
    return harvest, verification
