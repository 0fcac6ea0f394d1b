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
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rich.console import Console

from devkit.nodes import available, free_port, running_node
from devkit.postgres import fresh_database, postgres_answers
from medledger.epcis.builders import as_document
from provenance import serve
from provenance.journey import MANUFACTURER, PACK_ITEM_REF
from tests.support.processes import wait_gone, with_argument

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


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    batcher: int  # its batcher process's pid
    url: str


def start_gateway(
    chain_and_database: tuple[str, str], data: Path, log: Path, *options: str
) -> Started:
    """The gateway, once its batcher runs and it answers HTTP."""
    chain_url, database_url = chain_and_database
    port = free_port()
    command = [
        sys.executable, "-m", "provenance", "gateway", "--port", str(port),
        "--chain-url", chain_url, "--database-url", database_url, "--data-dir", str(data),
        *options,
    ]  # fmt: skip
    begun = len(log.read_text()) if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        said = log.read_text()[begun:]
        started = STARTED.search(said)
        if started and RUNNING in said and _answers(url):
            return Started(process, int(started.group(1)), url)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the gateway did not start its batcher:\n{log.read_text()}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def commissioning(serial: str) -> dict[str, Any]:
    """A document commissioning one pack of the manufacturer's (passes the pharma rules)."""
    sgln = MANUFACTURER.sgln
    return as_document(
        [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-02T08:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "epcList": [
                    f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.{serial}"
                ],
                "readPoint": {"id": sgln},
                "bizLocation": {"id": sgln},
                "ilmd": {"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2028-10-31"},
            }
        ]
    )


@pytest.mark.node
@pytest.mark.postgres
@pytest.mark.slow
def test_a_killed_gateway_takes_its_batcher_with_it_and_restarts_leave_exactly_one(
    chain_and_database: tuple[str, str], tmp_path: Path
) -> None:
    """Before, the batcher process ran on after its gateway was killed, anchoring alone, and
    each restart added another (issue 21). Kill -9 of the main process only, five restarts on
    the same data folder and database: one batcher runs, and every acknowledged capture is
    anchored."""
    data, log = tmp_path / "data", tmp_path / "log"
    gateway = start_gateway(chain_and_database, data, log)
    batchers = [gateway.batcher]
    try:
        regulator = {"Authorization": f"Bearer {(data / 'regulator.api-key').read_text().strip()}"}
        registered = httpx.post(
            f"{gateway.url}/participants",
            json=MANUFACTURER.registration(),
            headers=regulator,
            timeout=60,
        )
        assert registered.status_code == 201, registered.text
        key = {"Authorization": f"Bearer {registered.json()['apiKey']}"}
        captures = []
        for restart in range(6):
            if restart:
                gateway.process.kill()  # SIGKILL, to the main process only
                gateway.process.wait()
                gateway = start_gateway(chain_and_database, data, log)
                batchers.append(gateway.batcher)
            accepted = httpx.post(
                f"{gateway.url}/capture", json=commissioning(f"R{restart}"), headers=key, timeout=60
            )
            assert accepted.status_code == 202, accepted.text
            captures.append(accepted.json()["captureID"])

        deadline = time.monotonic() + 30
        for capture in captures:
            while (
                httpx.get(f"{gateway.url}/capture/{capture}", headers=key).json()["status"]
                != "anchored"
            ):
                assert time.monotonic() < deadline, f"capture {capture} was never anchored"
                time.sleep(0.1)
        assert wait_gone(batchers[:-1], timeout=15) == [], "a batcher outlived its gateway"
        assert sorted(with_argument(str(data))) == sorted([gateway.process.pid, gateway.batcher])
    finally:
        gateway.process.kill()
        gateway.process.wait()
        for batcher in wait_gone(batchers, timeout=15):
            os.kill(batcher, signal.SIGKILL)


WORKERS = re.compile(r"HTTP worker processes \(pids ([\d, ]+)\)")


@pytest.mark.node
@pytest.mark.postgres
@pytest.mark.slow
def test_workers_share_the_port_and_one_dying_stops_the_gateway(
    chain_and_database: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--workers 2``: two HTTP processes capture on one port and database (documents about
    different packs at once); one killed, the gateway stops whole and exits 1 (a supervisor
    restarts it), leaving no process behind. With PROVENANCE_GATEWAY_CAPTURE_NICENESS the HTTP
    processes run at that niceness and the batcher at the gateway's own."""
    data, log = tmp_path / "data", tmp_path / "log"
    monkeypatch.setenv("PROVENANCE_GATEWAY_CAPTURE_NICENESS", "5")
    gateway = start_gateway(chain_and_database, data, log, "--workers", "2")
    found = WORKERS.search(log.read_text())
    assert found is not None, log.read_text()
    workers = [int(pid) for pid in found.group(1).split(", ")]
    assert len(workers) == 2
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, gateway.batcher) == own
        for pid in workers:
            assert os.getpriority(os.PRIO_PROCESS, pid) == min(own + 5, 19)
        deadline = time.monotonic() + 120
        while not all(f"Started server process [{pid}]" in log.read_text() for pid in workers):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        regulator = {"Authorization": f"Bearer {(data / 'regulator.api-key').read_text().strip()}"}
        registered = httpx.post(
            f"{gateway.url}/participants",
            json=MANUFACTURER.registration(),
            headers=regulator,
            timeout=60,
        )
        assert registered.status_code == 201, registered.text
        key = {"Authorization": f"Bearer {registered.json()['apiKey']}"}
        statuses: list[int] = []

        def capture(n: int) -> None:
            answer = httpx.post(
                f"{gateway.url}/capture", json=commissioning(f"W{n}"), headers=key, timeout=60
            )
            statuses.append(answer.status_code)

        threads = [threading.Thread(target=capture, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert statuses == [202] * 6
        os.kill(workers[1], signal.SIGKILL)
        assert gateway.process.wait(timeout=60) == 1
        assert "provenance-gateway-1" in log.read_text()
        assert wait_gone([*workers, gateway.batcher], timeout=30) == []
    finally:
        gateway.process.kill()
        gateway.process.wait()
        for pid in wait_gone([*workers, gateway.batcher], timeout=15):
            os.kill(pid, signal.SIGKILL)


def test_workers_need_postgresql_and_a_node(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=200)
    assert (
        serve.run_gateway({"workers": 2, "data_dir": tmp_path, "port": free_port()}, console) == 2
    )
    said = console.file.getvalue()  # type: ignore[attr-defined]
    assert "--workers 2 needs PostgreSQL" in said


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
