"""``provenance up``: the whole network on one machine, in one command, keeping its data.

- **chain**: ganache from ``node_modules``, bound to 127.0.0.1, its database under
  ``<data>/chain`` and its wallet seed in ``<data>/chain/seed`` (0600), so the ledger and the
  funding account survive restarts. ganache runs under a small Node launcher
  (``ganache_launch.cjs``) that reads the seed from that file: never on a command line, which
  every user can read in ``/proc/<pid>/cmdline``. Its log, ``<data>/chain/ganache.log``, is
  0600. ``chain_url`` uses any node instead; ``embedded`` the in-process chain (its data lives
  only as long as the process).
- ``up`` (like every verb that starts a service) first sets umask 077: whatever it or a library
  creates is its owner's only.
- **gateway** (``<data>/gateway``) and **indexer** with its query API (``<data>/indexer``), each
  a uvicorn server in this process; the contracts are deployed once, on the first start, and
  their addresses kept in ``<data>/gateway/deployment.json``.
- SQLite files in the data folder, or one PostgreSQL database for both (``database_url``:
  the indexer's tables are prefixed ``ix_``).

Ctrl-C (or SIGTERM) stops the servers, then the chain, cleanly; running it again resumes.

**Supervision.** The parts live and die together, so nothing is left running on its own:

- ``up`` watches its parts (the chain node's process, the gateway's and the indexer's servers):
  if one ends, ``up`` prints one line naming it, stops the rest (the chain node's whole process
  group included) and exits 1. Run it under a supervisor (systemd, compose) to restart it.
- the chain node dies with ``up`` however ``up`` ends, a SIGKILL or a segfault included
  (servicekit/lifeline.py: the kernel sends it SIGTERM, so it still flushes its database).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO, Protocol

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from chain.client import Chain
from gateway.api.app import create_app as create_gateway_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import GatewayBatchSource
from medledger.errors import ConfigurationError, ProvenanceError
from provenance.startup import port_taken, start_failure
from servicekit.lifeline import describe_exit, parent_death_signal
from servicekit.logs import configure_logging, redact, wants_json

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHAIN_ID = 1337
READY_TIMEOUT_SECONDS = 60.0
#: How often ``up`` looks at its parts.
SUPERVISE_INTERVAL_SECONDS = 0.5
#: How often ``up``'s indexer reads participants' names from its gateway (both local: cheap),
#: unless PROVENANCE_INDEXER_PROFILE_POLL_SECONDS says otherwise; a service alone polls every 60 s.
UP_PROFILE_POLL_SECONDS = 5.0
PROFILE_POLL_VARIABLE = "PROVENANCE_INDEXER_PROFILE_POLL_SECONDS"


DEFAULT_DATA_DIR = Path("data")
#: Libraries whose INFO lines are noise beside one line per request and per anchored batch.
QUIET_LOGGERS = ("httpx", "httpcore", "alembic", "web3", "urllib3", "asyncio")


@dataclass(frozen=True)
class UpOptions:
    #: None: ``data`` (a local or given chain), a temporary folder removed on exit (embedded).
    data_dir: Path | None = None
    chain_url: str | None = None
    embedded: bool = False
    database_url: str | None = None
    host: str = "127.0.0.1"
    chain_port: int = 8545
    gateway_port: int = 8000
    indexer_port: int = 8001
    log_format: str = "auto"


#: Starts ganache programmatically with the seed read from a file (see its header).
GANACHE_LAUNCHER = Path(__file__).with_name("ganache_launch.cjs")


def ganache_package() -> Path:
    """ganache's package folder: the project's node_modules, or the one on PATH."""
    local = PROJECT_ROOT / "node_modules" / "ganache"
    if (local / "package.json").exists():
        return local
    found = shutil.which("ganache")
    if found:  # .../ganache/dist/node/cli.js, through node_modules/.bin's link
        package = Path(found).resolve().parents[2]
        if (package / "package.json").exists():
            return package
    raise ConfigurationError(
        "ganache is not installed: run `make deps` (npm ci), or pass --chain-url or --embedded"
    )


def node_binary() -> Path:
    found = shutil.which("node")
    if found is None:
        raise ConfigurationError(
            "Node.js (node) is not on PATH: install it, or pass --chain-url or --embedded"
        )
    return Path(found)


def configure_up_logging(log_format: str) -> None:
    """INFO on stderr (one line per request, per anchored batch, per warning): text on a
    terminal, JSON lines otherwise (``auto``), or as asked (``text``, ``json``)."""
    configure_logging(json=wants_json(log_format), level="INFO")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def check_ports(options: UpOptions, *, local_chain: bool) -> None:
    """Every port ``up`` will bind is free, before anything starts: else one line naming it."""
    wanted = [("gateway", options.gateway_port), ("indexer", options.indexer_port)]
    if local_chain:
        wanted.insert(0, ("chain", options.chain_port))
    for name, port in wanted:
        taken = port_taken(options.host, port, name, f"--{name}-port")
        if taken:
            raise ConfigurationError(taken)


def wallet_seed_file(folder: Path) -> Path:
    """The file of the chain's wallet seed (the dev funding account), made once, 0600: an
    older, wider one is narrowed. Only its path is ever passed on, never the seed."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "seed"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
    narrow(path)
    return path


