"""The floor under capture: the gateway's own per-event work alone, and a bare COPY of the rows.

The events of ``bench.ingest`` (:class:`bench.ingest.Documents`: JSON EPCISDocuments of 1,000
commissioning ObjectEvents, fresh packs each) go through what :meth:`gateway.intake.Intake.capture`
does to a body before any SQL (:func:`intake_work`: the strict JSON parse, the schema,
normalisation, the event hashes, the JSON each event is stored as and its re-hash), with no
store, no rules against custody and no HTTP:

1. in one process for ``--seconds``, then in two processes side by side (``multiprocessing``,
   each its own documents, made before the window opens, and its own ``--seconds``), with the
   garbage collector's policy of ``provenance gateway``: events/s of each run, this work's CPU
   per event, and what the second process adds when a core is free for it (issue 19: >= 60% of
   the first's throughput);
2. a bare ``COPY`` of the same events' rows (the columns of the gateway's ``events`` table, no
   index, constraint or partition) into a scratch table of a fresh database
   (:func:`devkit.postgres.fresh_database`), one document per transaction, for ``--seconds``:
   events/s over the COPY and its commit, this process's CPU and PostgreSQL's (every
   ``postgres`` process, :func:`bench.ingest.postgres_cpu`) per event.

Together they are the unavoidable work of a capture on this machine; the full pipeline
(``bench.ingest``, ``bench.capture_cpu``) adds rules, custody, SQL round trips and HTTP to it.

    .venv/bin/python -m bench.floor [--seconds 20] [--no-write]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import psycopg
from sqlalchemy.engine import make_url

from bench.ingest import EVENTS_PER_DOCUMENT, Documents, cpu_used, postgres_cpu
from bench.report import machine_line, python_loop_seconds, write_section
from devkit.postgres import PG_URL, fresh_database
from gateway.intake import event_records, prepare, split_declarations
from gateway.store.capture import EventRecord
from medledger.custody.timebounds import DEFAULT_TIME_BOUNDS, require_not_ahead
from medledger.epcis.schema import EpcisSchema, load_schema
from servicekit.gc_policy import tune_for_long_runs
from servicekit.http import strict_json

SECTION = "Ingest: floor"
#: What the second process must add, as a share of the first's throughput (issue 19).
TARGET_GAIN = 0.60
#: Documents each process runs before its window (the schema validator compiled, caches warm).
WARM_DOCUMENTS = 2
#: A bare table with the columns of the gateway's ``events`` (gateway/store/models.py EventRow).
SCRATCH_TABLE = (
    "CREATE TABLE floor_events (event_id varchar(255) NOT NULL, event_hash bytea NOT NULL, "
    "salt bytea NOT NULL, participant varchar(42) NOT NULL, capture_id uuid NOT NULL, "
    "raw text NOT NULL, event_time timestamptz NOT NULL, type varchar(64) NOT NULL, "
    "biz_step varchar(255), batch_id bigint, received_at timestamptz NOT NULL)"
)
COPY = (
    "COPY floor_events (event_id, event_hash, salt, participant, capture_id, raw, event_time, "
    "type, biz_step, received_at) FROM STDIN"
)


def intake_work(body: bytes, schema: EpcisSchema, now: datetime) -> list[EventRecord]:
    """A JSON body to the records the gateway would store, as :meth:`Intake.capture` makes them
    before its SQL transaction (no master data in these documents, no rules: they need the
    store)."""
    events, normalised, event_ids = prepare(strict_json.loads(body), schema)
    events, _ = split_declarations(events, event_ids)
    require_not_ahead(normalised, now, DEFAULT_TIME_BOUNDS.ahead)
    return event_records(events, normalised, event_ids)


@dataclass(frozen=True)
class Run:
    """One process's window: events done, wall seconds, this process's CPU seconds."""

    events: int
    seconds: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / self.events

    @property
    def cores(self) -> float:
        """The share of a core the process had: under 1 if something else took the rest."""
        return self.cpu / self.seconds


def _intake_process(
    seconds: float, ready: Barrier, results: Queue[tuple[int, float, float]]
) -> None:
    schema = load_schema()
    tune_for_long_runs()  # as provenance gateway does once its service is built
    docs = Documents(secrets.token_hex(3).upper())
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _ in range(WARM_DOCUMENTS):
        intake_work(docs.next(), schema, now)
    per_document = (time.perf_counter() - started) / WARM_DOCUMENTS
    # Every document made beforehand (fresh serials each: no cache answers for another), enough
    # for the window at half again the warm-up's pace.
    bodies = [docs.next() for _ in range(math.ceil(1.5 * seconds / per_document) + 2)]
    ready.wait()
    events = 0
    cpu, wall = time.process_time(), time.perf_counter()
    stop_at = wall + seconds
    for body in bodies:
        events += len(intake_work(body, schema, now))
        if time.perf_counter() >= stop_at:
            break
    results.put((events, time.perf_counter() - wall, time.process_time() - cpu))


def side_by_side(processes: int, seconds: float) -> list[Run]:
    """:func:`intake_work` in ``processes`` processes at once, each for ``seconds``."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes)
    results: Queue[tuple[int, float, float]] = context.Queue()
    workers = [
        context.Process(target=_intake_process, args=(seconds, ready, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        runs = [Run(*results.get(timeout=seconds + 600)) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    return runs


@dataclass(frozen=True)
class CopyRun:
    """The COPYs of a run: events, wall seconds (COPY and commit), CPU seconds of this process
    and of PostgreSQL during them."""

    events: int
    seconds: float
    cpu: float
    postgres: float


def copy_floor(url: str, seconds: float) -> CopyRun:
    """Each document's records COPYed into a bare table and committed, for ``seconds``; only
    the COPY and its commit are timed (the records are made between them)."""
    schema = load_schema()
    docs = Documents(secrets.token_hex(3).upper())
    participant = "0x" + secrets.token_hex(20)
    now = datetime.now(UTC)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    events, wall, cpu, postgres = 0, 0.0, 0.0, 0.0
    with psycopg.connect(conninfo) as connection:
        connection.execute(SCRATCH_TABLE)
        connection.commit()
        stop_at = time.monotonic() + seconds
        warm = True
        while time.monotonic() < stop_at:
            capture_id, received_at = uuid.uuid4(), datetime.now(UTC)
            rows = [
                (
                    r.event_id,
                    r.event_hash,
                    r.salt,
                    participant,
                    capture_id,
                    r.raw,
                    r.event_time,
                    r.type,
                    r.biz_step,
                    received_at,
                )
                for r in intake_work(docs.next(), schema, now)
            ]
            postgres_before = postgres_cpu()
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            with connection.cursor() as cursor, cursor.copy(COPY) as copy:
                for row in rows:
                    copy.write_row(row)
            connection.commit()
            used_wall = time.perf_counter() - wall_before
            used_cpu = time.process_time() - cpu_before
            used_postgres = cpu_used(postgres_before, postgres_cpu()).get("postgres", 0.0)
            if warm:  # the first one opens the table's files
                warm = False
                continue
            events += len(rows)
            wall += used_wall
            cpu += used_cpu
            postgres += used_postgres
    return CopyRun(events, wall, cpu, postgres)


def report(
    seconds: int,
    one: Run,
    two: list[Run],
    copied: CopyRun,
    host: tuple[float, float, tuple[float, float]],
) -> str:
    total = sum(r.rate for r in two)
    gain = total / one.rate - 1
    two_cpu = sum(r.cpu for r in two) / sum(r.events for r in two) * 1e6
    copy_rate = copied.events / copied.seconds
    copy_cpu = 1e6 * copied.cpu / copied.events
    postgres_us = 1e6 * copied.postgres / copied.events
    floor_us = one.cpu_us + copy_cpu + postgres_us
    loop_before, loop_after, (load_before, load_after) = host
    command = (
        "`.venv/bin/python -m bench.floor"
        + (f" --seconds {seconds}" if seconds != 20 else "")
        + "`"
    )
    met = "met" if gain >= TARGET_GAIN else "not met"
    lines = [
        f"Measured {datetime.now(UTC).date()} on {machine_line()}; 1-minute load average "
        f"{load_before:.1f} before, {load_after:.1f} after; `python_loop_seconds` "
        f"{loop_before:.2f} -> {loop_after:.2f}.",
        f"Command: {command} (PostgreSQL at {_server(PG_URL)}, a fresh database, dropped "
        "afterwards).",
        f"The events of `bench.ingest` (JSON EPCISDocuments of {EVENTS_PER_DOCUMENT:,} "
        "commissioning ObjectEvents, fresh packs each) through the gateway's own per-event "
        "work only (`bench.floor.intake_work`: the strict JSON parse, the schema, "
        "normalisation, event hashes, the stored JSON and its re-hash, as "
        "`gateway.intake.Intake.capture` does before its SQL; no rules, store or HTTP), with "
        "`provenance gateway`'s garbage collector policy, each process on documents made "
        f"before its {seconds} s window; then the same events' rows COPYed into a bare table "
        "with the `events` columns (no index, constraint or partition), one document per "
        f"transaction, for {seconds} s (only the COPY and its commit timed; PostgreSQL's CPU "
        "is every `postgres` process's during them). A process's share of a core (its CPU "
        "over its window) under about 1 means other work on the host took the rest.",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| validate + hash, 1 process | {one.rate:,.0f} events/s; {one.cpu_us:.1f} µs CPU "
        f"per event; {one.cores:.2f} of a core | |",
        f"| validate + hash, 2 processes side by side | {total:,.0f} events/s ("
        + " + ".join(f"{r.rate:,.0f}" for r in two)
        + f"); {two_cpu:.1f} µs CPU per event; "
        + " + ".join(f"{r.cores:.2f}" for r in two)
        + " cores | |",
        f"| what the second process adds | {100 * gain:+.0f}% of the first's throughput | "
        f">= +{100 * TARGET_GAIN:.0f}%: **{met}** |",
        f"| bare COPY + commit, 1 document per transaction | {copy_rate:,.0f} events/s; "
        f"{copy_cpu:.1f} µs CPU per event here, {postgres_us:.1f} µs PostgreSQL | |",
        "",
        f"The floor of a captured event on this machine: {floor_us:.0f} µs of CPU (validate "
        f"and hash {one.cpu_us:.0f}, the COPY's client side {copy_cpu:.0f}, PostgreSQL "
        f"{postgres_us:.0f}), at most {1e6 / floor_us:,.0f} events/s per core; compare the "
        "gateway's CPU per event in [Ingest](#ingest) and "
        "[Ingest: CPU per event, cut by cut](#ingest-cpu-per-event-cut-by-cut).",
    ]
    return "\n".join(lines)


def _line(run: Run) -> str:
    return f"{run.rate:,.0f} events/s, {run.cpu_us:.1f} µs CPU per event, {run.cores:.2f} of a core"


def _server(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="each run's window")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    loop_before, load_before = python_loop_seconds(), os.getloadavg()[0]
    (one,) = side_by_side(1, args.seconds)
    print(f"1 process: {_line(one)}; load {os.getloadavg()[0]:.1f}", flush=True)
    two = side_by_side(2, args.seconds)
    print(f"2 processes: {'; '.join(map(_line, two))}; load {os.getloadavg()[0]:.1f}", flush=True)
    with fresh_database(PG_URL, prefix="bench_floor") as url:
        copied = copy_floor(url, args.seconds)
    loop_after, load_after = python_loop_seconds(), os.getloadavg()[0]
    body = report(
        args.seconds,
        one,
        two,
        copied,
        (loop_before, loop_after, (load_before, load_after)),
    )
    print(body)
    if not args.no_write:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
