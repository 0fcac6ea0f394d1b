"""The `provenance` command line: demo, and verify with exit codes a script can trust."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.anchoring import anchor_batch
from chain.client import Chain
from chain.deployment import deploy_contracts
from chain.ledger import Ledger
from devkit.constants import REGULATOR_GLN
from devkit.nodes import free_port
from medledger.roles import Role
from provenance import demo
from provenance.cli import app
from provenance.journey import ACTORS, build_journey
from provenance.verify import canonical_event_digest
from tests.conftest import gln_with_check_digit

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the trace names its participants from the indexer's profiles (the gateway's list)
    assert "Hetero API Works" in result.output and "(GLN 8901234100004)" in result.output
    return out


def test_the_demo_anchors_the_journey_and_verifies_every_receipt(demo_out: Path) -> None:
    receipts = sorted((demo_out / "receipts").glob("*.json"))
    journey = build_journey(demo.PACKS, packs_per_case=demo.PACKS_PER_CASE)
    assert len(receipts) == sum(len(step.events) for step in journey.steps)
    assert receipts[-1].name.endswith("-dispensing.json")
    assert (demo_out / "gateway" / "deployment.json").exists()
    # the regulator's key and one custodial key per participant, encrypted at rest
    assert len(list((demo_out / "gateway" / "keys").glob("*.json"))) == 1 + len(ACTORS)


def test_verify_accepts_genuine_receipts_with_exit_code_0(demo_out: Path) -> None:
    paths = [str(p) for p in sorted((demo_out / "receipts").glob("*.json"))]
    result = runner.invoke(app, ["verify", *paths])
    assert result.exit_code == 0, result.output
    assert f"{len(paths)} of {len(paths)} receipts valid" in result.output


def test_verify_reports_a_tampered_receipt_with_exit_code_1(demo_out: Path, tmp_path: Path) -> None:
    genuine = sorted((demo_out / "receipts").glob("*.json"))[0]
    receipt = json.loads(genuine.read_text())
    receipt["event"]["eventTime"] = "2020-01-01T00:00:00Z"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(receipt))
    result = runner.invoke(app, ["verify", str(genuine), str(tampered)])
    assert result.exit_code == 1
    assert "INVALID" in result.output and "event hash" in result.output
    assert "1 of 2 receipts valid" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [("{broken", "is not JSON"), ('{"version": 1}', "field 'event_hash' is missing")],
    ids=["not-json", "missing-field"],
)
def test_verify_refuses_unusable_input_with_exit_code_2(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(content)
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 2
    assert message in result.output


def test_verify_exits_2_when_the_node_is_unreachable(demo_out: Path) -> None:
    receipt = str(sorted((demo_out / "receipts").glob("*.json"))[0])
    result = runner.invoke(app, ["verify", receipt, "--rpc", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 2
    assert "no JSON-RPC node answers" in result.output


@pytest.mark.node
def test_verify_checks_receipts_on_a_real_node(rpc_chain: Chain, tmp_path: Path) -> None:
    regulator = rpc_chain.new_funded_account()
    ledger = Ledger(rpc_chain, deploy_contracts(rpc_chain, regulator, REGULATOR_GLN))
    maker = rpc_chain.new_funded_account()
    ledger.register_participant(
        regulator, maker.address, Role.API_MAKER, gln_with_check_digit("890123400001")
    )
    events = next(iter(build_journey().events.values()))
    hashed = [(canonical_event_digest(e), secrets.token_bytes(32), e) for e in events]
    batch = anchor_batch(ledger, maker, [(h, s) for h, s, _ in hashed])
    paths = []
    for n, (event_hash, salt, event) in enumerate(hashed):
        path = tmp_path / f"{n}.json"
        path.write_text(batch.receipt_for(event_hash, salt, event=event).dumps())
        paths.append(str(path))
    url = rpc_chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    result = runner.invoke(app, ["verify", *paths, "--rpc", url])
    assert result.exit_code == 0, result.output
    assert "offline and on-chain" in result.output

    forged = json.loads(Path(paths[0]).read_text())
    forged["anchored_by"] = regulator.address
    Path(paths[0]).write_text(json.dumps(forged))
    result = runner.invoke(app, ["verify", paths[0], "--rpc", url])
    assert result.exit_code == 1
    assert "anchored by" in result.output


def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "provenance"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "verify" in result.stdout and "demo" in result.stdout


def test_the_demo_ends_with_the_trace_from_the_indexer(demo_out: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(demo_out)])
    assert result.exit_code == 0, result.output
    assert "The indexer: a verified SQL mirror of the chain" in result.output
    assert "APIL-2026-0042" in result.output and "dispensing" in result.output
