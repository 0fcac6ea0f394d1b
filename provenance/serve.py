"""``provenance gateway``: settings from the environment, the service, and uvicorn.

With PostgreSQL and a JSON-RPC node the batcher runs in a process of its own (the capture path
and the batcher then each have a Python interpreter, so one core's GIL no longer limits both, and
anchoring latency does not depend on how busy capture is). SQLite (one writer process) and the
in-process chain (it lives in this process) keep the batcher as a thread of the server.

The two processes live and die together: the batcher follows its parent (servicekit/lifeline.py: it
stops when the server process is gone, even after a SIGKILL or a segfault), and the server
watches the batcher: if it dies, the server stops and exits 1, so a supervisor (compose's
``restart:``, systemd) starts both again rather than serving captures that are never anchored.

The batcher process is started first (forked where possible, so it needs no imports), waits
until the server has set up the store and the contracts, builds only a batcher
(:func:`gateway.startup.standalone_batcher`) and makes its first pass at once (issue 21: the
first anchor after a restart came 4-6 s after HTTP readiness, most of it a spawned interpreter
importing web3 and the gateway again and building a whole service).

``--workers N`` (PostgreSQL and a node only): N HTTP server processes share one listening socket,
bound by this process, which then only sets up the store and watches them (issue 19). They are
forked like the batcher, before anything is built, and build their services one at a time once
the store is ready; the first also delivers webhooks (one deliverer, so no notification goes out
twice). Any of them or the batcher dying stops the lot, exit 1, as above; captures of different
packs run side by side in them (gateway/store/custody_locks.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from multiprocessing.synchronize import Event as EventType
from multiprocessing.synchronize import Lock as LockType
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.startup import standalone_batcher
from medledger.errors import ProvenanceError
from provenance.signals import serve_until_stopped
from provenance.startup import port_taken, start_failure
from servicekit import lifeline
from servicekit.gc_policy import tune_for_long_runs
from servicekit.lifeline import describe_exit
from servicekit.logs import configure_logging, wants_json

log = logging.getLogger("provenance.gateway.batcher")

#: The batcher process polls this often (capture cannot wake it across processes).
BATCHER_PROCESS_INTERVAL = 0.1
#: How the batcher process is started: forked where possible, before the server builds its
#: service (no thread, no connection yet), so it starts with every module already imported
#: (a spawned interpreter spends seconds importing web3 and the gateway again).
START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def batcher_in_own_process(settings: GatewaySettings) -> bool:
    backend = make_url(settings.resolved_database_url).get_backend_name()
    return backend == "postgresql" and settings.chain_url is not None


def run_batcher_process(settings: GatewaySettings, store_ready: EventType) -> None:
    """The batcher alone, until SIGTERM, once the server has set ``store_ready`` (it has
    migrated the store, deployed the contracts and written the deployment file)."""
    # Ctrl-C reaches the whole process group; the server stops first and then this process
    # (SIGTERM), so a batcher that ends before the server has died (the server exits 1).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM when the server process is gone: until the handler below, that ends this process
    # at once (nothing to clean up yet), then the batcher finishes its step.
    lifeline.follow_parent()
    configure_logging(json=wants_json(settings.log_format))
    store_ready.wait()
    standalone = standalone_batcher(settings)
    batcher = standalone.batcher

    def stop(_signum: int, _frame: object) -> None:
        batcher.stop()

    signal.signal(signal.SIGTERM, stop)
    log.info("batcher process started; it stops with the gateway's process %d", os.getppid())
    try:
        batcher.run(interval=BATCHER_PROCESS_INTERVAL)  # the first pass at once
    finally:
        standalone.stop()


def workers_problem(settings: GatewaySettings) -> str | None:
    """Why ``settings.workers`` processes cannot serve (None: they can)."""
    if settings.workers == 1:
        return None
    if not batcher_in_own_process(settings):
        return (
            f"--workers {settings.workers} needs PostgreSQL (--database-url) and a node "
            "(--chain-url): SQLite has one writer and the in-process chain lives in one process"
        )
    return None


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket every HTTP worker accepts on (bound here, inherited by the forked workers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_http_worker(
    settings: GatewaySettings,
    sock: socket.socket,
    store_ready: EventType,
    building: LockType,
    number: int,
) -> None:
    """One HTTP server process of ``--workers``: its own service (built once the store is ready,
    one worker at a time), serving on the shared socket until SIGTERM or its parent is gone."""
    lifeline.follow_parent()
    configure_logging(json=wants_json(settings.log_format))
    store_ready.wait()
    with building:
        service = GatewayService(settings)
    tune_for_long_runs()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service, run_batcher=False, run_deliverer=number == 0),
            log_level="info",
            log_config=None,
            access_log=False,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        service.stop()


def run_gateway(overrides: dict[str, Any], console: Console | None = None) -> int:
    console = console or Console(stderr=True, soft_wrap=True)
    temporary: Path | None = None  # the in-process chain's throw-away folder, removed on exit
    try:
        settings = GatewaySettings(**overrides)
        if settings.chain_url is None and "data_dir" not in settings.model_fields_set:
            # The in-process chain is new each run, so its store must be too (a data folder
            # set by option or PROVENANCE_GATEWAY_DATA_DIR is the user's choice and kept).
            temporary = Path(tempfile.mkdtemp(prefix="provenance-gateway-"))
            settings = GatewaySettings(**{**overrides, "data_dir": temporary})
    except SettingsError as exc:
        console.print(f"[red]cannot start the gateway[/red]: {escape(start_failure(exc, None))}")
        return 2
    taken = port_taken(settings.host, settings.port, "gateway", "--port")
    if taken:
        console.print(f"[red]cannot start the gateway[/red]: {escape(taken)}")
        return 2
    problem = workers_problem(settings)
    if problem:
        console.print(f"[red]cannot start the gateway[/red]: {escape(problem)}")
        return 2
    configure_logging(json=wants_json(settings.log_format))
    batcher: multiprocessing.process.BaseProcess | None = None
    store_ready: EventType | None = None
    if batcher_in_own_process(settings):
        # Started first, so its start-up overlaps the server's; it waits for store_ready.
        context = multiprocessing.get_context(START_METHOD)
        store_ready = context.Event()
        batcher = context.Process(  # type: ignore[attr-defined]
            target=run_batcher_process, args=(settings, store_ready), name="provenance-batcher"
        )
        batcher.start()
        if settings.capture_niceness and hasattr(os, "nice"):
            os.nice(settings.capture_niceness)  # this process and the HTTP workers it forks
    workers: list[multiprocessing.process.BaseProcess] = []
    if settings.workers > 1 and store_ready is not None:
        context = multiprocessing.get_context(START_METHOD)
        sock = listening_socket(settings.host, settings.port)
        building = context.Lock()
        for number in range(settings.workers):
            worker = context.Process(  # type: ignore[attr-defined]
                target=run_http_worker,
                args=(settings, sock, store_ready, building, number),
                name=f"provenance-gateway-{number}",
            )
            worker.start()
            workers.append(worker)
        sock.close()  # the workers hold it
    try:
        service = GatewayService(settings)
    except (ProvenanceError, DBAPIError) as exc:
        reason = start_failure(exc, settings.database_url or None)
        console.print(f"[red]cannot start the gateway[/red]: {escape(reason)}")
        _end_all([*workers, batcher])
        return 2
    except BaseException:
        _end_all([*workers, batcher])
        raise
    if store_ready is not None:
        store_ready.set()
    if workers:
        service.stop()  # it set up the store, contracts and keys; the workers serve
        console.print(
            f"gateway on http://{settings.host}:{settings.port} (OpenAPI at /docs): "
            f"{len(workers)} HTTP worker processes "
            f"(pids {', '.join(str(w.pid) for w in workers)})"
        )
        if batcher is not None:
            console.print(f"batcher in its own process (pid {batcher.pid})")
        return supervise([*workers, *([batcher] if batcher is not None else [])], console)
    stopping, died, interrupted = threading.Event(), threading.Event(), threading.Event()
    # From here on Ctrl-C never raises inside our code (a KeyboardInterrupt in the middle of the
    # app's construction or a lock left held hung the stop under load): it is noted, uvicorn
    # takes the signal over while it runs and hands it back when it ends, and the finally below
    # stops the service and removes the folder.
    previous_sigint = _note_sigint(interrupted)
    try:
        if service.chain.kind == "embedded":
            console.print(
                "[yellow]in-process chain: anchors live only as long as this process; "
                "use --chain-url for a persistent node[/yellow]"
                + (f" (its store and keys: {temporary}, removed on exit)" if temporary else "")
            )
        console.print(
            f"gateway on http://{settings.host}:{settings.port} (OpenAPI at /docs); "
            f"anchor registry {service.ledger.anchors.address} on chain "
            f"{service.chain.chain_id}"
        )
        if service.regulator_api_key:
            console.print(f"regulator API key written to {settings.data_dir / 'regulator.api-key'}")
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(service, run_batcher=batcher is None),
                host=settings.host,
                port=settings.port,
                log_level="info",
                log_config=None,  # logging is configured above (servicekit/logs.py)
                access_log=False,  # the app logs one line per request, with its request id
            )
        )
        if batcher is not None:
            console.print(f"batcher in its own process (pid {batcher.pid})")
            threading.Thread(
                target=_stop_if_gone, args=(batcher, server, stopping, died, console), daemon=True
            ).start()
        tune_for_long_runs()
        if not interrupted.is_set():
            serve_until_stopped(server)
    finally:
        stopping.set()
        service.stop()
        _end(batcher)
        if temporary is not None:
            _remove(temporary)
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
    if died.is_set():
        return 1
    return 130 if interrupted.is_set() else 0  # 130: ended by Ctrl-C, as a shell reports it


def _note_sigint(interrupted: threading.Event) -> Any:
    """SIGINT sets ``interrupted`` instead of raising; the handler it replaced (None off the main
    thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def note(_signum: int, _frame: object) -> None:
        interrupted.set()

    return signal.signal(signal.SIGINT, note)


def supervise(children: list[multiprocessing.process.BaseProcess], console: Console) -> int:
    """Wait for ``children``: 0 once SIGINT or SIGTERM stopped them all, 1 if one died first
    (the others are then stopped: a supervisor restarts the gateway whole)."""
    stopping = threading.Event()

    def stop(_signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    died: multiprocessing.process.BaseProcess | None = None
    try:
        while not stopping.is_set():
            ended = wait([c.sentinel for c in children], timeout=0.2)
            if ended and not stopping.is_set():
                died = next(c for c in children if c.sentinel in ended)
                died.join()
                console.print(
                    f"[red]{died.name} (pid {died.pid}) exited "
                    f"({describe_exit(died.exitcode)}): stopping the gateway[/red]",
                    soft_wrap=True,
                )
                break
    finally:
        _end_all(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if died is not None else 0


def _end_all(children: Sequence[multiprocessing.process.BaseProcess | None]) -> None:
    """SIGTERM to every child still running, then wait for each (SIGKILL after 30 s)."""
    for child in children:
        if child is not None and child.is_alive():
            child.terminate()
    for child in children:
        _end(child)


def _remove(folder: Path, attempts: int = 10) -> None:
    """Remove ``folder``, again if a thread still stopping wrote into it meanwhile."""
    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.2)


def _end(batcher: multiprocessing.process.BaseProcess | None) -> None:
    """Stop the batcher process: SIGTERM (it finishes its step, releases its leases), then
    SIGKILL after 30 s."""
    if batcher is None:
        return
    if batcher.is_alive() and batcher.pid is not None:
        batcher.terminate()
    batcher.join(timeout=30)
    if batcher.is_alive():
        batcher.kill()
        batcher.join()


def _stop_if_gone(
    batcher: multiprocessing.process.BaseProcess,
    server: uvicorn.Server,
    stopping: threading.Event,
    died: threading.Event,
    console: Console,
) -> None:
    """Wait for the batcher process to end; unless the server is stopping anyway, stop it
    (cleanly, as on SIGTERM) and make the command exit 1."""
    wait([batcher.sentinel])
    if stopping.is_set():
        return
    batcher.join()  # reaped: its exit code is known
    died.set()
    console.print(
        f"[red]the batcher process (pid {batcher.pid}) exited "
        f"({describe_exit(batcher.exitcode)}): stopping the gateway[/red]",
        soft_wrap=True,
    )
    server.should_exit = True
