"""The gateway's CPU per captured event, in this process: a body's bytes to a committed capture.

What ``POST /capture`` does for a JSON document short of HTTP (uvicorn, routing, the answer's
JSON): the strict JSON parse (:mod:`servicekit.http.strict_json`), then
:meth:`gateway.services.capture.CaptureService.capture` (backlog check, schema, normalisation,
event hash, stored JSON and its re-hash, ``pharma`` rules against the custody view, the SQL
commit) on a fresh PostgreSQL database (``devkit.postgres``). Documents as ``bench.ingest``'s
(1,000 commissioning ObjectEvents of fresh packs, a lot of their own), one after the other.

Measured: this process's CPU time (user + system, ``time.process_time``) per event of each
document after ``--warm`` documents, median and best of ``--documents``; PostgreSQL's own CPU is
not counted (another process), the client side of SQL (SQLAlchemy, psycopg) is. Once the
service is built, the garbage collector's policy is applied as ``provenance gateway`` does
(:mod:`servicekit.gc_policy`; ``--default-gc`` keeps CPython's defaults). Process CPU, not
wall time, so a loaded host slows it less, but it still does (caches, frequency): the
``bench.report.python_loop_seconds`` of the host is printed before and after. ``--profile``
also samples this process with py-spy (GIL holder, 100 Hz) and groups the stacks as
``bench.ingest`` does.

    .venv/bin/python -m bench.capture_cpu [--documents 20] [--warm 2] [--profile] [--default-gc]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.ingest import Documents, profile_gateway, summarise_profile
from bench.report import python_loop_seconds
from devkit.postgres import PG_URL, fresh_database
from gateway.intake import Intake
from gateway.services.capture import CaptureService
from gateway.settings import GatewaySettings
from gateway.store.engine import make_engine, session_factory, upgrade
from gateway.store.participants import create_participant
from medledger.epcis.schema import load_schema
from provenance.journey import MANUFACTURER
from servicekit.gc_policy import tune_for_long_runs
from servicekit.http import strict_json


def _nothing() -> None:
    return None


def measure(
    url: str,
    documents: int,
    warm: int,
    between: Callable[[int], None] = lambda _: None,
    *,
    tune_gc: bool = True,
) -> list[float]:
    """CPU µs per event of each measured document."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    try:
        with sessions() as session:
            maker = create_participant(
                session,
                address="0x" + secrets.token_hex(20),
                name="bench",
                roles=int(MANUFACTURER.roles),
                gln=MANUFACTURER.gln,
                company_prefixes=(MANUFACTURER.company_prefix,),
            )
        service = CaptureService(
            sessions=sessions,
            write_sessions=sessions,
            intake=Intake(load_schema()),
            settings=GatewaySettings(database_url=url),
            wake=_nothing,
        )
        if tune_gc:
            tune_for_long_runs()  # as provenance gateway does once its service is built
        docs = Documents(secrets.token_hex(3).upper())
        per_event: list[float] = []
        for n in range(warm + documents):
            body = docs.next()
            between(n - warm)
            started = time.process_time()
            accepted = service.capture(maker, strict_json.loads(body))
            used = time.process_time() - started
            if accepted.stored != 1000:
                raise RuntimeError(f"stored {accepted.stored} of 1,000 events")
            if n >= warm:
                per_event.append(used * 1e6 / accepted.stored)
        return per_event
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--database-url", default=PG_URL, help="a PostgreSQL server URL")
    parser.add_argument("--profile", action="store_true", help="sample with py-spy too")
    parser.add_argument(
        "--default-gc", action="store_true", help="keep CPython's garbage collector settings"
    )
    args = parser.parse_args(argv)
    loop_before = python_loop_seconds()
    load_before = os.getloadavg()
    spies: list[subprocess.Popen[bytes]] = []
    out = Path(tempfile.mkdtemp(prefix="bench-capture-cpu-")) / "py-spy-gil.txt"

    def start_spy(n: int) -> None:
        if args.profile and n == 0:
            spy = profile_gateway(os.getpid(), 3600, out, gil=True)
            if spy is not None:
                spies.append(spy)
                time.sleep(1)

    with fresh_database(args.database_url, prefix="bench_capture_cpu") as url:
        per_event = measure(url, args.documents, args.warm, start_spy, tune_gc=not args.default_gc)
    for spy in spies:
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
        spy.wait(timeout=60)
    loop_after = python_loop_seconds()
    load_after = os.getloadavg()
    print(
        f"CPU per event: median {statistics.median(per_event):.1f} µs, best "
        f"{min(per_event):.1f} µs ({len(per_event)} documents of 1,000 events); "
        f"python_loop_seconds {loop_before:.2f} -> {loop_after:.2f}; load average "
        f"{load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    if spies and out.exists():
        for name, share in summarise_profile(out):
            print(f"  {name}: {share:.1f}%")
        print(f"  (raw stacks: {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
