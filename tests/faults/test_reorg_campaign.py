"""Reorg campaign (issue 21): the chain reorganised under capture load, the gateway and the
indexer following it, once with 0 confirmations and once with 3.

anvil mines only when told (tests/support/reorgs.py): ``PROVENANCE_FAULTS_REORGS`` times
(default 6) a snapshot is taken, 1 to ``depth`` blocks are mined with the pending anchors, the
chain is reverted and a different, longer history mined, in which some vanished anchor
transactions are sent again (moved to another block) and, in the first half, some are dropped.
A watcher fetches receipts while this goes on and keeps the first receipt offered for every
acknowledged event. Afterwards:

- with 3 confirmations (reorganisations at most 3 deep): no receipt was ever offered for an
  anchor that is not on the final chain, in the block it names;
- with 0: receipts were offered for anchors that vanished, and the gateway re-anchored each of
  them: every acknowledged event's final receipt verifies offline and on chain;
- both: the indexer that followed the chain live (in this process, on PostgreSQL, fetching
  batches from the gateway) equals a fresh index of the final chain, table by table.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chain.client import Chain
from chain.deployment import Deployment
from chain.ledger import Ledger
from devkit.nodes import available, running_node
from devkit.postgres import fresh_database, postgres_answers
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from medledger.formats.receipt import Receipt
from tests.support.capture_load import CaptureLoad, register
from tests.support.gateway_process import GatewayProcess
from tests.support.index_compare import index_differences, index_snapshot, without_sweep_alerts
from tests.support.receipt_audit import (
    anchored_roots,
    event_path,
    settle_receipts,
    unanchored_batches,
    verify_with_cli,
)
from tests.support.reliability_report import record
from tests.support.reorgs import Director

pytestmark = [
    pytest.mark.faults,
    pytest.mark.node,
    pytest.mark.postgres,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

SEED = int(os.environ.get("PROVENANCE_FAULTS_SEED", "21"))
REORGS = int(os.environ.get("PROVENANCE_FAULTS_REORGS", "6"))
GATEWAY_ENVIRONMENT = {
    "PROVENANCE_GATEWAY_BATCH_MAX_EVENTS": "60",
    "PROVENANCE_GATEWAY_BATCH_MAX_AGE_SECONDS": "0.5",
}


@dataclass
class ReceiptWatcher:
    """Asks for the receipt of every acknowledged event until one is offered; keeps the first."""

    url: str
    key: str
    load: CaptureLoad
    first: dict[str, dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="receipt-watcher")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as http:
            while not self._stop.wait(0.2):
                for event_id in [e for e in list(self.load.acknowledged) if e not in self.first]:
                    if self._stop.is_set():
                        return
                    try:
                        response = http.get(event_path(event_id))
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 200:
                        self.first[event_id] = response.json()


def on_final_chain(chain: Chain, receipt: dict[str, Any]) -> bool:
    """The receipt's transaction succeeded on the final chain, in the block the receipt names."""
    try:
        found = chain.w3.eth.get_transaction_receipt(receipt["tx_hash"])
    except Exception:  # noqa: BLE001 - nodes differ: None, TransactionNotFound
        return False
    return (
        found is not None
        and found["status"] == 1
        and found["blockNumber"] == receipt["block_number"]
    )


def gateway_counters(url: str) -> dict[str, int]:
    """The reconciler's counters from the gateway's ``/metrics``."""
    counters = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        for name in ("anchors_vanished", "reanchored", "anchors_moved"):
            if line.startswith(f"provenance_gateway_{name}_total "):
                counters[name] = int(float(line.split()[1]))
    return counters


@pytest.fixture
def anvil_url() -> Iterator[str]:
    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    with running_node("anvil", ["--no-mining"]) as node:
        yield node.url


