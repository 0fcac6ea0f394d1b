"""End-to-end capture throughput: HTTP in, validated, hashed, stored, batched, anchored.

Starts anvil (a real JSON-RPC node) on a free loopback port, a fresh PostgreSQL database, and the
gateway as a real HTTP server (``provenance gateway``, uvicorn, batcher running) in a subprocess;
registers a manufacturer through the API; then for ``--seconds`` posts EPCISDocuments of 1,000
commissioning ObjectEvents (fresh pack serials in every document, the manufacturer's own
location, lot ILMD; they pass the ``pharma`` rules) from ``--clients`` concurrent httpx clients,
as JSON-LD or, with ``--format xml`` or ``--format xml-1.2``, the same events as EPCIS 2.0 or
1.2 XML (:mod:`bench.xml_documents`; 1.2 is converted by GS1's stylesheet in the gateway).

Measured: events acknowledged (202) per second over the posting window; per event, the time from
its document's 202 to its batch's ``anchored_at``; gas per event from the anchor transactions'
receipts; CPU seconds used by each process; and a py-spy profile of the gateway for part of the
run, grouped into components. Then the database is dropped and the node stopped.

    .venv/bin/python -m bench.ingest [--seconds 60] [--format json|xml|xml-1.2]
        [--database-url postgresql+psycopg://...]

``--processes N`` starts N ``provenance gateway`` processes on the one database and node (the
first sets up the store and contracts, the others share its data folder; each runs its own
batcher process, leased per account), and spreads the clients over them (client i posts to
gateway i mod N). ``--workers N`` starts each gateway with ``--workers N`` (N HTTP processes
on its port). ``--capture-only`` makes the batchers all but idle (batches of 100,000 events,
sealed after an hour at the latest, and a backlog bound the run cannot reach), so the run
measures capture alone: what a second gateway process adds when a core is free for it. Its
202-to-anchored figures are then meaningless and not reported.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.report import machine_line, write_section
from bench.xml_documents import CONTENT_TYPES, FORMATS, xml_document
from devkit.nodes import free_port, running_node
from devkit.postgres import PG_URL, fresh_database
from medledger.epcis import builders as epcis
from medledger.epcis.builders import EPCIS_CONTEXT
from provenance.journey import MANUFACTURER, PACK_ITEM_REF

ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_DOCUMENT = 1000
#: Issue 19's targets: end to end on the 2-core host, with one or more gateway processes.
TARGET_EVENTS_PER_SECOND = 5000
TARGET_P95_SECONDS = 2.0
#: Each format's section of docs/benchmarks.md, and how its documents are described there.
SECTIONS = {"json": "Ingest", "xml": "Ingest: EPCIS 2.0 XML", "xml-1.2": "Ingest: EPCIS 1.2 XML"}
WRITTEN_AS = {
    "json": "EPCISDocuments (JSON-LD)",
    "xml": "EPCIS 2.0 XML documents (`application/xml`)",
    "xml-1.2": "EPCIS 1.2 XML documents (`application/xml`, converted to 2.0 by GS1's stylesheet "
    "in the gateway)",
}


# --- documents --------------------------------------------------------------------------------


class Documents:
    """Commissioning documents with fresh serials each time (thread-safe)."""

    def __init__(self, tag: str, size: int = EVENTS_PER_DOCUMENT, fmt: str = "json") -> None:
        self._tag = tag
        self._size = size
        self._format = fmt
        self._next = 0
        self._lock = threading.Lock()
        # far enough in the past that a long run (a second per event) never dates an event
        # after the gateway's clock (rule time.future)
        self._clock = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    @property
    def format(self) -> str:
        return self._format

    def next(self) -> bytes:
        with self._lock:
            number = self._next
            self._next += 1
        lot = f"B{self._tag}-{number:05d}"
        ilmd = {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2028-10-31"}
        prefix = MANUFACTURER.company_prefix
        events = [
            epcis.commission(
                MANUFACTURER,
                self._clock + timedelta(seconds=number * self._size + i),
                epcs=[f"urn:epc:id:sgtin:{prefix}.{PACK_ITEM_REF}.{self._tag}{number:05d}{i:04d}"],
                ilmd=ilmd,
            )
            for i in range(self._size)
        ]
        document = epcis.as_document(events, context=EPCIS_CONTEXT)
        if self._format != "json":
            return xml_document(document, self._format)
        return json.dumps(document, separators=(",", ":")).encode()


# --- processes --------------------------------------------------------------------------------


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(session_id: int) -> float:
    """User + system CPU seconds of every live process in a session (from /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[3]) == session_id:
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu(parent: int) -> float:
    """User + system CPU seconds of the live child processes of ``parent`` (a gateway's batcher
    process, when it runs one HTTP worker)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[1]) == parent:
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[str, float]:
    """CPU seconds so far of each PostgreSQL process, by ``postgres:<pid>``: its own, plus its
    reaped children's (so backends that exited in between count, through the postmaster)."""
    found: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                    continue
            except OSError:
                continue
            fields = _stat(entry.name)
            if fields is not None:
                ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
                found[f"postgres:{entry.name}"] = ticks / os.sysconf("SC_CLK_TCK")
    return found


