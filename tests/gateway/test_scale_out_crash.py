"""Two gateways on one database (issue 19): the replicas of a scaled-out deployment, each with
its HTTP server and its batcher, share PostgreSQL, the data folder (keys, deployment) and one
anvil node mining a block a second. Every participant posts to both; one of the two, drawn at
random, is killed with SIGKILL (its main process, its batcher, or both) at random moments and
started again, while the other keeps capturing and anchoring.

Afterwards: every event acknowledged (202) is stored once and has a receipt that verifies
offline and on chain; no root is anchored twice; and each participant's account used its nonces
0..n-1 for exactly its anchors (the node's transaction count, latest and pending, equals the
number of its ``Anchored`` transactions, whose nonces are contiguous: no gap that would stall
the account, no nonce burnt by a reverted duplicate).

The schedule comes from ``PROVENANCE_FAULTS_SEED`` (printed), ``PROVENANCE_FAULTS_KILLS`` kills
(default 6). Two to five minutes on a loaded 2-core host: a fault campaign (``make faults``).
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from chain.client import Chain
from chain.deployment import Deployment
from devkit.nodes import available, running_node
from devkit.postgres import fresh_database, postgres_answers
from tests.support.capture_load import CaptureLoad, register
from tests.support.gateway_process import GatewayProcess, KillKind
from tests.support.receipt_audit import (
    ANCHORED_TOPIC,
    anchored_roots,
    settle_receipts,
    stored_event_count,
)

pytestmark = [pytest.mark.faults, pytest.mark.node, pytest.mark.postgres]

SEED = int(os.environ.get("PROVENANCE_FAULTS_SEED", "19"))
KILLS = int(os.environ.get("PROVENANCE_FAULTS_KILLS", "6"))
KINDS: tuple[KillKind, ...] = ("main", "batcher", "both")
#: Small, young batches and short leases: many anchors, and a killed batcher's accounts
#: change hands while the load runs.
GATEWAY_ENVIRONMENT = {
    "PROVENANCE_GATEWAY_BATCH_MAX_EVENTS": "40",
    "PROVENANCE_GATEWAY_BATCH_MAX_AGE_SECONDS": "0.5",
}


def kill_schedule(seed: int, kills: int) -> list[tuple[int, KillKind, float]]:
    """``kills`` kills: which gateway (0 or 1), how, and after how many seconds of its running."""
    rng = random.Random(seed)
    return [
        (rng.randrange(2), KINDS[n % len(KINDS)], round(rng.uniform(0.3, 3.0), 2))
        for n in range(kills)
    ]


@pytest.fixture
def node_and_database() -> Iterator[tuple[str, str]]:
    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    with (
        running_node("anvil", ["--block-time", "1"]) as node,
        fresh_database(prefix="scale_out_crash") as database,
    ):
        yield node.url, database


def nonce_gaps(chain: Chain, contract: str, accounts: list[str]) -> dict[str, str]:
    """Accounts whose nonces on the node are not exactly their anchors' nonces 0..n-1."""
    used: dict[str, list[int]] = defaultdict(list)
    logs = chain.w3.eth.get_logs(
        {
            "address": Web3.to_checksum_address(contract),
            "fromBlock": 0,
            "toBlock": "latest",
            "topics": [ANCHORED_TOPIC],
        }  # fmt: skip
    )
    for entry in logs:
        sent = chain.w3.eth.get_transaction(entry["transactionHash"])
        used[str(sent["from"]).lower()].append(int(sent["nonce"]))
    gaps = {}
    for account in accounts:
        address = Web3.to_checksum_address(account)
        latest = chain.w3.eth.get_transaction_count(address, "latest")
        pending = chain.w3.eth.get_transaction_count(address, "pending")
        nonces = sorted(used[account.lower()])
        if nonces != list(range(latest)) or pending != latest:
            gaps[account] = f"node: {latest} mined, {pending} pending; anchors' nonces {nonces}"
    return gaps


def test_two_gateways_on_one_database_lose_nothing_and_anchor_once_when_one_is_killed(
    node_and_database: tuple[str, str], tmp_path: Path
) -> None:
    chain_url, database_url = node_and_database
    schedule = kill_schedule(SEED, KILLS)
    print(f"scale-out crash: seed {SEED}, {KILLS} kills (gateway, kind, delay): {schedule}")
    first = GatewayProcess(chain_url, database_url, tmp_path / "a", GATEWAY_ENVIRONMENT)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    gateways = [first]
    loads: list[CaptureLoad] = []
    try:
        first.start()  # migrates, deploys, writes the shared data folder
        second = GatewayProcess(
            chain_url,
            database_url,
            tmp_path / "b",
            GATEWAY_ENVIRONMENT,
            shared_data_dir=first.data_dir,
        )
        gateways.append(second)
        second.start()
        participants = register(first.url, first.regulator_key(), 3, first_prefix=4_819_000)
        loads = [
            CaptureLoad(
                gateway.url,
                participants,
                events_per_document=5,
                pause_seconds=0.3,
                first_document=1 + n * 500_000,
            )
            for n, gateway in enumerate(gateways)
        ]
        for load in loads:
            load.start()
        for which, kind, delay in schedule:
            time.sleep(delay)
            gateways[which].kill(kind)
            gateways[which].start()
        time.sleep(2)
        for load in loads:
            load.stop()
        acknowledged = sorted({e for load in loads for e in load.acknowledged})
        chain = Chain.from_url(chain_url)
        deployment = Deployment.load(first.data_dir / "deployment.json")
        harvest, verification = settle_receipts(
            first.url, first.regulator_key(), acknowledged, chain, timeout=180, patience=45
        )
        twice = {
            root: n
            for root, n in anchored_roots(chain, deployment.anchor_registry).items()
            if n > 1
        }
        gaps = nonce_gaps(chain, deployment.anchor_registry, [p.address for p in participants])
        events_stored = stored_event_count(database_url)
    finally:
        for gateway in gateways:
            gateway.stop()
            gateway.kill_survivors()

    print(
        f"{sum(load.documents for load in loads)} documents, {len(acknowledged)} events "
        f"acknowledged, {events_stored} stored, {verification.anchors} anchors, retried: "
        f"{[dict(load.failures) for load in loads]}"
    )
    assert not [r for load in loads for r in load.refused], [load.refused[:3] for load in loads]
    assert not [a for gateway in gateways for a in gateway.anomalies]
    assert acknowledged
    missing = {e: harvest.last_answer.get(e) for e in acknowledged if e not in harvest.receipts}
    assert not missing, (
        f"{len(missing)} acknowledged events lack a receipt: {list(missing.items())[:5]}"
    )
    assert not verification.failures, list(verification.failures.items())[:5]
    assert events_stored == len(acknowledged), "an acknowledged event was lost or stored twice"
    assert not twice, twice
    assert not gaps, gaps