@pytest.mark.parametrize("confirmations", [0, 3])
def test_receipts_and_the_index_survive_reorganisations(
    confirmations: int, anvil_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED * 10 + confirmations)
    max_depth = confirmations or 4
    print(f"reorg campaign: seed {SEED}, {REORGS} reorganisations, confirmations {confirmations}")
    started = time.monotonic()
    director = Director(anvil_url)
    director.start()
    with (
        fresh_database(prefix="faults_reorg_gw") as gateway_db,
        fresh_database(prefix="faults_reorg_ix") as index_db,
    ):
        gateway = GatewayProcess(
            anvil_url,
            gateway_db,
            tmp_path,
            {**GATEWAY_ENVIRONMENT, "PROVENANCE_GATEWAY_CONFIRMATIONS": str(confirmations)},
        )
        indexer: IndexerService | None = None
        try:
            gateway.start()
            key = gateway.regulator_key()
            participants = register(
                gateway.url, key, 3, first_prefix=4_820_000 + 10 * confirmations
            )
            deployment = Deployment.load(gateway.data_dir / "deployment.json")
            indexer = IndexerService(
                IndexerSettings(
                    data_dir=tmp_path / "index",
                    database_url=index_db,
                    chain_url=anvil_url,
                    gateway_url=gateway.url,
                    gateway_api_key=SecretStr(key),
                    poll_interval_seconds=0.2,
                ),
                deployment=deployment,
            )
            indexer.start()
            load = CaptureLoad(gateway.url, participants, pause_seconds=0.3)
            load.start()
            watcher = ReceiptWatcher(gateway.url, key, load)
            watcher.start()
            for n in range(REORGS):
                time.sleep(rng.uniform(2.0, 4.0))
                done = director.reorganise(
                    rng, depth=rng.randint(1, max_depth), may_drop=n < (REORGS + 1) // 2
                )
                print(f"reorganisation {n + 1}: {done}")
            time.sleep(2)
            load.stop()
            acknowledged = sorted(load.acknowledged)
            chain = Chain.from_url(anvil_url)
            ledger = Ledger(chain, deployment)
            settling = time.monotonic()
            harvest, verification = settle_receipts(
                gateway.url, key, acknowledged, chain, timeout=180, patience=45
            )
            settled = time.monotonic() - settling
            short = len(harvest.receipts) < len(acknowledged)
            stuck = unanchored_batches(gateway_db) if short else []
            watcher.stop()
            offered_then_vanished = {
                event_id: receipt
                for event_id, receipt in watcher.first.items()
                if not on_final_chain(chain, receipt)
            }
            by_cli = verify_with_cli(
                list(harvest.receipts.values())[:3], anvil_url, tmp_path / "cli"
            )
            twice = {
                r: n for r, n in anchored_roots(chain, ledger.anchors.address).items() if n > 1
            }
            replaced = {  # root -> (moved to another block, or anchored by a new transaction)
                Receipt.from_json(r).root: harvest.receipts[e]["tx_hash"] == r["tx_hash"]
                for e, r in offered_then_vanished.items()
                if e in harvest.receipts
            }
            counters = gateway_counters(gateway.url)
            director.stop()
            indexer.stop()
            live = IndexerService(indexer.settings, deployment=deployment)
            live.catch_up()
            fresh = IndexerService(
                IndexerSettings(
                    data_dir=tmp_path / "fresh",
                    database_url=f"sqlite:///{tmp_path}/fresh.db",
                    chain_url=anvil_url,
                    gateway_url=gateway.url,
                    gateway_api_key=SecretStr(key),
                ),
                deployment=deployment,
            )
            fresh.catch_up()
            # the live indexer ran as a service: its expiry sweep's alerts are left out
            live_rows = without_sweep_alerts(index_snapshot(live.engine))
            fresh_rows = index_snapshot(fresh.engine)
            live.stop()
            fresh.stop()
        finally:
            director.stop()
            if indexer is not None:
                indexer.stop()
            gateway.stop()
            gateway.kill_survivors()
    duration = time.monotonic() - started
    differences = index_differences(live_rows, fresh_rows)
    differing = [line.split(":", 1)[0] for line in differences if not line.startswith(" ")]
    reorgs = director.reorganisations
    record(
        f"Reorg campaign, {confirmations} confirmations",
        f"PROVENANCE_FAULTS_SEED={SEED} PROVENANCE_FAULTS_REORGS={REORGS} "
        ".venv/bin/pytest -m faults -s tests/faults/test_reorg_campaign.py",
        [
            (
                "reorganisations (depths)",
                f"{len(reorgs)} ({', '.join(str(r.depth) for r in reorgs)})",
            ),
            (
                "anchor transactions moved / dropped",
                f"{sum(r.moved for r in reorgs)} / {sum(r.dropped for r in reorgs)}",
            ),  # fmt: skip
            ("events acknowledged (202)", len(acknowledged)),
            ("receipts offered while it ran (first per event)", len(watcher.first)),
            ("of which for an anchor that later vanished", len(offered_then_vanished)),
            (
                "of their batches: moved to another block / anchored again",
                f"{sum(replaced.values())} / {sum(not moved for moved in replaced.values())}",
            ),
            (
                "gateway counters: anchors vanished / re-anchored / moved",
                " / ".join(
                    str(counters.get(n, "?"))
                    for n in ("anchors_vanished", "reanchored", "anchors_moved")
                ),
            ),  # fmt: skip
            ("final receipts served", len(harvest.receipts)),
            ("seconds from the end of the load to every receipt verifying", round(settled)),
            ("final receipts verified offline and on chain", verification.valid),
            ("final receipts failing verification", len(verification.failures)),
            ("roots anchored twice", len(twice)),
            ("index tables differing from a fresh index", f"{len(differing)} of {len(live_rows)}"),
            ("index rows (live)", sum(len(rows) for rows in live_rows.values())),
            ("duration (s)", round(duration)),
        ],
    )
    assert not load.refused, load.refused[:5]
    missing = {e: harvest.last_answer.get(e) for e in acknowledged if e not in harvest.receipts}
    assert not missing, (
        f"{len(missing)} events have no receipt: {list(missing.items())[:5]}; "
        f"batches not anchored: {stuck[:10]}"
    )
    if confirmations:
        assert not offered_then_vanished, (
            f"{len(offered_then_vanished)} receipts were offered for anchors that vanished: "
            f"{list(offered_then_vanished.items())[:2]}"
        )
    assert not verification.failures, list(verification.failures.items())[:5]
    assert by_cli.returncode == 0, by_cli.stdout + by_cli.stderr
    assert not twice, twice
    assert not differences, "the live index differs from a fresh one:\n" + "\n".join(differences)
