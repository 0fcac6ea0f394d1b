"""The recall scope alone, timed against an index that is already loaded (no chain, no catch-up).

``bench.index --keep-database`` leaves its index in a database named by the data set
(``bench_index_v1_e1000000_p100000_l10000_b1000`` for the default one); this times the scope of
its 10,000-pack lots in the same order ``bench.index`` picks them, a way per ``--how``:

- ``dicts``: :func:`indexer.queries.recalls.scope`, rows to dictionaries, nothing serialised
  (what ``bench.index`` measured up to commit ab9fb4f);
- ``fastapi``: those dictionaries validated against ``RecallScope`` and dumped to JSON bytes,
  as FastAPI does with a route's returned dictionaries (the server's work before ab9fb4f);
- ``body``: :func:`indexer.queries.recalls.scope_body`, the JSON body as the route sends it;
- ``http``: ``GET /recalls/{gtin}/{lot}/scope?limit=10000`` through the query API's ASGI app
  in this process (routing, key check, session, query, body; no socket, no client parsing).

Each call on its own transaction, after 5 warm-up calls; the time the cyclic garbage collector
spent inside each call is measured too (``gc.callbacks``), so a tail that is collection shows.
``--ballast N`` keeps N small tracked objects alive first, like the state ``bench.index``'s
process holds when it measures (collections of the oldest generation walk all of them).

On a shared machine wall times follow the load; the CPU a call costs does much less, so it is
given too: this process's (``time.process_time``) plus that of the PostgreSQL backends serving
it (``/proc``, 10 ms ticks: a mean over the calls, not a percentile). Their sum is about what
one call takes on an idle machine.

    .venv/bin/python -m bench.scope [--how body --how fastapi] [--samples 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.index import ms, percentile
from bench.index_data import Params
from devkit.postgres import PG_URL
from gateway.store.engine import make_engine, session_factory

HOWS = ("dicts", "fastapi", "body", "http")
APPLICATION = "bench-scope"  # application_name of this script's connections


class GcClock:
    """Seconds the cyclic collector ran (and collections per generation) since ``reset``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]


def lots_of(params: Params, samples: int, seed: int = 4, packs: int = 300) -> list[tuple[str, str]]:
    """The lots ``bench.index`` times (``--samples 300``: 30 lots), in its order, then more."""
    from bench.index_data import _lot_key

    lots = [_lot_key(params, n) for n in range(params.lots)]
    rng = random.Random(seed)
    rng.sample(range(params.packs), min(packs, params.packs))  # bench.index's sample of packs
    return [rng.choice(lots) for _ in range(samples)]


def calls(how: str, url: str) -> Callable[[Session, tuple[str, str]], Any]:
    from indexer.queries.recalls import scope, scope_body

    if how == "dicts":
        return lambda s, lot: scope(s, lot[0], lot[1], limit=10_000)
    if how == "body":
        return lambda s, lot: scope_body(s, lot[0], lot[1], limit=10_000)
    if how == "fastapi":
        from pydantic import TypeAdapter

        from indexer.api.schemas import RecallScope

        adapter = TypeAdapter(RecallScope)

        def validated(s: Session, lot: tuple[str, str]) -> bytes:
            page = scope(s, lot[0], lot[1], limit=10_000)
            return adapter.dump_json(adapter.validate_python(page.to_json()))

        return validated
    return http_call(url)


def http_call(url: str) -> Callable[[Session, tuple[str, str]], Any]:
    """A GET of the scope through the real route, dependencies and key check (a key is issued
    in the bench database), the ASGI app called directly."""
    from fastapi import FastAPI

    from indexer.api import routes
    from indexer.api.deps import get_service
    from indexer.reader_keys import ReaderKeys
    from servicekit.http.problems import install_problem_handlers

    engine = make_engine(url)
    sessions = session_factory(engine)
    keys = ReaderKeys()
    with sessions() as session:
        token = keys.issue(session, "bench-scope", "auditor")
    service = SimpleNamespace(sessions=sessions, api_keys=keys)
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(routes.recall)
    app.dependency_overrides[get_service] = lambda: service
    headers = [(b"authorization", f"Bearer {token}".encode())]

    async def get(path: str) -> tuple[int, bytes]:
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"limit=10000",
            "headers": headers,
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
        }
        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body

    loop = asyncio.new_event_loop()

    def call(_session: Session, lot: tuple[str, str]) -> bytes:
        status, body = loop.run_until_complete(get(f"/recalls/{lot[0]}/{lot[1]}/scope"))
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        return body

    return call


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(session: Session) -> list[int]:
    """The PostgreSQL backends of this script's connections."""
    rows = session.execute(
        text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
        {"name": APPLICATION},
    )
    return [int(pid) for (pid,) in rows]


