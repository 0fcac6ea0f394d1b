"""`provenance gateway` as a real subprocess (PostgreSQL, a JSON-RPC node, the batcher in a
process of its own), started again and again on one port, and killed the ways processes die.

Every start writes its own log (``gateway-01.log``, ...); the pids of every gateway and batcher
ever started are kept, so a campaign can say afterwards that none of them outlived its stop.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from devkit.nodes import free_port
from tests.support.processes import alive, wait_gone

ROOT = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"batcher in its own process \(pid (\d+)\)")
#: Logged by the batcher process itself once it runs.
RUNNING = "batcher process started"

KillKind = Literal["main", "batcher", "both"]


class GatewayProcessError(RuntimeError):
    """The gateway did not start, or did not die the way it should."""


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    batcher: int
    log: Path


@dataclass
class GatewayProcess:
    """One gateway, restartable: same port, data folder and database every time."""

    chain_url: str
    database_url: str
    folder: Path
    environment: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    #: Another gateway's data folder, shared (keys, deployment) as replicas share a volume.
    shared_data_dir: Path | None = None
    current: Started | None = None
    starts: int = 0
    gateway_pids: list[int] = field(default_factory=list)
    batcher_pids: list[int] = field(default_factory=list)
    #: What went wrong while killing (a batcher that outlived its gateway, ...): for the report.
    anomalies: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.shared_data_dir or self.folder / "data"

    def regulator_key(self) -> str:
        return (self.data_dir / "regulator.api-key").read_text().strip()

    def start(self, timeout: float = 120) -> Started:
        """Start the gateway; return once its batcher runs and HTTP answers /healthz."""
        self.starts += 1
        log = self.folder / f"gateway-{self.starts:02d}.log"
        command = [
            sys.executable, "-m", "provenance", "gateway", "--host", "127.0.0.1",
            "--port", str(self.port), "--chain-url", self.chain_url,
            "--database-url", self.database_url, "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        environment = {**os.environ, "PROVENANCE_GATEWAY_LOG_FORMAT": "text", **self.environment}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=environment
            )
        self.gateway_pids.append(process.pid)
        deadline = time.monotonic() + timeout
        batcher: int | None = None
        with httpx.Client(base_url=self.url, timeout=1) as http:
            while True:
                text = log.read_text(errors="replace")
                if batcher is None and (found := STARTED.search(text)):
                    batcher = int(found.group(1))
                    self.batcher_pids.append(batcher)
                if batcher is not None and RUNNING in text and _healthy(http):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise GatewayProcessError(f"the gateway did not start:\n{text[-3000:]}")
                time.sleep(0.1)
        self.current = Started(process, batcher, log)
        return self.current

    def kill(self, kind: KillKind) -> None:
        """SIGKILL the main process, the batcher process, or both; wait until both are gone."""
        running = self.current
        assert running is not None
        self.current = None
        main, batcher = running.process.pid, running.batcher
        if kind in ("main", "both"):
            os.kill(main, signal.SIGKILL)
        if kind in ("batcher", "both"):
            _kill_quietly(batcher)
        try:
            running.process.wait(timeout=45)  # after its batcher's death the gateway stops
        except subprocess.TimeoutExpired:
            self.anomalies.append(f"gateway {main} ran on 45 s after its batcher was killed")
            running.process.kill()
            running.process.wait()
        if wait_gone([batcher], timeout=15):
            self.anomalies.append(f"batcher {batcher} outlived its gateway {main} by 15 s")
            _kill_quietly(batcher)
            wait_gone([batcher], timeout=10)

    def stop(self, timeout: float = 60) -> int | None:
        """Stop the running gateway as a supervisor would (SIGTERM); its exit code."""
        running = self.current
        if running is None:
            return None
        self.current = None
        running.process.send_signal(signal.SIGTERM)
        try:
            return running.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.anomalies.append(f"gateway {running.process.pid} ignored SIGTERM for {timeout} s")
            running.process.kill()
            return running.process.wait()

    def running_batchers(self) -> list[int]:
        """Batcher processes of this gateway that run now, whoever started them."""
        return [pid for pid in self.batcher_pids if alive(pid)]

    def survivors(self) -> list[int]:
        """Every gateway or batcher process ever started here that still runs."""
        return [pid for pid in [*self.gateway_pids, *self.batcher_pids] if alive(pid)]

    def kill_survivors(self) -> None:
        for pid in self.survivors():
            _kill_quietly(pid)


def _healthy(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
