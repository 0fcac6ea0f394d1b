"""The installed package, as the image installs it: the wheel built from this tree, its
dependencies from requirements.lock (pinned, hash-checked, no extras) in a fresh virtual
environment, run from a folder that is not the source tree.

- the wheel carries the compiled contracts (package data) and `pip check` is clean;
- every verb's module imports, and `provenance up` on a real node starts the gateway and the
  indexer far enough to answer `/healthz` (the contracts deployed from the wheel's artifacts);
- without the `embedded` extra, `up --embedded` says in one line what to install, exit 2;
  with it (installed at the versions of requirements-dev.lock), `up --embedded` answers too.

One slow test: about 85 packages installed by uv from its cache (seconds; the first run on a
machine downloads them), or by pip without uv (minutes).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devkit.nodes import available, free_port, running_node

pytestmark = [pytest.mark.slow, pytest.mark.node]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("medledger", "chain", "servicekit", "gateway", "indexer", "dashboard", "provenance")
FILES = ("pyproject.toml", "README.md", "requirements.lock", "build-requirements.in")
#: What the verbs import when they run (cli.py imports them lazily): one process imports them all.
VERB_MODULES = ("provenance.verify", "provenance.check", "provenance.alerts", "provenance.recall",
                "provenance.codes_command", "provenance.origin_command", "provenance.demo",
                "provenance.serve", "provenance.serve_indexer", "provenance.simulate",
                "provenance.up", "provenance.progress", "provenance.keys_command")  # fmt: skip
TIMEOUT = 120.0


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    tail = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{result.args}\n{tail}"
    return result.stdout


def uv() -> str | None:
    """uv (a dev dependency, beside this interpreter): seconds from its cache where pip takes
    minutes; without it the same steps run with pip."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


@dataclass(frozen=True)
class Installed:
    bin: Path
    pip: list[str]  # the installer, and where it installs (uv's --python)
    target: list[str]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh venv with the wheel and requirements.lock, nothing else."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    for name in SOURCES:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in FILES:
        shutil.copy2(ROOT / name, source / name)
    python, lock, dist = tmp / "venv" / "bin" / "python", source / "requirements.lock", tmp / "dist"
    fast = uv()
    if fast is not None:
        ok(run([fast, "venv", "-q", "--python", sys.executable, str(tmp / "venv")], tmp))
        pip = [fast, "pip", "--quiet"]
        target = ["--python", str(python)]
        ok(run([*pip, "install", *target, "--require-hashes", "--no-deps", "-r", str(lock)], tmp))
        ok(run([fast, "build", "-q", "--wheel", "--no-build-isolation", *target, "-o", str(dist),
                str(source)], tmp))  # fmt: skip
    else:
        venv.EnvBuilder(with_pip=True).create(tmp / "venv")
        pip, target = [str(python), "-m", "pip", "--quiet", "--disable-pip-version-check"], []
        ok(run([*pip, "install", "--require-hashes", "--no-deps", "-r", str(lock)], tmp))
        ok(run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                str(source)], tmp))  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for contract in ("AnchorRegistry", "ParticipantRegistry", "RecallRegistry"):
        assert f"chain/compiled/{contract}.json" in names
    assert "servicekit/http/static/swagger-ui/swagger-ui-bundle.js" in names  # /docs offline
    assert "dashboard/templates/check.html" in names and "dashboard/locales/ru.json" in names
    assert "dashboard/static/vendor/noble-hashes/sha3.js" in names  # the in-browser check
    assert "dashboard/static/vendor/zxing-wasm/dist/reader/zxing_reader.wasm" in names  # scan
    assert "dashboard/static/vendor/zxing-wasm/dist/es/reader/index.js" in names
    ok(run([*pip, "install", *target, "--no-deps", str(wheel)], tmp))
    ok(run([*pip, "check", *target], tmp))
    return Installed(python.parent, pip, target)


def up_until_healthy(provenance: str, args: list[str], cwd: Path) -> None:
    """`provenance up ARGS` until both services answer /healthz; then Ctrl-C, exit code 0."""
    gateway_port, indexer_port = free_port(), free_port()
    cwd.mkdir()
    process = subprocess.Popen(
        [provenance, "up", *args, "--data-dir", str(cwd / "data"),
         "--gateway-port", str(gateway_port), "--indexer-port", str(indexer_port)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    try:
        for port in (gateway_port, indexer_port):
            deadline = time.monotonic() + TIMEOUT
            while True:
                assert process.poll() is None, process.communicate()[0]
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"no /healthz on {port}"
                time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out


@pytest.mark.skipif(not available("ganache"), reason="ganache is not in node_modules")
def test_the_wheel_runs_every_verb_and_up_answers_healthz_with_no_extra_and_embedded(
    installed: Installed, tmp_path: Path
) -> None:
    provenance = str(installed.bin / "provenance")
    assert "simulate" in ok(run([provenance, "--help"], tmp_path, timeout=120))
    imports = "; ".join(f"import {module}" for module in VERB_MODULES)
    where = "import chain; print(chain.__file__)"
    location = ok(run([str(installed.bin / "python"), "-c", f"{imports}; {where}"], tmp_path))
    assert "site-packages" in location  # the wheel, not the source tree
    # Without the extra: the in-process chain says what to install; a real node serves.
    embedded = run([provenance, "up", "--embedded"], tmp_path)
    assert embedded.returncode == 2, embedded.stdout + embedded.stderr
    assert "pip install 'medicine-provenance-ledger[embedded]'" in embedded.stdout
    with running_node("ganache") as node:
        up_until_healthy(provenance, ["--chain-url", node.url], tmp_path / "on-node")
    # With the `embedded` extra (at the versions of requirements-dev.lock): up --embedded.
    extra = ["-c", str(ROOT / "requirements-dev.lock"), "eth-tester[py-evm]"]
    ok(run([*installed.pip, "install", *installed.target, *extra], tmp_path))
    up_until_healthy(provenance, ["--embedded"], tmp_path / "embedded")
