"""A supervisor's SIGTERM stops `provenance gateway` cleanly: its clean-up runs and it exits 0.

uvicorn raises the SIGTERM it caught again once it has shut down; with the default handler the
process died there (status 143) before the gateway stopped its service and removed its
temporary folder (issue 21, found by the crash campaign)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devkit.nodes import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_stops_the_gateway_with_its_clean_up_and_exit_0(tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "TMPDIR": str(tmp_path)}  # where its throw-away folder goes
    process = subprocess.Popen(
        [sys.executable, "-m", "provenance", "gateway", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert process.poll() is None, "the gateway ended before it answered"
            assert time.monotonic() < deadline, "the gateway did not answer within 120 s"
            time.sleep(0.2)
        assert list(tmp_path.glob("provenance-gateway-*")), "its throw-away store is in TMPDIR"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert list(tmp_path.glob("provenance-gateway-*")) == []  # the clean-up ran
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