def cpu_snapshot(sessions: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each started process group, of each PostgreSQL process, and of
    this process."""
    snap = {name: cpu_seconds(sid) for name, sid in sessions.items()}
    snap.update(postgres_cpu())
    own = os.times()
    snap["bench clients"] = own.user + own.system
    return snap


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two snapshots, PostgreSQL's summed under
    ``postgres``. A PostgreSQL process gone by ``after`` has its whole life's time in its
    parent's (the postmaster's reaped children's), so what it had used by ``before`` is taken
    off again."""
    used: dict[str, float] = {}
    for key, seconds in after.items():
        name = "postgres" if key.startswith("postgres:") else key
        used[name] = used.get(name, 0.0) + seconds - before.get(key, 0.0)
    gone = sum(v for k, v in before.items() if k.startswith("postgres:") and k not in after)
    if "postgres" in used:
        used["postgres"] -= gone
    return used


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


#: Settings of a ``--capture-only`` run: the batchers (almost) never seal, nothing is refused for
#: backlog (the run's events stay unanchored).
CAPTURE_ONLY_ENV = {
    "PROVENANCE_GATEWAY_BATCH_MAX_EVENTS": "100000",
    "PROVENANCE_GATEWAY_BATCH_MAX_AGE_SECONDS": "3600",
    "PROVENANCE_GATEWAY_MAX_BACKLOG_EVENTS": "1000000000",
}


def start_gateway(
    chain_url: str,
    database_url: str,
    data_dir: Path,
    *,
    name: str = "gateway",
    env: dict[str, str] | None = None,
) -> GatewayProcess:
    port = free_port()
    log = data_dir.parent / f"{name}.log"
    command = [
        str(ROOT / ".venv" / "bin" / "provenance"),
        "gateway",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--chain-url",
        chain_url,
        "--database-url",
        database_url,
    ]
    handle = log.open("wb")
    process = subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/docs", timeout=1).status_code == 200:
                return GatewayProcess(process, url, data_dir, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway not ready:\n{log.read_text()[-3000:]}")


# --- load -------------------------------------------------------------------------------------


@dataclass
class Load:
    acks: dict[str, tuple[float, int]] = field(default_factory=dict)  # capture id -> (t, events)
    ack_times: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # request -> 202, seconds
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(url: str, key: str, docs: Documents, stop_at: float, load: Load) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": CONTENT_TYPES[docs.format]}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        while time.monotonic() < stop_at:
            body = docs.next()
            started = time.monotonic()
            try:
                response = http.post("/capture", content=body)
            except httpx.HTTPError as exc:
                with load.lock:
                    load.errors[type(exc).__name__] += 1
                continue
            finished = time.monotonic()
            if response.status_code != 202:
                with load.lock:
                    load.errors[f"{response.status_code}: {response.text[:200]}"] += 1
                if response.status_code == 503:
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            accepted = response.json()
            with load.lock:
                load.acks[accepted["captureID"]] = (time.time(), int(accepted["stored"]))
                load.ack_times.append(finished)
                load.latencies.append(finished - started)


# --- profile ----------------------------------------------------------------------------------

# (component, substrings of a frame); a stack is given to the first component, in this order,
# that any of its frames matches, so the batcher thread and the specific intake stages win over
# the generic layers below them.
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    ("batcher (seal, tree, anchor tx, receipts)", ("gateway/batcher.py",)),
    ("EPCIS 1.2 to 2.0 (GS1's stylesheet, SaxonC)", ("medledger/epcis/legacy.py", "saxonche")),
    (
        "XML (lxml parse, GS1's XSD, reading into JSON-LD)",
        ("medledger/epcis/xml_read.py", "medledger/epcis/xsd.py", "lxml"),
    ),
    (
        "schema validation (msgspec structs, fastjsonschema)",
        (
            "medledger/epcis/schema.py",
            "medledger/epcis/typed_events.py",
            "msgspec",
            "fastjsonschema",
        ),
    ),
    ("normalisation (identifiers, CBV terms)", ("medledger/epcis/normalise.py",)),
    ("event hash (CBV 2.0 pre-hash + SHA-256)", ("medledger/epcis/event_hash.py",)),
    ("pharma rules (custody checks)", ("medledger/custody/",)),
    ("SQL (store, SQLAlchemy, psycopg)", ("gateway/store/", "sqlalchemy/", "psycopg")),
    ("event JSON for storage (json.dumps)", ("gateway/intake.py",)),
    ("request JSON parsing (json.loads)", ("json/decoder.py", "json/__init__.py")),
    (
        "HTTP (uvicorn, starlette, fastapi, pydantic)",
        ("uvicorn/", "starlette/", "fastapi/", "pydantic", "h11", "httptools", "anyio/"),
    ),
]


def profile_gateway(
    pid: int, seconds: int, out: Path, *, gil: bool
) -> subprocess.Popen[bytes] | None:
    """py-spy on the gateway: every non-idle thread (``gil=False``, includes waiting on SQL and
    RPC sockets) or only the thread holding the GIL (``gil=True``: Python CPU time)."""
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
            *(["--gil"] if gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def summarise_profile(raw: Path) -> list[tuple[str, float]]:
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        component = "other"
        for name, needles in COMPONENTS:
            if any(needle in frame for frame in frames for needle in needles):
                component = name
                break
        counts[component] += int(n)
    total = sum(counts.values()) or 1
    return [(name, 100.0 * c / total) for name, c in counts.most_common()]


# --- results ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def wait_anchored(database_url: str, timeout: float) -> float:
    """Seconds until every stored event is in an anchored batch (or the timeout)."""
    engine = create_engine(database_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            with engine.connect() as conn:
                pending = conn.execute(
                    text(
                        "SELECT count(*) FROM events e LEFT JOIN batches b ON e.batch_id = b.id "
                        "WHERE b.id IS NULL OR b.state <> 'anchored'"
                    )
                ).scalar_one()
            if pending == 0:
                return time.monotonic() - started
            time.sleep(0.5)
        return float("nan")
    finally:
        engine.dispose()


def anchored_latencies(database_url: str, acks: dict[str, tuple[float, int]]) -> list[float]:
    """Per event: its batch's anchored_at minus its document's 202 (wall clock, same host)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.capture_id, b.anchored_at, count(*) FROM events e "
                    "JOIN batches b ON e.batch_id = b.id WHERE b.state = 'anchored' "
                    "GROUP BY e.capture_id, b.anchored_at"
                )
            ).all()
    finally:
        engine.dispose()
    latencies: list[float] = []
    for capture_id, anchored_at, count in rows:
        ack = acks.get(str(capture_id))
        if ack is None or anchored_at is None:
            continue
        if anchored_at.tzinfo is None:
            anchored_at = anchored_at.replace(tzinfo=UTC)
        latencies.extend([anchored_at.timestamp() - ack[0]] * int(count))
    return latencies


def batch_stages(database_url: str) -> dict[str, float]:
    """Median seconds of each step of an anchored batch: its last event's capture to sealed,
    sealed to anchor transaction sent, sent to recorded anchored."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT max(c.received_at), b.sealed_at, b.sent_at, b.anchored_at "
                    "FROM batches b JOIN events e ON e.batch_id = b.id "
                    "JOIN captures c ON e.capture_id = c.id WHERE b.state = 'anchored' "
                    "GROUP BY b.id, b.sealed_at, b.sent_at, b.anchored_at"
                )
            ).all()
    finally:
        engine.dispose()
    steps: dict[str, list[float]] = {
        "received to sealed": [],
        "sealed to sent": [],
        "sent to anchored": [],
    }
    for received, sealed, sent, anchored in rows:
        if None in (received, sealed, sent, anchored):
            continue
        steps["received to sealed"].append((sealed - received).total_seconds())
        steps["sealed to sent"].append((sent - sealed).total_seconds())
        steps["sent to anchored"].append((anchored - sent).total_seconds())
    return {k: statistics.median(v) for k, v in steps.items() if v}


def gas_per_event(database_url: str, chain_url: str) -> tuple[float, int, float]:
    """(gas per event, anchor transactions, mean events per batch) over anchored batches."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT tx_hash, event_count FROM batches WHERE state = 'anchored'")
            ).all()
    finally:
        engine.dispose()
    gas = 0
    events = 0
    with httpx.Client(timeout=30) as rpc:
        for tx_hash, count in rows:
            receipt = rpc.post(
                chain_url,
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "eth_getTransactionReceipt",
                    "params": [tx_hash],
                },
            ).json()["result"]
            gas += int(receipt["gasUsed"], 16)
            events += int(count)
    if not rows:
        return float("nan"), 0, float("nan")
    return gas / max(events, 1), len(rows), events / len(rows)


# --- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> str:
    seconds = f"{args.block_time:g}"
    block_time = [] if args.block_time <= 0 else ["--block-time", seconds]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with (
        running_node("anvil", block_time) as node,
        fresh_database(args.database_url, prefix="bench_ingest") as database_url,
    ):
        print(f"anvil at {node.url}; database {database_url.rsplit('/', 1)[1]}", flush=True)
        env = {**(CAPTURE_ONLY_ENV if args.capture_only else {})}
        if args.workers != 1:
            env["PROVENANCE_GATEWAY_WORKERS"] = str(args.workers)
        gateways = [start_gateway(node.url, database_url, tmp / "data", env=env)]
        gateway = gateways[0]
        try:
            for n in range(1, args.processes):  # the store and contracts exist: share them
                gateways.append(
                    start_gateway(node.url, database_url, tmp / "data", name=f"gateway{n}", env=env)
                )
            regulator_key = (gateway.data_dir / "regulator.api-key").read_text().strip()
            response = httpx.post(
                f"{gateway.url}/participants",
                json=MANUFACTURER.registration(),
                headers={"Authorization": f"Bearer {regulator_key}"},
                timeout=60,
            )
            response.raise_for_status()
            key = response.json()["apiKey"]
            docs = Documents(secrets.token_hex(3).upper(), fmt=args.format)

            # Warm-up (first requests compile the schema validator, open connections...).
            warm = Load()
            for each in gateways:
                client_loop(each.url, key, docs, time.monotonic() + 3, warm)
            if warm.errors:
                raise RuntimeError(f"warm-up failed: {dict(warm.errors)}")
            if not args.capture_only:
                wait_anchored(database_url, 60)

            sessions = {
                "gateway (uvicorn + batcher)" + (f" {n + 1}" if n else ""): each.process.pid
                for n, each in enumerate(gateways)
            }
            sessions["anvil"] = node.pid
            load = Load()
            start = time.monotonic()
            stop_at = start + args.seconds
            cpu_before = cpu_snapshot(sessions)
            batchers_before = sum(children_cpu(each.process.pid) for each in gateways)
            half = max(1, min(args.profile_seconds, args.seconds - 10) // 2)
            profiles: dict[str, list[tuple[str, float]]] = {}
            threads = [
                threading.Thread(
                    target=client_loop,
                    args=(gateways[i % len(gateways)].url, key, docs, stop_at, load),
                    daemon=True,
                )
                for i in range(args.clients)
            ]
            for t in threads:
                t.start()
            if args.profile_seconds > 0:
                time.sleep(min(5, args.seconds / 6))
                spy_dir = Path(args.profile_out) if args.profile_out else tmp
                spy_dir.mkdir(parents=True, exist_ok=True)
                for mode, gil_only in (("wall", False), ("gil", True)):
                    out = spy_dir / f"py-spy-{mode}.txt"
                    spy = profile_gateway(gateway.process.pid, half, out, gil=gil_only)
                    if spy is None:
                        break
                    _, err = spy.communicate(timeout=half + 60)
                    if out.exists():
                        profiles[mode] = summarise_profile(out)
                    else:
                        print(f"py-spy failed: {err.decode()[-500:]}", file=sys.stderr)
            for t in threads:
                t.join()
            posted_until = max(load.ack_times, default=stop_at)
            window = posted_until - start
            cpu_after = cpu_snapshot(sessions)
            batchers_cpu = sum(children_cpu(each.process.pid) for each in gateways)
            batchers_cpu -= batchers_before
            acknowledged = sum(n for _, n in load.acks.values())
            if args.capture_only:
                drain, latencies, stages = float("nan"), [], {}
                gas, txs, per_batch = float("nan"), 0, float("nan")
            else:
                drain = wait_anchored(database_url, 300)
                latencies = anchored_latencies(database_url, load.acks)
                stages = batch_stages(database_url)
                gas, txs, per_batch = gas_per_event(database_url, node.url)
        finally:
            for each in reversed(gateways):
                each.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    rate = acknowledged / window if window > 0 else 0.0
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    cpu = cpu_used(cpu_before, cpu_after)
    gateway_cpu = sum(v for k, v in cpu.items() if k.startswith("gateway"))
    per_event_ms = 1000 * gateway_cpu / max(acknowledged, 1)
    batcher_ms = 1000 * batchers_cpu / max(acknowledged, 1)
    ceiling = 1000 / per_event_ms if per_event_ms > 0 else float("nan")
    gateway_cores = gateway_cpu / window if window > 0 else 0.0
    pg_cores = cpu.get("postgres", 0.0) / window if window > 0 else 0.0
    met_rate = rate >= TARGET_EVENTS_PER_SECOND
    met_p95 = p95 <= TARGET_P95_SECONDS
    command = (
        "`.venv/bin/python -m bench.ingest"
        + (f" --seconds {args.seconds}" if args.seconds != 60 else "")
        + (f" --clients {args.clients}" if args.clients != 2 else "")
        + (f" --processes {args.processes}" if args.processes != 1 else "")
        + (f" --workers {args.workers}" if args.workers != 1 else "")
        + (" --capture-only" if args.capture_only else "")
        + (f" --format {args.format}" if args.format != "json" else "")
        + (f" --profile-seconds {args.profile_seconds}" if args.profile_seconds != 30 else "")
        + "`"
    )
    node_mode = f"--block-time {args.block_time:g}" if args.block_time > 0 else "automine"
    lines = [
        f"Measured {datetime.now(UTC).date()} on {machine_line()}.",
        f"Command: {command} (PostgreSQL at {_server(args.database_url)}, a fresh database, "
        "dropped afterwards).",
        f"Setup: anvil ({node_mode}) on loopback; "
        + (
            "the gateway as `provenance gateway` (uvicorn, "
            + (f"`--workers {args.workers}`" if args.workers != 1 else "one worker")
            if args.processes == 1
            else f"{args.processes} `provenance gateway` processes on the one database, "
            "clients spread over them (each uvicorn, "
            + (f"`--workers {args.workers}`" if args.workers != 1 else "one worker")
        )
        + "; with PostgreSQL and a node the batcher runs in a second process; "
        + (
            "`--capture-only`: batches of 100,000 events / 1 h, so the batchers stay idle and "
            "nothing is anchored during the run"
            if args.capture_only
            else "default batches: 1,000 events or 2 s, a backlog of more than 1,000 sealed "
            "whole in batches of up to 8,000"
        )
        + "); one manufacturer registered through the API; "
        f"{args.clients} httpx clients each posting {WRITTEN_AS[args.format]} of "
        f"{EVENTS_PER_DOCUMENT:,} commissioning ObjectEvents (fresh SGTIN serial each, own "
        "location, lot ILMD; `pharma` rules) back to back for "
        f"{args.seconds} s, after a 3 s warm-up. Clients, gateway, PostgreSQL and anvil share "
        "the 2 cores.",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| events acknowledged (202), sustained | {rate:,.0f}/s ({acknowledged:,} in "
        f"{window:.1f} s) | >= {TARGET_EVENTS_PER_SECOND:,}/s: "
        f"**{'met' if met_rate else 'not met'}** |",
        f"| document round trip (1,000 events), p50 / p95 | "
        f"{percentile(load.latencies, 0.5):.2f} s / {percentile(load.latencies, 0.95):.2f} s | |",
        *(
            []
            if args.capture_only
            else [
                f"| 202 to anchored, per event, p50 / p95 | {p50:.2f} s / {p95:.2f} s "
                f"({len(latencies):,} events) | p95 <= {TARGET_P95_SECONDS:.0f} s: "
                f"**{'met' if met_p95 else 'not met'}** |",
                "| batch steps, median: last capture to sealed / sealed to sent / sent to "
                "anchored | " + " / ".join(f"{v:.2f} s" for v in stages.values()) + " | |",
                f"| backlog drained after posting stopped | {drain:.1f} s | |",
                f"| gas per event | {gas:,.1f} ({txs} anchor txs, "
                f"{per_batch:,.0f} events/batch on average) | |",
            ]
        ),
        f"| errors (non-202) | {sum(load.errors.values())} | 0 |",
        "",
        f"Gateway CPU per acknowledged event (HTTP process and batcher process): "
        f"{per_event_ms:.2f} ms, so one fully busy core would give at most {ceiling:,.0f} "
        f"events/s; during the window the gateway used {gateway_cores:.2f} cores and "
        f"PostgreSQL {pg_cores:.2f}. Capture (validation, hashing, normalisation, rules, the "
        "SQL commit) runs in the HTTP process (each of them, with `--processes`), where "
        "documents about different packs do not wait for each other's custody locks; the "
        "batcher has its own process, so anchoring does not wait for capture's GIL."
        + (
            f" Of the {per_event_ms:.3f} ms, the HTTP process{'es' if len(gateways) > 1 else ''} "
            f"took {per_event_ms - batcher_ms:.3f} ms per event and the batcher "
            f"process{'es' if len(gateways) > 1 else ''} {batcher_ms:.3f} ms ({batchers_cpu:.1f} "
            "CPU s: passes ten times a second, whatever the rate, and the anchors)."
            if args.workers == 1
            else ""
        ),
        "",
        "CPU seconds used during the posting window "
        f"({window:.1f} s wall, so at most {2 * window:.0f} CPU s on 2 cores):",
        "",
        "| process | CPU s | share of 2 cores |",
        "|---|---:|---:|",
        *[
            f"| {name} | {seconds:.1f} | {100 * seconds / (2 * window):.0f}% |"
            for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])
        ],
    ]
    if profiles:
        wall = dict(profiles.get("wall", []))
        gil = dict(profiles.get("gil", []))
        names = sorted(set(wall) | set(gil), key=lambda n: -gil.get(n, wall.get(n, 0.0)))
        lines += [
            "",
            f"Where the HTTP process's time goes (the batcher process is not sampled): py-spy "
            "at 100 Hz (non-blocking) during the run, "
            f"{half} s sampling every non-idle thread (the HTTP event loop, capture worker "
            "threads, the batcher; includes time blocked on PostgreSQL and JSON-RPC sockets), "
            f"then {half} s sampling only the thread holding the GIL (the Python CPU that one "
            "gateway process can spend, at most one core). Each stack goes to the first "
            "matching component, batcher first.",
            "",
            "| component | non-idle threads | GIL holder (CPU) |",
            "|---|---:|---:|",
            *[
                f"| {name} | {wall.get(name, 0.0):.1f}% | {gil.get(name, 0.0):.1f}% |"
                for name in names
            ],
        ]
    if load.errors:
        lines += ["", "Errors: " + "; ".join(f"{k} x{v}" for k, v in load.errors.items())]
    return "\n".join(lines)


def _server(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument(
        "--format", choices=FORMATS, default="json", help="the documents' format (same events)"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="gateway processes on the one database"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="HTTP processes of each gateway (--workers)"
    )
    parser.add_argument(
        "--capture-only", action="store_true", help="batchers idle: capture throughput alone"
    )
    parser.add_argument("--database-url", default=PG_URL, help="a PostgreSQL server URL")
    parser.add_argument("--block-time", type=float, default=1.0, help="anvil; 0: automine")
    parser.add_argument("--profile-seconds", type=int, default=30, help="0: no py-spy")
    parser.add_argument("--profile-out", help="keep py-spy's raw stacks in this file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if (args.processes != 1 or args.workers != 1 or args.capture_only) and not args.no_write:
        parser.error("--processes/--workers/--capture-only runs are recorded by hand: --no-write")
    body = run(args)
    print(body)
    if not args.no_write:
        write_section(SECTIONS[args.format], body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
