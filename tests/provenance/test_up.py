"""`provenance up`: the whole network in one command, and everything still there after a restart.

A real subprocess with a real ganache (from node_modules): a journey is captured over HTTP,
anchored and indexed; the network is stopped with Ctrl-C (SIGINT) and started again on the
same data folder; every capture, receipt and indexed state is still there and the indexer
goes on with new events.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.nodes import available, free_port
from medledger.epcis.builders import as_document
from medledger.epcis.identifiers import canonical_identifier
from provenance.journey import ACTORS, MANUFACTURER, build_journey
from tests.support.processes import with_argument

pytestmark = [pytest.mark.node, pytest.mark.slow]

#: `provenance` from this source tree (the installed script may import another checkout's).
PROVENANCE = [sys.executable, "-m", "provenance"]
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0


@dataclass
class Ports:
    chain: int
    gateway: int
    indexer: int

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway}"

    @property
    def indexer_url(self) -> str:
        return f"http://127.0.0.1:{self.indexer}"


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def answers_ok(url: str) -> bool:
    return httpx.get(url).status_code == 200


def start_up(data: Path, ports: Ports, log: Path) -> subprocess.Popen[bytes]:
    """`provenance up` on a local ganache, once its summary is printed."""
    command = [
        *PROVENANCE, "up", "--data-dir", str(data),
        "--chain-port", str(ports.chain),
        "--gateway-port", str(ports.gateway),
        "--indexer-port", str(ports.indexer),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        for url in (ports.gateway_url, ports.indexer_url):
            wait_for(f"{url}/healthz", partial(answers_ok, f"{url}/healthz"))
        wait_for("the start-up summary", lambda: "press Ctrl-C" in log.read_text())
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


@contextmanager
def network_up(data: Path, ports: Ports, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_up(data, ports, log)
    try:
        yield process
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def bearer(path: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {path.read_text().strip()}"}


def test_up_keeps_every_event_batch_receipt_and_index_across_a_restart(tmp_path: Path) -> None:
    if not available("ganache"):
        pytest.skip("ganache is not installed in node_modules (run `make deps`)")
    data = tmp_path / "data"
    ports = Ports(free_port(), free_port(), free_port())
    log = tmp_path / "up.log"
    journey = build_journey(20, packs_per_case=10)
    pack = "https://id.gs1.org/01/04700123123452/21/S00000001"  # the dispensed one, canonical

    with network_up(data, ports, log):
        assert "regulator key" in log.read_text() and "0600" in log.read_text()
        key_file = data / "gateway" / "regulator.api-key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert key_file.read_text().strip() not in log.read_text()  # never printed
        # the indexer fetches batches with a batch-reader key, never the regulator's (issue 15)
        batch_key = data / "gateway" / "export" / "indexer.api-key"
        assert batch_key.stat().st_mode & 0o777 == 0o600
        assert batch_key.read_text() != key_file.read_text()
        refused = httpx.get(
            f"{ports.gateway_url}/participants/me/keys", headers=bearer(batch_key), timeout=30
        )
        assert refused.status_code == 403
        gateway = httpx.Client(base_url=ports.gateway_url, headers=bearer(key_file), timeout=30)
        indexer = httpx.Client(
            base_url=ports.indexer_url,
            headers=bearer(data / "indexer" / "indexer-reader.api-key"),
            timeout=30,
        )
        keys: dict[str, dict[str, str]] = {}
        for actor in ACTORS:
            body = actor.registration()
            created = gateway.post("/participants", json=body)
            assert created.status_code == 201, created.text
            keys[actor.name] = {"Authorization": f"Bearer {created.json()['apiKey']}"}
        captures: list[str] = []
        for step in journey.steps:
            accepted = gateway.post(
                "/capture", json=as_document(step.events), headers=keys[step.actor.name]
            )
            assert accepted.status_code == 202, accepted.text
            captures.append(accepted.json()["captureID"])
            wait_for(  # custody moves on only once the previous step is anchored
                "anchoring",
                lambda: gateway.get(f"/capture/{captures[-1]}").json()["status"] == "anchored",
            )
        last_event = accepted.json()["eventIDs"][-1].split(";")[1][:64]
        receipt = gateway.get(f"/events/{last_event}/receipt").json()
        state = wait_for(
            "the indexer to see the dispensing",
            lambda: (
                (r := indexer.get(f"/epcs/{pack}")).status_code == 200
                and r.json()["status"] == "dispensed"
                and all(p["name"] for p in r.json()["participants"].values())  # names polled
                and r.json()
            ),
        )
        gateway.close()
        indexer.close()

    with network_up(data, ports, log):
        gateway = httpx.Client(base_url=ports.gateway_url, headers=bearer(key_file), timeout=30)
        indexer = httpx.Client(
            base_url=ports.indexer_url,
            headers=bearer(data / "indexer" / "indexer-reader.api-key"),
            timeout=30,
        )
        for capture in captures:
            assert gateway.get(f"/capture/{capture}").json()["status"] == "anchored"
        assert gateway.get(f"/events/{last_event}/receipt").json() == receipt
        assert indexer.get(f"/epcs/{pack}").json() == state

        # The network goes on: the manufacturer commissions new cases; the indexer resumes.
        cases = build_journey(20, packs_per_case=10).steps[4].events[0]
        new_cases = [epc.replace("4700123.0", "4700123.9") for epc in cases["epcList"]]
        accepted = gateway.post(
            "/capture",
            json=as_document([{**cases, "epcList": new_cases}]),
            headers=keys[MANUFACTURER.name],
        )
        assert accepted.status_code == 202, accepted.text
        new_case = canonical_identifier(new_cases[0])
        wait_for(
            "the indexer to index the new cases",
            lambda: indexer.get(f"/epcs/{new_case}").status_code == 200,
        )
        gateway.close()
        indexer.close()


def chain_node_of(data: Path) -> int:
    """The pid of the ganache `up` started on ``data`` (its command line names the folder)."""
    (pid,) = with_argument(str(data / "chain" / "db"))
    return pid


def test_when_the_chain_node_dies_up_stops_everything_and_exits_1(tmp_path: Path) -> None:
    """Issue 14, Supervision: a part that dies takes `up` down with it, with one line naming it
    (before, `up` went on serving a gateway and an indexer without a chain, and exited 0)."""
    if not available("ganache"):
        pytest.skip("ganache is not installed in node_modules (run `make deps`)")
    data, log = tmp_path / "data", tmp_path / "up.log"
    process = start_up(data, Ports(free_port(), free_port(), free_port()), log)
    try:
        node = chain_node_of(data)
        os.kill(node, signal.SIGKILL)
        assert process.wait(timeout=30) == 1, log.read_text()
        died = [line for line in log.read_text().splitlines() if "stopping everything" in line]
        assert died == [f"the chain node (ganache, pid {node}) exited (killed by SIGKILL): "
                        "stopping everything"]  # fmt: skip
        assert with_argument(str(data)) == []  # nothing of this network runs on
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
