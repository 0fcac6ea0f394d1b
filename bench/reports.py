"""Reports over the kept 1,000,000-event index: the time of a month's report, and its totals
checked against direct SQL.

Usage: ``.venv/bin/python -m bench.reports --database bench_NAME`` over a copy of the kept index
(``CREATE DATABASE bench_NAME TEMPLATE bench_query_1m``, then migrated to the head:
``indexer.store.engine.upgrade``; the report reads complaints and suspensions' case numbers,
which later migrations add; it only reads). Times :func:`indexer.queries.reports.report`
in-process (a session, the queries, the folding; then the CSV form) for the month of the
index's first event (the data set spans less than a month: every event is in it), for the
whole network and for one product, ``--repeat`` times each; checks that the totals equal plain
SQL counts; writes the "Reports" section of docs/benchmarks.md (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import calendar
import os
import statistics
import time
from datetime import date

from sqlalchemy import create_engine, distinct, func, select
from sqlalchemy.orm import Session

from bench.kept_index import database_url
from bench.report import machine_line, python_loop_seconds, write_section
from devkit.postgres import PG_URL
from indexer.queries.reports import RECALL_KINDS, Period, as_csv, report, totals
from indexer.store.models import (
    AlertRow,
    EventRow,
    ItemVersionRow,
    PriceComplaintRow,
    RecallChangeRow,
)

TARGET_SECONDS = 10.0


def month_of(session: Session) -> Period:
    first = session.scalar(select(func.min(EventRow.event_time)))
    if first is None:
        raise SystemExit("the index holds no events")
    day = first.date()
    last = calendar.monthrange(day.year, day.month)[1]
    return Period.of(date(day.year, day.month, 1), date(day.year, day.month, last))


def direct(session: Session, period: Period, gtin: str | None) -> dict[str, int]:
    """The totals by plain SQL (what the test does over a small index)."""
    e, v = EventRow, ItemVersionRow
    events = (
        select(func.count())
        .select_from(e)
        .where(e.event_time >= period.start, e.event_time < period.end)
    )
    roots = select(func.count(distinct(e.root))).where(
        e.event_time >= period.start, e.event_time < period.end
    )
    if gtin is not None:
        made = select(v.event_hash).where(
            v.gtin == gtin, v.event_time >= period.start, v.event_time < period.end
        )
        events = events.where(e.event_hash.in_(made.scalar_subquery()))
        roots = roots.where(e.event_hash.in_(made.scalar_subquery()))
    product = (v.gtin == gtin) if gtin is not None else v.gtin.is_not(None)
    now = (v.valid_to.is_(None), product)
    dispensed = select(func.count()).where(
        v.status == "dispensed", product, v.event_time >= period.start, v.event_time < period.end
    )
    return {
        "events": int(session.scalar(events) or 0),
        "dispensed": int(session.scalar(dispensed) or 0),
        "active": int(session.scalar(select(func.count()).where(*now, v.status == "active")) or 0),
        "inTransit": int(
            session.scalar(select(func.count()).where(*now, v.status == "in_transit")) or 0
        ),
        "recallChanges": int(
            session.scalar(select(func.count()).where(RecallChangeRow.kind.in_(RECALL_KINDS))) or 0
        ),
        "alerts": int(session.scalar(select(func.count()).select_from(AlertRow)) or 0),
        "complaints": int(
            session.scalar(
                select(func.count()).where(
                    PriceComplaintRow.received_at >= period.start,
                    PriceComplaintRow.received_at < period.end,
                    *([PriceComplaintRow.gtin == gtin] if gtin is not None else []),
                )
            )
            or 0
        ),
        "anchors": int(session.scalar(roots) or 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=PG_URL, help="the PostgreSQL server")
    parser.add_argument("--database", required=True, help="a copy of the kept index")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    engine = create_engine(database_url(args.database_url, args.database))
    load_start, loop_start = os.getloadavg()[0], python_loop_seconds()
    lines: list[str] = []
    try:
        with Session(engine) as session:
            period = month_of(session)
            gtin = session.scalar(select(func.min(ItemVersionRow.gtin)))
        for label, product in (("whole network", None), (f"one product ({gtin})", gtin)):
            seconds: list[float] = []
            for _ in range(args.repeat):
                with Session(engine) as session:
                    started = time.perf_counter()
                    found = report(session, period, gtin=product)
                    text = as_csv(found)
                    seconds.append(time.perf_counter() - started)
            with Session(engine) as session:
                expected = direct(session, period, product)
            got = totals(found)
            same = "equal" if got == expected else f"**differ**: {got} != {expected}"
            best, worst = min(seconds), max(seconds)
            met = "**met**" if worst < TARGET_SECONDS else "**not met**"
            lines.append(
                f"| {label} | {statistics.median(seconds):.2f} s (min {best:.2f}, max {worst:.2f}) "
                f"| {got['events']:,} events, {got['dispensed']:,} dispensed, "
                f"{got['active'] + got['inTransit']:,} packs in stock, {got['anchors']:,} anchors; "
                f"CSV {len(text):,} bytes | {same} | < {TARGET_SECONDS:g} s: {met} |"
            )
            print(lines[-1], flush=True)
    finally:
        engine.dispose()
    load_end, loop_end = os.getloadavg()[0], python_loop_seconds()
    body = (
        f"Measured {date.today()} on {machine_line()}; 1-minute load average {load_start:.1f} / "
        f"{load_end:.1f} (start / end; 2 cores, shared with other work), a 10,000,000-step "
        f"Python loop {loop_start:.2f} s / {loop_end:.2f} s (`bench.report.python_loop_seconds`).\n"
        f"Command: `.venv/bin/python -m bench.reports --database {args.database}`, over a copy "
        'of the kept index (`CREATE DATABASE ... TEMPLATE bench_query_1m`, see "Dashboard '
        'pages", migrated to the head with `indexer.store.engine.upgrade`). '
        f"The period is the month of its first event ({period.first} to "
        f"{period.last}), which holds every event of the data set; each report is read in one "
        "session in the benchmark's process (`indexer.queries.reports.report`, then its CSV "
        f"form), {args.repeat} times; its totals are checked against plain SQL counts "
        "(`bench/reports.py: direct`).\n\n"
        "| report | time (median of runs) | what it counted | totals vs SQL | target |\n"
        "|---|---:|---|---|---|\n" + "\n".join(lines) + "\n\n"
        "The report reads the month's events grouped by place, submitter, business step and "
        "batch (one pass over the events of the period by their eventTime index), the dispensed "
        "versions of the period, the current versions of packs (stock now), and the anchors of "
        "the batches counted; the data set has no master data, registered regions, recalls or "
        "alerts, so every line is 'no region known' and those sections are empty."
    )
    if not args.no_write:
        write_section("Reports", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
