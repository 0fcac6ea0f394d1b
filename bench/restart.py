"""How soon a restarted gateway serves HTTP and anchors (issue 21: "the first anchor after a
restart within 2 s of HTTP readiness").

Starts anvil on a free loopback port and a fresh PostgreSQL database; runs ``provenance gateway``
once to deploy the contracts and register a manufacturer, and stops it. Then, ``--restarts``
times: starts the gateway again on the same data folder and database (the batcher in its own
process, as in production), polls ``/readyz`` every 20 ms until it answers 200, posts a
document of ``--events`` commissioning events at once, and polls ``GET /capture/{id}`` every
20 ms until it says ``anchored``; then stops the gateway (SIGINT). Times are from the start of
the command. Not a test: numbers go to docs/benchmarks.md with ``--write``.

    .venv/bin/python -m bench.restart [--restarts 5] [--block-time 0] [--write]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.ingest import Documents
from bench.report import machine_line, write_section
from devkit.nodes import free_port, running_node
from devkit.postgres import PG_URL, fresh_database
from provenance.journey import MANUFACTURER

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.02


@dataclass(frozen=True)
class Restart:
    ready: float  # seconds from the command's start to /readyz 200
    backlog: float  # ... to the capture acknowledged before the crash answering "anchored"
    fresh: float  # ... to the capture posted at readiness answering "anchored"


class Gateway:
    def __init__(self, chain_url: str, database_url: str, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "provenance", "gateway",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(data_dir),
            "--chain-url", chain_url, "--database-url", database_url,
        ]  # fmt: skip
        self.log = log
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
            )

    def wait_ready(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(POLL)
        raise RuntimeError(f"gateway not ready:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the server and its batcher at once (a crash, ``docker kill``)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def register(gateway: Gateway, data_dir: Path) -> str:
    regulator = (data_dir / "regulator.api-key").read_text().strip()
    response = httpx.post(
        f"{gateway.url}/participants",
        json=MANUFACTURER.registration(),
        headers={"Authorization": f"Bearer {regulator}"},
        timeout=60,
    )
    response.raise_for_status()
    return str(response.json()["apiKey"])


def wait_anchored(http: httpx.Client, capture: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while http.get(f"/capture/{capture}").json()["status"] != "anchored":
        if time.monotonic() > deadline:
            raise RuntimeError(f"capture {capture} not anchored:\n{log.read_text()[-3000:]}")
        time.sleep(POLL)


def restart_once(
    chain_url: str, database_url: str, data_dir: Path, log: Path, key: str, docs: Documents,
    backlog: str,
) -> tuple[Restart, str]:  # fmt: skip
    """Start the gateway; post a capture at readiness; wait until it and ``backlog`` (acknowledged
    before the last crash, not anchored) are anchored; post another and crash. The timings and
    the capture left behind."""
    gateway = Gateway(chain_url, database_url, data_dir, log)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/ld+json"}
    try:
        ready = gateway.wait_ready()
        with httpx.Client(base_url=gateway.url, headers=headers, timeout=60) as http:
            response = http.post("/capture", content=docs.next())
            response.raise_for_status()
            wait_anchored(http, backlog, log)
            backlog_at = time.monotonic() - gateway.started
            wait_anchored(http, response.json()["captureID"], log)
            fresh_at = time.monotonic() - gateway.started
            left = http.post("/capture", content=docs.next())
            left.raise_for_status()
        gateway.kill()  # within the batch's maximum age: the capture is not anchored
        return Restart(ready, backlog_at, fresh_at), str(left.json()["captureID"])
    finally:
        gateway.kill()


def run(args: argparse.Namespace) -> tuple[list[Restart], str]:
    block_time = [] if args.block_time <= 0 else ["--block-time", f"{args.block_time:g}"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    data_dir, log = tmp / "data", tmp / "gateway.log"
    try:
        with (
            running_node("anvil", block_time) as node,
            fresh_database(args.database_url, prefix="bench_restart") as database_url,
        ):
            docs = Documents(secrets.token_hex(3).upper(), size=args.events)
            first = Gateway(node.url, database_url, data_dir, log)
            try:
                first.wait_ready()
                key = register(first, data_dir)
                response = httpx.post(
                    f"{first.url}/capture",
                    content=docs.next(),
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                )
                response.raise_for_status()
                backlog = str(response.json()["captureID"])
            finally:
                first.kill()
            results = []
            for n in range(args.restarts):
                result, backlog = restart_once(
                    node.url, database_url, data_dir, log, key, docs, backlog
                )
                print(
                    f"restart {n + 1}: ready {result.ready:.2f} s, backlog anchored "
                    f"{result.backlog:.2f} s, fresh capture anchored {result.fresh:.2f} s",
                    flush=True,
                )
                results.append(result)
            return results, log.read_text()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


HEADER = (
    "| HTTP ready (`/readyz` 200) | capture from before the crash anchored | after ready "
    "| capture posted at ready anchored | after ready |\n|---:|---:|---:|---:|---:|"
)


def report(results: list[Restart], args: argparse.Namespace) -> str:
    def column(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    node = "automine" if args.block_time <= 0 else f"--block-time {args.block_time:g}"
    return f"""Measured {time.strftime("%Y-%m-%d")} on {machine_line()}.
Command: `.venv/bin/python -m bench.restart --restarts {args.restarts} --events {args.events}
--block-time {args.block_time:g}` (PostgreSQL at 127.0.0.1:5432, a fresh database, dropped
afterwards; anvil {node}). The gateway (`provenance gateway`, the batcher in its own process,
default settings: batches sealed at 1,000 events or 2 s) deploys and registers a manufacturer,
takes a capture of {args.events} commissioning events and is killed (SIGKILL to the server and
the batcher) before anchoring it; then, {args.restarts} times, it is started again on the same
data folder and database, a new capture is posted as soon as `/readyz` answers 200, both are
polled (`GET /capture/{{id}}`, 20 ms) until `anchored`, a third is posted and the gateway killed
again. Seconds from the command's start; median (min–max).

{HEADER}
| {column([r.ready for r in results])} | {column([r.backlog for r in results])} | \
{column([r.backlog - r.ready for r in results])} | {column([r.fresh for r in results])} | \
{column([r.fresh - r.ready for r in results])} |
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--block-time", type=float, default=0.0, help="anvil; 0: automine")
    parser.add_argument("--database-url", default=PG_URL)
    parser.add_argument("--write", action="store_true", help="record in docs/benchmarks.md")
    parser.add_argument("--log", action="store_true", help="print the gateway's log at the end")
    args = parser.parse_args(argv)
    results, log = run(args)
    if args.log:
        print(log)
    body = report(results, args)
    print(body)
    if args.write:
        write_section("Restart", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
