"""Crash campaign (issue 21): the gateway and its batcher killed with SIGKILL, separately and
together, at random moments under capture load, on PostgreSQL and anvil.

Afterwards every event the gateway acknowledged (202) has a receipt that verifies offline and on
chain, no root is anchored twice, no batch is left ``failed`` with its root on chain, exactly one
batcher ran before the final stop, and no gateway or batcher process outlives it.

The kill moments are drawn from ``PROVENANCE_FAULTS_SEED`` (printed; the same seed, the same
schedule of kinds and delays), ``PROVENANCE_FAULTS_KILLS`` kills (default 21: 7 of each kind).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from chain.client import Chain
from chain.deployment import Deployment
from chain.ledger import Ledger
from devkit.nodes import available, running_node
from devkit.postgres import fresh_database, postgres_answers
from tests.support.capture_load import CaptureLoad, register
from tests.support.gateway_process import GatewayProcess, KillKind
from tests.support.processes import wait_gone
from tests.support.receipt_audit import (
    anchored_roots,
    failed_with_root_on_chain,
    settle_receipts,
    stored_batches,
    stored_event_count,
    verify_with_cli,
)
from tests.support.reliability_report import record

pytestmark = [pytest.mark.faults, pytest.mark.node, pytest.mark.postgres]

SEED = int(os.environ.get("PROVENANCE_FAULTS_SEED", "21"))
KILLS = int(os.environ.get("PROVENANCE_FAULTS_KILLS", "21"))
KINDS: tuple[KillKind, ...] = ("main", "batcher", "both")
#: Small, young batches: many of them, so kills land in every step of the batcher.
GATEWAY_ENVIRONMENT = {
    "PROVENANCE_GATEWAY_BATCH_MAX_EVENTS": "60",
    "PROVENANCE_GATEWAY_BATCH_MAX_AGE_SECONDS": "0.5",
}


def kill_schedule(seed: int, kills: int) -> list[tuple[KillKind, float]]:
    """``kills`` kills, the kinds in equal shares in a seeded order, each after a random delay
    (seconds after the gateway answered; the short ones hit it while it recovers)."""
    rng = random.Random(seed)
    kinds = [KINDS[n % len(KINDS)] for n in range(kills)]
    rng.shuffle(kinds)
    return [(kind, round(rng.uniform(0.2, 3.0), 2)) for kind in kinds]


@pytest.fixture
def node_and_database() -> tuple[str, str]:  # type: ignore[misc]
    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    with running_node("anvil") as node, fresh_database(prefix="faults_crash") as database:
        yield node.url, database


def test_every_acknowledged_event_survives_kills_of_the_gateway_and_its_batcher(
    node_and_database: tuple[str, str], tmp_path: Path
) -> None:
    chain_url, database_url = node_and_database
    schedule = kill_schedule(SEED, KILLS)
    print(f"crash campaign: seed {SEED}, {KILLS} kills: {schedule}")
    started = time.monotonic()
    gateway = GatewayProcess(chain_url, database_url, tmp_path, GATEWAY_ENVIRONMENT)
    kills: Counter[str] = Counter()
    try:
        gateway.start()
        participants = register(gateway.url, gateway.regulator_key(), 3, first_prefix=4_810_000)
        load = CaptureLoad(gateway.url, participants, pause_seconds=0.25)
        load.start()
        downtimes = []
        for kind, delay in schedule:
            time.sleep(delay)
            killed = time.monotonic()
            gateway.kill(kind)
            kills[kind] += 1
            gateway.start()
            downtimes.append(time.monotonic() - killed)
        time.sleep(2)
        load.stop()
        acknowledged = sorted(load.acknowledged)
        chain = Chain.from_url(chain_url)
        ledger = Ledger(chain, Deployment.load(gateway.data_dir / "deployment.json"))
        harvest, verification = settle_receipts(
            gateway.url, gateway.regulator_key(), acknowledged, chain, timeout=180, patience=45
        )
        batchers_before_stop = gateway.running_batchers()
        by_cli = verify_with_cli(list(harvest.receipts.values())[:5], chain_url, tmp_path / "cli")
        twice = {
            root: n for root, n in anchored_roots(chain, ledger.anchors.address).items() if n > 1
        }
        batches = stored_batches(database_url)
        failed_on_chain = failed_with_root_on_chain(batches, ledger)
        events_stored = stored_event_count(database_url)
        exit_code = gateway.stop()
        survivors = wait_gone(gateway.survivors(), timeout=15)
    finally:
        gateway.stop()
        gateway.kill_survivors()
    duration = time.monotonic() - started

    record(
        "Crash campaign",
        f"PROVENANCE_FAULTS_SEED={SEED} PROVENANCE_FAULTS_KILLS={KILLS} "
        ".venv/bin/pytest -m faults -s tests/faults/test_crash_campaign.py",
        [
            ("kills of the main process only", kills["main"]),
            ("kills of the batcher process only", kills["batcher"]),
            ("kills of both", kills["both"]),
            ("capture documents acknowledged", load.documents),
            ("events acknowledged (202)", len(acknowledged)),
            ("events stored", events_stored),
            ("capture requests retried (what failed)", dict(load.failures)),
            (
                "batches (anchored / other)",
                f"{sum(b.state == 'anchored' for b in batches)} / "
                f"{sum(b.state != 'anchored' for b in batches)}",
            ),  # fmt: skip
            ("receipts served", len(harvest.receipts)),
            ("receipts verified offline and on chain", verification.valid),
            ("receipts failing verification", len(verification.failures)),
            ("roots anchored twice", len(twice)),
            ("batches failed with their root on chain", len(failed_on_chain)),
            ("batchers running before the final stop", len(batchers_before_stop)),
            ("exit code of the final stop (SIGTERM)", exit_code),
            ("processes left after the final stop", len(survivors)),
            (
                "seconds from a kill to the gateway and its batcher running again (mean, max)",
                f"{sum(downtimes) / len(downtimes):.1f}, {max(downtimes):.1f}",
            ),  # fmt: skip
            ("duration (s)", round(duration)),
        ],
    )
    assert not load.refused, load.refused[:5]
    assert not gateway.anomalies, gateway.anomalies
    missing = {e: harvest.last_answer.get(e) for e in acknowledged if e not in harvest.receipts}
    assert not missing, (
        f"{len(missing)} acknowledged events have no receipt: {list(missing.items())[:5]}"
    )
    assert not verification.failures, list(verification.failures.items())[:5]
    assert by_cli.returncode == 0, by_cli.stdout + by_cli.stderr
    assert events_stored == len(acknowledged), "an acknowledged event was lost or stored twice"
    assert not twice, twice
    assert not failed_on_chain, failed_on_chain
    assert len(batchers_before_stop) == 1, batchers_before_stop
    assert exit_code == 0, exit_code  # a clean stop (provenance/signals.py)
    assert not survivors, f"processes outlived the final stop: {survivors}"