def narrow(path: Path) -> None:
    """Make ``path`` owner-only (0600) if group or others may use it (earlier versions)."""
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def owner_only_log(path: Path) -> BinaryIO:
    """``path`` opened for appending, created 0600 (an older, wider file narrowed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


class Part(Protocol):
    """Something ``up`` runs and watches."""

    @property
    def name(self) -> str: ...

    def ended(self) -> str | None:
        """None while it runs, else how it ended (``killed by SIGKILL``, ``stopped``)."""


@dataclass(frozen=True)
class ChainNode:
    """The local chain node's process."""

    url: str
    process: subprocess.Popen[bytes]

    @property
    def name(self) -> str:
        return f"the chain node (ganache, pid {self.process.pid})"

    def ended(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"exited ({describe_exit(code)})"


@contextmanager
def local_chain(folder: Path, host: str, port: int) -> Iterator[ChainNode]:
    """ganache with a persistent database; stopped with SIGTERM so it flushes to disk, and
    sent SIGTERM by the kernel if this process dies first (Linux; see servicekit/lifeline.py).
    Its wallet seed is read by the launcher from ``<folder>/seed``: not in its arguments."""
    command = [
        str(node_binary()), str(GANACHE_LAUNCHER),
        "--ganache", str(ganache_package()),
        "--seed-file", str(wallet_seed_file(folder)),
        "--host", host,
        "--port", str(port),
        "--db-path", str(folder / "db"),
        "--chain-id", str(CHAIN_ID),
        "--default-balance", "10000000",  # ETH per dev account: a faucet for years
    ]  # fmt: skip
    (folder / "db").mkdir(mode=0o700, parents=True, exist_ok=True)
    log = owner_only_log(folder / "ganache.log")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=log,
        start_new_session=True,
        preexec_fn=parent_death_signal(),  # prctl only, between fork and exec
    )
    url = f"http://{host}:{port}"
    try:
        _wait_for_json_rpc(url, process)
        yield ChainNode(url, process)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_for_json_rpc(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigurationError(f"ganache exited ({process.returncode}): see its log")
        with suppress(httpx.HTTPError):
            if httpx.post(url, json=request, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise ConfigurationError(f"the chain at {url} did not answer within {READY_TIMEOUT_SECONDS}s")


class ServerThread:
    """A uvicorn server in a thread (signals stay with the main thread)."""

    def __init__(self, app: FastAPI, host: str, port: int, name: str) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise ConfigurationError(f"{self.thread.name} could not start on {self.url}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise ConfigurationError(f"{self.thread.name} did not answer on {self.url}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def name(self) -> str:
        return f"the {self.thread.name} server ({self.url})"

    def ended(self) -> str | None:
        return None if self.thread.is_alive() else "stopped"


class Network:
    """The gateway and the indexer on one chain, started and stopped together."""

    def __init__(self, options: UpOptions, chain_url: str | None, data_dir: Path) -> None:
        self.options = options
        self.data_dir = data_dir
        gateway_settings = GatewaySettings(
            data_dir=data_dir / "gateway",
            chain_url=chain_url,
            database_url=options.database_url or "",
            host=options.host,
            port=options.gateway_port,
        )
        if options.embedded:  # a throw-away ledger: the development password and fast KDF
            gateway_settings = gateway_settings.allowing_development_password()
        self.gateway = GatewayService(gateway_settings)
        self.gateway_key_file = gateway_settings.data_dir / "regulator.api-key"
        # the indexer gets the gateway's export folder only: its batch-reader key (GET
        # /batches/{root}, GET /participants), never the regulator's
        self.indexer_gateway_key_file = self.gateway.indexer_key_file
        gateway_url = f"http://{options.host}:{options.gateway_port}"
        indexer_settings = IndexerSettings(
            data_dir=data_dir / "indexer",
            chain_url=chain_url,
            database_url=options.database_url or "",
            deployment_file=gateway_settings.resolved_export_dir / "deployment.json",
            gateway_url=gateway_url,
            gateway_api_key_file=self.indexer_gateway_key_file,
            host=options.host,
            port=options.indexer_port,
        )
        if PROFILE_POLL_VARIABLE not in os.environ:  # names shown within seconds of registering
            indexer_settings = indexer_settings.model_copy(
                update={"profile_poll_seconds": UP_PROFILE_POLL_SECONDS}
            )
        chain: Chain = self.gateway.chain
        source = GatewayBatchSource(gateway_url, indexer_settings.gateway_api_key_value())
        self.indexer = IndexerService(
            indexer_settings, chain=chain, deployment=self.gateway.ledger.deployment, source=source
        )
        self.indexer_settings = indexer_settings
        from dashboard.app import mount as mount_pages
        from dashboard.recall_gateway import RecallGateway
        from indexer.api.app import create_app as create_indexer_app

        indexer_app = create_indexer_app(self.indexer)
        # the dashboard's Recall button calls the gateway with the regulator's key, as
        # `provenance recall` does (the indexer's own batch reading never holds it)
        regulator_key = self.gateway.regulator_api_key or _key_in(self.gateway_key_file)
        self.recalls = (
            RecallGateway.over_http(gateway_url, regulator_key) if regulator_key else None
        )
        mount_pages(  # check page, dashboard (chain_url: None embedded)
            indexer_app, node_url=chain_url, recalls=self.recalls
        )
        self.servers = [
            ServerThread(create_gateway_app(self.gateway), options.host,
                         options.gateway_port, "gateway"),
            ServerThread(indexer_app, options.host, options.indexer_port, "indexer"),
        ]  # fmt: skip

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.indexer.stop()
        self.gateway.stop()
        if self.recalls is not None:
            self.recalls.close()

    def summary(self, chain_url: str | None, *, kept: str) -> Table:
        deployment = self.gateway.ledger.deployment
        table = Table(title="Medicine provenance network", show_header=False)
        table.add_column("what", style="bold", no_wrap=True)
        table.add_column("where", overflow="fold")  # paths and keys whole, never cut with …
        table.add_row("chain", f"{chain_url or 'in-process (embedded)'} (id {deployment.chain_id})")
        table.add_row("participant registry", deployment.participant_registry)
        table.add_row("anchor registry", deployment.anchor_registry)
        table.add_row("recall registry", deployment.recall_registry)
        table.add_row("gateway", f"{self.servers[0].url}  (OpenAPI: {self.servers[0].url}/docs)")
        table.add_row("indexer", f"{self.servers[1].url}  (OpenAPI: {self.servers[1].url}/docs)")
        table.add_row("pack check page", f"{self.servers[1].url}/check  (for anyone, no key)")
        table.add_row("dashboard", f"{self.servers[1].url}/dashboard  (sign in with a reader key)")
        table.add_row("regulator key (gateway)", escape(f"{self.gateway_key_file} (0600)"))
        batch_key = self.indexer_gateway_key_file
        table.add_row("indexer's batch-reader key (gateway)", escape(f"{batch_key} (0600)"))
        reader_key = self.indexer_settings.resolved_bootstrap_api_key_file
        table.add_row("reader key (indexer)", escape(f"{reader_key} (0600)"))
        table.add_row("data", escape(f"{self.data_dir} ({kept})"))
        sql = redact(self.options.database_url or "SQLite files in the data folder")
        table.add_row("SQL", escape(sql))
        return table


def supervise(parts: list[Part], stopping: threading.Event) -> str | None:
    """Wait for ``stopping`` or for a part to end; None, or one line naming the part."""
    while not stopping.wait(SUPERVISE_INTERVAL_SECONDS):
        for part in parts:
            ended = part.ended()
            if ended is not None:
                return f"{part.name} {ended}"
    return None


class Progress:
    """Start-up progress, one line per step with the time it took (the first start of a
    network takes 10 to 25 s: ganache, migrations, deploying the contracts)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()

    def step(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.console.print(
            f"[dim]{elapsed:5.1f}s[/dim] {escape(text)}", soft_wrap=True, highlight=False
        )
        self.console.file.flush()


def run_up(options: UpOptions, console: Console | None = None) -> int:
    """Start everything, print the summary, wait for Ctrl-C or SIGTERM, stop everything.

    0 once stopped by a signal; 1 if a part ended on its own (the rest is stopped too); 2 if
    the network could not start (one line naming the cause: a port in use, a database that
    does not answer, a bad setting, an embedded data folder already used)."""
    console = console or Console()
    progress = Progress(console)
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    died: str | None = None
    started = False
    try:
        check_ports(options, local_chain=not (options.embedded or options.chain_url))
        with _chain(options, progress) as (node, data_dir, kept):
            chain_url = node.url if node is not None else options.chain_url
            where = "PostgreSQL" if options.database_url else f"SQLite in {data_dir}"
            progress.step(
                f"opening the stores ({where}) and the contracts (deployed on a first start)"
            )
            network = Network(options, chain_url, data_dir)
            try:
                for server in network.servers:
                    server.start()
                    progress.step(f"{server.thread.name} answers on {server.url}")
                started = True
                console.print(network.summary(chain_url, kept=kept))
                console.print(
                    "[green]up[/green]: one log line per request and per anchored batch "
                    f"follows on stderr; press Ctrl-C to stop ({kept})",
                    soft_wrap=True,
                )
                console.file.flush()  # a log file or pipe sees the summary now
                parts: list[Part] = [*([node] if node is not None else []), *network.servers]
                died = supervise(parts, stopping)
                if died is None:
                    console.print("stopping…")
                else:
                    console.print(f"[red]{died}[/red]: stopping everything", soft_wrap=True)
                console.file.flush()
            finally:
                network.stop()
    except (ProvenanceError, SettingsError, DBAPIError, OSError) as exc:
        if started:
            raise
        console.print(
            "[red]cannot start the network[/red]: "
            + escape(start_failure(exc, options.database_url)),
            soft_wrap=True,
        )
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if died is not None:
        console.print("stopped after a failure; run `provenance up` again to resume")
        return 1
    if options.embedded:
        console.print("stopped; the in-process ledger is gone")
    else:
        console.print("stopped; run `provenance up` again to resume")
    return 0


@contextmanager
def _chain(options: UpOptions, progress: Progress) -> Iterator[tuple[ChainNode | None, Path, str]]:
    """The local chain node this ``up`` runs (None for an embedded chain or ``chain_url``),
    the data folder, and what of it is kept."""
    if options.embedded:
        with _embedded_data(options.data_dir, progress) as (data_dir, kept):
            yield None, data_dir, kept
        return
    data_dir = options.data_dir or DEFAULT_DATA_DIR
    if options.chain_url:
        progress.step(f"using the chain at {redact(options.chain_url)}")
        yield None, data_dir, "data is kept"
        return
    progress.step(f"starting ganache (its database in {data_dir / 'chain'})")
    with local_chain(data_dir / "chain", options.host, options.chain_port) as node:
        progress.step(f"chain answers on {node.url}")
        yield node, data_dir, "data is kept"


@contextmanager
def _embedded_data(given: Path | None, progress: Progress) -> Iterator[tuple[Path, str]]:
    """The in-process chain lives only as long as this process. Its stores and keys go to
    ``given`` (which must hold no earlier network: a new ledger cannot resume one) and stay
    there; without ``given``, to a temporary folder removed when ``up`` ends."""
    if given is not None:
        if given.exists() and any(given.iterdir()):
            raise ConfigurationError(
                f"--embedded starts a new ledger each time, and {given} already holds data: "
                "pass an empty or new --data-dir, or leave it out (a temporary folder)"
            )
        given.mkdir(parents=True, exist_ok=True)
        progress.step(
            f"in-process chain: the ledger lives only as long as this process; its stores "
            f"and keys stay in {given} (receipts then verify offline only)"
        )
        yield given, f"stores and keys kept in {given}; the in-process ledger is not"
        return
    temporary = Path(tempfile.mkdtemp(prefix="provenance-up-"))
    progress.step(
        "in-process chain: nothing is kept; the ledger lives only as long as this process and "
        f"its stores and keys are in {temporary}, removed when it stops (--data-dir keeps them)"
    )
    try:
        yield temporary, "nothing is kept"
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _key_in(path: Path) -> str | None:
    """The key a file holds, or None (missing, unreadable or empty)."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
