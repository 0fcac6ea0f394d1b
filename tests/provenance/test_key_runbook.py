"""docs/deployment.md, "Participants and their keys", run verbatim.

Every bash block the runbook marks ``<!-- runbook: NAME -->`` is run, in order, with bash against
a fresh ``provenance up --embedded`` (a real subprocess: gateway, indexer, in-process chain,
SQLite) from the folder holding its ``data/``: the regulator onboards, issues, rotates, revokes
and audits keys of a participant and of the indexer's readers with ``provenance`` verbs only.
Then what the runbook promised is checked over HTTP: the rotated key still works in its grace
period, the revoked one is refused, the inspector reads its region only.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devkit.nodes import free_port

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "deployment.md"
BLOCK = re.compile(r"<!-- runbook: (?P<name>[\w-]+) -->\n```bash\n(?P<script>.*?)```", re.DOTALL)
STEPS = ["onboard", "issue", "rotate", "revoke", "readers", "audit", "registry"]
TIMEOUT = 120.0


def runbook_blocks() -> dict[str, str]:
    return {m["name"]: m["script"] for m in BLOCK.finditer(RUNBOOK.read_text(encoding="utf-8"))}


def test_the_runbook_names_every_step_once() -> None:
    assert list(runbook_blocks()) == STEPS


class Up:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.gateway_url = f"http://127.0.0.1:{free_port()}"
        self.indexer_url = f"http://127.0.0.1:{free_port()}"
        self.log = folder / "up.log"
        self.environment = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PROVENANCE_GATEWAY_URL": self.gateway_url,
            "PROVENANCE_INDEXER_URL": self.indexer_url,
            "COLUMNS": "200",
        }

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.folder,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def key(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {(self.folder / name).read_text().strip()}"}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    folder = tmp_path_factory.mktemp("runbook")
    network = Up(folder)
    command = [
        sys.executable, "-m", "provenance", "up", "--embedded", "--data-dir", "data",
        "--gateway-port", network.gateway_url.rsplit(":", 1)[1],
        "--indexer-port", network.indexer_url.rsplit(":", 1)[1],
    ]  # fmt: skip
    with network.log.open("ab") as out:
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while "press Ctrl-C" not in network.log.read_text():
            assert process.poll() is None, network.log.read_text()
            assert time.monotonic() < deadline, network.log.read_text()
            time.sleep(0.25)
        yield network
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_key_runbook_works_as_written(up: Up) -> None:
    blocks = runbook_blocks()
    for step in STEPS:
        done = up.run(blocks[step])
        assert done.returncode == 0, f"step {step}:\n{done.stdout}\n{done.stderr}"
        if step == "onboard":
            assert "Bishkek Pharma Plant" in done.stdout and "4700123100002" in done.stdout

    gateway = httpx.Client(base_url=up.gateway_url, timeout=30)
    participants = "/participants"
    assert gateway.get(participants, headers=up.key("bishkek-pharma.api-key")).status_code == 200
    assert gateway.get(participants, headers=up.key("bishkek-erp.api-key")).status_code == 200
    assert gateway.get(participants, headers=up.key("laptop.api-key")).status_code == 401
    for secret in ("bishkek-pharma", "bishkek-erp", "laptop", "bishkek-inspector"):
        assert (up.folder / f"{secret}.api-key").stat().st_mode & 0o777 == 0o600

    listed = up.run("provenance keys list --participant 4700123100002 --json")
    assert listed.returncode == 0, listed.stderr
    erp = [line for line in listed.stdout.splitlines() if '"label": "ERP"' in line]
    assert len(erp) == 2  # the new key, and the old one in its hour of grace

    audited = up.run("provenance keys audit --participant 4700123100002 --json")
    for action in ("issue", "rotate", "revoke"):
        assert f'"action": "{action}"' in audited.stdout

    indexer = httpx.Client(base_url=up.indexer_url, timeout=30)
    inspector = up.key("bishkek-inspector.api-key")
    assert indexer.get("/stock", headers=inspector).status_code == 200
    assert indexer.get("/keys", headers=inspector).status_code == 403
    assert indexer.get("/alerts", headers=up.key("audit-office.api-key")).status_code == 200

    # a participant's reader key (docs/deployment.md, beside the readers' block): its EPCIS
    # events only; a participant for any other role is refused, and nothing is written
    pharmacy = "0x" + "ab" * 20
    made = up.run(
        f"provenance keys issue --reader --role participant --address {pharmacy} --label ERP "
        "--key-out pharmacy-reader.api-key"
    )
    assert made.returncode == 0, made.stderr
    reader = up.key("pharmacy-reader.api-key")
    assert indexer.get("/events", headers=reader).status_code == 200
    assert indexer.get("/stock", headers=reader).status_code == 403
    wrong = up.run(
        f"provenance keys issue --reader --role auditor --address {pharmacy} "
        "--key-out wrong.api-key"
    )
    assert wrong.returncode != 0 and "participant" in wrong.stdout + wrong.stderr
    assert not (up.folder / "wrong.api-key").exists()
