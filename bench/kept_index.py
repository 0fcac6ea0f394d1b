"""The kept 1,000,000-event bench index, opened again for timing requests over HTTP in-process.

``python -m bench.index --keep-database --database-name bench_query_1m --lag-seconds 0
--profile-seconds 0 --no-write`` builds the index once (data set from the cache, anchored on a
throw-away anvil, caught up) and keeps its database. :func:`open_index` opens it with no catch-up:
an anvil of its own (the indexer reads the chain's head for its lag; the contracts deployed
there again: the index's participants are the data set's, their keys derived from it), an
:class:`~indexer.service.IndexerService` over the kept database (its migrations applied, so a
new index lands on the kept data), the query API's app with the dashboard mounted, and an
``httpx.AsyncClient`` on ``httpx.ASGITransport``: every request goes through the real routing,
middleware, key check, query and serialisation, and the time of a call is until the response
body is complete, in this process (no socket, no server loop in between).

The CPU a call costs is measured too: this process's (``time.process_time``, the threadpool
the sync routes run on included) and that of the PostgreSQL backends of the app's connections
(named by ``application_name``), 10 ms ticks, so a mean per call, not a percentile.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.index import kept_name, percentile
from bench.index_data import PRODUCT_REFS, Params, _lot_key, _lot_size, start_chain
from bench.report import python_loop_seconds
from chain.client import Chain
from dashboard.app import mount
from devkit.nodes import running_node
from indexer.api.app import create_app
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from provenance.journey import MANUFACTURER

APPLICATION = "bench-query"  # application_name of the app's connections
BUILD = (
    "`.venv/bin/python -m bench.index --keep-database --database-name bench_query_1m "
    "--lag-seconds 0 --profile-seconds 0 --no-write` (about 10 minutes on a loaded host: the "
    "data set, from PROVENANCE_BENCH_CACHE when made before, anchored, caught up), then "
    "`VACUUM ANALYZE` once (`--vacuum`: what autovacuum does on a server where it is on; it is "
    "off on this one, and without it no index-only scan skips the table)"
)


@dataclass
class Timings:
    """Wall seconds per call, and the mean CPU per call of this process and of PostgreSQL."""

    seconds: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)


@dataclass
class Host:
    """How loaded the host was: 1-minute load average and the Python loop's seconds
    (``bench.report.python_loop_seconds``), at the start and at the end."""

    load: list[float] = field(default_factory=list)
    loop: list[float] = field(default_factory=list)

    def sample(self) -> None:
        self.load.append(os.getloadavg()[0])
        self.loop.append(python_loop_seconds())

    def line(self) -> str:
        loads = " / ".join(f"{v:.1f}" for v in self.load)
        loops = " / ".join(f"{v:.2f} s" for v in self.loop)
        return (
            f"1-minute load average {loads} (start / end; 2 cores, shared with other work), "
            f"a 10,000,000-step Python loop {loops} (`bench.report.python_loop_seconds`)"
        )


@dataclass
class KeptIndex:
    params: Params
    name: str
    service: IndexerService
    app: FastAPI
    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    url: str

    def issue(self, name: str, role: str, participant: str | None = None) -> str:
        """A reader key, committed in the kept database."""
        with self.service.write_sessions() as session, session.begin():
            issued = self.service.api_keys.issue_key(
                session, f"bench-query {name}", role, participant=participant
            )
        return issued.token

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(path, **kwargs))

    def backends(self) -> list[int]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
                        "AND pid <> pg_backend_pid()"
                    ),
                    {"name": APPLICATION},
                )
                return [int(pid) for (pid,) in rows]
        finally:
            engine.dispose()

    def time(
        self, calls: list[Callable[[], Awaitable[Any]]], *, warm: int = 3
    ) -> tuple[Timings, list[Any]]:
        """Each call once (after ``warm`` of them untimed), its wall time and the CPU per call."""
        results: list[Any] = []
        for call in calls[:warm]:
            self.loop.run_until_complete(call())
        pids = self.backends()
        out = Timings()
        client, server = time.process_time(), sum(_cpu_of(p) for p in pids)
        for call in calls:
            started = time.perf_counter()
            results.append(self.loop.run_until_complete(call()))
            out.seconds.append(time.perf_counter() - started)
        out.client_cpu = (time.process_time() - client) / max(len(calls), 1)
        out.server_cpu = (sum(_cpu_of(p) for p in pids) - server) / max(len(calls), 1)
        return out, results


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_url(server: str, name: str) -> str:
    return (
        make_url(server)
        .set(database=name)
        .update_query_dict({"application_name": APPLICATION})
        .render_as_string(hide_password=False)
    )


def exists(server: str, name: str) -> bool:
    engine = create_engine(server)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            return found.scalar() is not None
    finally:
        engine.dispose()


def vacuum(url: str) -> None:
    """``VACUUM ANALYZE`` the whole index (once after the catch-up)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


@contextmanager
def open_index(
    params: Params, server: str, name: str | None = None, *, vacuumed: bool = False
) -> Iterator[KeptIndex]:
    """The kept index of ``params`` (``name``: its database, default ``bench.index``'s);
    ``vacuumed``: ``VACUUM ANALYZE`` it first."""
    name = name or kept_name(params)
    if not exists(server, name):
        raise SystemExit(f"no database {name}: build it first with {BUILD}")
    url = database_url(server, name)
    if vacuumed:
        vacuum(url)
    work = Path(tempfile.mkdtemp(prefix="bench-query-"))
    with running_node("anvil", ["--gas-limit", "100000000"]) as node:
        chain = Chain.from_url(node.url)
        anchoring = start_chain(chain, params)
        settings = IndexerSettings(
            data_dir=work,
            database_url=url,
            chain_url=node.url,
            batch_dir=work,
            start_block=anchoring.deployment.deployed_at_block,
        )
        service = IndexerService(
            settings, chain=chain, deployment=anchoring.deployment, source=FolderBatchSource(work)
        )
        app = create_app(service, follow=False)
        mount(app, node_url=node.url)
        loop = asyncio.new_event_loop()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench.local"
        )
        kept = KeptIndex(params, name, service, app, client, loop, url)
        try:
            yield kept
        finally:
            loop.run_until_complete(client.aclose())
            loop.close()
            service.stop()
            service.engine.dispose()


def pack_of(params: Params, lot: int, serial: int) -> str:
    """The SGTIN URN of pack ``serial`` of lot number ``lot`` (bench/index_data.py's naming)."""
    item_ref = PRODUCT_REFS[lot % len(PRODUCT_REFS)]
    return f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{item_ref}.L{lot:05d}S{serial:06d}"


def lot_class(params: Params, lot: int) -> str:
    """The LGTIN class URN of lot number ``lot``."""
    item_ref = PRODUCT_REFS[lot % len(PRODUCT_REFS)]
    return f"urn:epc:class:lgtin:{MANUFACTURER.company_prefix}.{item_ref}.L{lot:05d}"


def lot_key(params: Params, lot: int) -> tuple[str, str]:
    """(GTIN, lot) of lot number ``lot``."""
    return _lot_key(params, lot)


def lot_size(params: Params, lot: int) -> int:
    return _lot_size(params, lot)