@dataclass
class Run:
    times: list[float]  # wall seconds per call
    in_gc: list[float]  # of which the garbage collector
    full: int  # collections of the oldest generation
    client_cpu: float  # mean CPU seconds per call, this process
    server_cpu: float  # mean CPU seconds per call, its PostgreSQL backends


def measure(how: str, url: str, lots: list[tuple[str, str]], clock: GcClock) -> Run:
    fn = calls(how, url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    times: list[float] = []
    in_gc: list[float] = []
    full = 0
    with sessions() as session:
        for lot in lots[:5]:
            fn(session, lot)
            session.rollback()
        pids = backends(session)
        session.rollback()
        client, server = time.process_time(), sum(cpu_of(p) for p in pids)
        for lot in lots:
            clock.reset()
            started = time.perf_counter()
            fn(session, lot)
            times.append(time.perf_counter() - started)
            in_gc.append(clock.seconds)
            full += clock.collections[2]
            session.rollback()
        client = time.process_time() - client
        server = sum(cpu_of(p) for p in pids) - server
    engine.dispose()
    return Run(times, in_gc, full, client / len(lots), server / len(lots))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--packs", type=int, default=100_000)
    parser.add_argument("--database-url", default=PG_URL, help="the PostgreSQL server")
    parser.add_argument("--database", help="default: bench.index's kept database")
    parser.add_argument("--how", action="append", choices=HOWS, help="default: all")
    parser.add_argument("--samples", type=int, default=30, help="lots per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, ways interleaved")
    parser.add_argument("--ballast", type=int, default=0, help="tracked objects kept alive")
    parser.add_argument(
        "--gc", choices=("on", "freeze", "off"), default="on", help="the collector while timing"
    )
    args = parser.parse_args(argv)
    params = Params(events=args.events, packs=args.packs)
    name = args.database or f"bench_index_{params.key.replace('-', '_')}"
    url = (
        make_url(args.database_url)
        .set(database=name)
        .update_query_dict({"application_name": APPLICATION})
        .render_as_string(hide_password=False)
    )
    lots = lots_of(params, args.samples)
    ballast = [[i] for i in range(args.ballast)]
    clock = GcClock()
    if args.gc == "freeze":
        gc.collect()
        gc.freeze()
    elif args.gc == "off":
        gc.disable()
    hows = args.how or list(HOWS)
    print(f"{name}: {len(lots)} lots x {args.rounds} rounds, gc {args.gc}, ballast {len(ballast)}")
    print(f"load average {os.getloadavg()[0]:.1f} (1 min) at the start")
    runs: dict[str, list[Run]] = {h: [] for h in hows}
    for n in range(args.rounds):
        for how in hows:
            run = measure(how, url, lots, clock)
            runs[how].append(run)
            print(
                f"round {n + 1} {how:8} p50 {ms(percentile(run.times, 0.5)):>9} "
                f"p95 {ms(percentile(run.times, 0.95)):>9} max {ms(max(run.times)):>9}  "
                f"gc/call {ms(statistics.mean(run.in_gc)):>8} (full {run.full:>2})  "
                f"cpu/call {ms(run.client_cpu):>8} + pg {ms(run.server_cpu):>8}",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.1f} (1 min) at the end")
    print("median over rounds:")
    for how, done in runs.items():
        p50 = statistics.median(percentile(r.times, 0.5) for r in done)
        p95 = statistics.median(percentile(r.times, 0.95) for r in done)
        collected = statistics.median(statistics.mean(r.in_gc) for r in done)
        client = statistics.median(r.client_cpu for r in done)
        server = statistics.median(r.server_cpu for r in done)
        print(
            f"  {how:8} p50 {ms(p50):>9} p95 {ms(p95):>9}  gc/call {ms(collected):>8}  "
            f"cpu/call {ms(client):>8} + pg {ms(server):>8} = {ms(client + server):>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
