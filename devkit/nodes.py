"""Start real JSON-RPC nodes (ganache, anvil) from node_modules on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "node_modules" / ".bin"


@dataclass(frozen=True)
class RunningNode:
    kind: str
    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_command(kind: str, port: int, extra: list[str] | None = None) -> list[str]:
    if kind == "anvil":
        return [
            str(BIN / "anvil"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--silent",
            *(extra or []),
        ]
    if kind == "ganache":
        return [
            str(BIN / "ganache"),
            "--server.host",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--logging.quiet",
            "--chain.chainId",
            "1337",
            *(extra or []),
        ]
    raise ValueError(kind)


def available(kind: str) -> bool:
    return (BIN / kind).exists()


@contextmanager
def running_node(kind: str, extra: list[str] | None = None) -> Iterator[RunningNode]:
    """Start ``kind`` and yield once it answers JSON-RPC; stop it (by pid) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        node_command(kind, port, extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process)
        yield RunningNode(kind=kind, url=url, pid=process.pid)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"node exited early ({process.returncode}): {err[-2000:]}")
        try:
            response = requests.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=1,
            )
            if response.ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"node at {url} not ready within {timeout}s")
