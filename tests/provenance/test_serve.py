"""`provenance gateway` with its batcher in a process of its own (PostgreSQL and a JSON-RPC
node): the two processes live and die together (issue 14, Supervision; issue 21).

Real processes, killed with SIGKILL as a segfault would end them: no ``finally`` runs."""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from provenance import serve
from tests.support.nodes import available, free_port, running_node
from tests.support.postgres import fresh_database, postgres_answers
from tests.support.processes import wait_gone

ROOT = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"batcher in its own process \(pid (\d+)\)")
RUNNING = "batcher process started"


@pytest.fixture
def chain_url() -> Iterator[str]:
    if not available("ganache"):
        pytest.skip("ganache is not installed in node_modules (run `make deps`)")
    with running_node("ganache") as node:
        yield node.url


@pytest.fixture
def chain_and_database(chain_url: str) -> Iterator[tuple[str, str]]:
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    with fresh_database(prefix="serve_test") as database:
        yield chain_url, database


def start_gateway(
    chain_and_database: tuple[str, str], data: Path, log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """The gateway, and its batcher's pid once the batcher runs."""
    chain_url, database_url = chain_and_database
    command = [
        sys.executable, "-m", "provenance", "gateway", "--port", str(free_port()),
        "--chain-url", chain_url, "--database-url", database_url, "--data-dir", str(data),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (started := STARTED.search(log.read_text())) or RUNNING not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the gateway did not start its batcher:\n{log.read_text()}")
        time.sleep(0.2)
    return process, int(started.group(1))


@pytest.mark.node
@pytest.mark.postgres
@pytest.mark.slow
def test_a_killed_gateway_takes_its_batcher_process_with_it(
    chain_and_database: tuple[str, str], tmp_path: Path
) -> None:
    """Before, the batcher process ran on after its gateway was killed, anchoring alone."""
    process, batcher = start_gateway(chain_and_database, tmp_path / "data", tmp_path / "log")
    try:
        process.kill()
        process.wait()
        assert wait_gone([batcher], timeout=15) == [], "the batcher outlived its gateway"
    finally:
        if wait_gone([batcher], timeout=0):
            os.kill(batcher, signal.SIGKILL)


@pytest.mark.parametrize("server_stopping", [False, True])
def test_a_batcher_process_that_ends_stops_the_gateway_unless_it_is_stopping_anyway(
    server_stopping: bool,
) -> None:
    """Before, the gateway went on accepting captures that nothing would ever anchor; now it
    stops (and `provenance gateway` exits 1, so a supervisor restarts both)."""
    batcher = multiprocessing.get_context("spawn").Process(
        target=signal.raise_signal, args=(signal.SIGKILL,)
    )
    server = SimpleNamespace(should_exit=False)
    stopping, died = threading.Event(), threading.Event()
    if server_stopping:
        stopping.set()
    console = Console(file=io.StringIO(), width=40)
    batcher.start()
    serve._stop_if_gone(batcher, server, stopping, died, console)  # type: ignore[arg-type]
    said = console.file.getvalue()  # type: ignore[attr-defined]
    if server_stopping:
        assert not died.is_set() and not server.should_exit and said == ""
    else:
        assert died.is_set() and server.should_exit
        assert said == (
            f"the batcher process (pid {batcher.pid}) exited (killed by SIGKILL): "
            "stopping the gateway\n"
        )
