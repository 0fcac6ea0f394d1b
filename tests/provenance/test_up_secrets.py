"""A fresh `provenance up` keeps its secrets to its owner (issue 15, secrets): even started under
the common umask 022, no keystore, key or password file, seed, database or log in its data
folder is open to group or others, `provenance keys check` agrees, the keystores are scrypt
under a generated password, and the chain node's command line carries no wallet seed."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devkit.nodes import available, free_port
from provenance.keys_command import secret_kind
from tests.support.processes import with_argument

pytestmark = [pytest.mark.node, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0


def open_secrets(root: Path) -> list[str]:
    """Secret files (by keys check's own rule) and folders open to group or others."""
    found = []
    for folder, _folders, files in os.walk(root):
        if stat.S_IMODE(os.stat(folder).st_mode) & 0o077:
            found.append(f"{folder}/ {stat.S_IMODE(os.stat(folder).st_mode):o}")
        for name in files:
            path = Path(folder) / name
            mode = stat.S_IMODE(path.stat().st_mode)
            if secret_kind(path) is not None and mode & 0o077:
                found.append(f"{path} {mode:o}")
    return found


def test_a_fresh_up_leaves_no_secret_open_and_no_seed_on_a_command_line(tmp_path: Path) -> None:
    if not available("ganache"):
        pytest.skip("ganache is not installed in node_modules (run `make deps`)")
    data, log = tmp_path / "data", tmp_path / "up.log"
    gateway = free_port()
    command = [sys.executable, "-m", "provenance", "up", "--data-dir", str(data),
               "--chain-port", str(free_port()), "--gateway-port", str(gateway),
               "--indexer-port", str(free_port())]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, umask=0o022
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while "press Ctrl-C" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        assert httpx.get(f"http://127.0.0.1:{gateway}/healthz").status_code == 200

        seed = (data / "chain" / "seed").read_text().strip()
        (node,) = with_argument(str(data / "chain" / "db"))
        cmdline = Path(f"/proc/{node}/cmdline").read_bytes()
        assert seed.encode() not in cmdline and b"--seed-file" in cmdline
        environ = Path(f"/proc/{node}/environ").read_bytes()
        assert seed.encode() not in environ
        assert seed not in log.read_text()
        assert seed not in (data / "chain" / "ganache.log").read_text()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log.read_text()

    assert open_secrets(data) == []
    kinds = {secret_kind(p) for p in data.rglob("*") if p.is_file()}
    expected = {"chain wallet seed", "keystore", "password", "API key", "SQLite database", "log"}
    assert expected <= kinds
    checked = subprocess.run(
        [sys.executable, "-m", "provenance", "keys", "check", str(data)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    keystore = json.loads((data / "gateway" / "keys" / "regulator.json").read_text())
    assert keystore["crypto"]["kdf"] == "scrypt" and keystore["crypto"]["kdfparams"]["n"] == 2**18
    password = data / "gateway" / "keystore.password"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
