"""The regulator's dashboard against issue 18's number (server time per page p95 <= 300 ms),
over the kept 1,000,000-event index.

The regulator signs in (``POST /login`` with a regulator key, the session cookie kept), then
each page is fetched through ``httpx.ASGITransport`` in this process (bench/kept_index.py: the
page's route, session check, queries, template; no socket, no browser), timed until its HTML
is complete:

- the overview (``/dashboard``: counts by business step, items by status, anchors, alerts,
  recalls in force, and the indexer's lag, which asks the chain node for its head), as served
  from the app's last reading (``OverviewCache``, what a view finds while the index has not
  moved, or within 15 s of the reading) and with its numbers read again (a first view);
- the alerts list (``/dashboard/alerts``, with its counts by kind and by day) and an alert's
  page (``/dashboard/alerts/{key}``) where the index has alerts;
- the trace of a pack (``/dashboard/trace?q=<EPC URN>``) and of a lot (``q=<GTIN> <lot>``);
- stock by region (``/dashboard/stock``: every current pack grouped by holder and location,
  joined to lots and recalls, placed by master data or registered region) and a product's lots
  at its biggest holder (``?region=&holder=&gtin=``, the drill-down's last step);
- the lot page (``/dashboard/lot?gtin=&lot=``), the participants registry and the batch
  explorer (``/dashboard/participants``, ``/dashboard/anchors``), for comparison.

    .venv/bin/python -m bench.pages [--samples 30] [--database bench_query_1m] [--no-write]
        [--only stock]   # only the pages whose name contains a word (printed, never written)
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.index import ms
from bench.index_data import Params
from bench.kept_index import BUILD, Host, KeptIndex, Timings, lot_key, open_index, pack_of
from bench.report import machine_line, write_section
from dashboard.overview import OverviewCache
from dashboard.stock_page import UNKNOWN_PARAM
from dashboard.stock_view import UNKNOWN, read_stock
from devkit.postgres import PG_URL
from indexer.queries.scope import EVERYTHING

TARGET_PAGE_P95 = 0.300
COLD = "overview, numbers read (no cached reading)"

#: What the figures mean (profiles and EXPLAIN ANALYZE of these runs).
ANALYSIS = (
    "Wall times follow the host (its load is given above); the CPU per page is the "
    "steadier figure. The overview's numbers (the row 'numbers read': a first view, or one "
    "after the index moved and the last reading is 15 s old; the row 'overview' is the "
    "app's last reading, `OverviewCache`) are read from the per-block tallies the indexer "
    "keeps as it writes (indexer/store/tallies.py: over this index 2,228 rows of events by "
    "block, day and step and 290 of item changes by block and status, filled by migration "
    "0021 in 5.5 s) and from the anchors (one row per batch), no longer from a scan of every "
    "event and current item version (1.1 s p95, 200 ms of PostgreSQL CPU per reading, "
    "before). The data set raises no alerts, so the alerts list is timed over an empty "
    "table: its cost with many alerts is not measured here. The trace reads one pack's "
    "versions and events, or a lot's counts by holder and status (10,000 packs). Stock by "
    "region reads every current pack version once, grouped by holder and location (the data "
    "set has no master data and no registered regions: one region, 'no region known'); with "
    "master data the locations' records are read for each distinct place, a few hundred rows."
)


def sign_in(index: KeptIndex) -> None:
    """A regulator's session: its cookie stays in the client."""
    token = index.issue("dashboard", "regulator")
    answer = index.post("/login", data={"key": token})
    if answer.status_code != 303 or not index.client.cookies:
        raise RuntimeError(f"sign-in failed: HTTP {answer.status_code}: {answer.text[:300]}")


def _get(
    index: KeptIndex, path: str, *, cold: bool = False
) -> Callable[[], Awaitable[httpx.Response]]:
    async def call() -> httpx.Response:
        if cold:  # the overview's numbers read again, as on a first view
            index.app.state.overview_cache = OverviewCache()
        answer = await index.client.get(path, headers={"accept": "text/html"})
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {answer.status_code}: {answer.text[:300]}")
        return answer

    return call


def pages(index: KeptIndex, samples: int, rng: random.Random) -> dict[str, list[str]]:
    """Per page: the paths to fetch (``samples`` of each)."""
    params = index.params
    lots = [rng.randrange(params.lots) for _ in range(samples)]
    with index.service.sessions() as session:
        alerts = list(session.scalars(text("SELECT key FROM ix_alerts ORDER BY key LIMIT 200")))
        lots_at = _biggest_holders_product(session)
    out = {
        "overview": ["/dashboard"] * samples,
        "alerts (list)": ["/dashboard/alerts"] * samples,
        "trace of a pack": [
            "/dashboard/trace?" + urlencode({"q": pack_of(params, n, rng.randrange(100))})
            for n in lots
        ],
        "trace of a lot (GTIN + lot)": [
            "/dashboard/trace?" + urlencode({"q": " ".join(lot_key(params, n))}) for n in lots
        ],
        "lot page (holders, counts, origin)": [
            "/dashboard/lot?"
            + urlencode({"gtin": lot_key(params, n)[0], "lot": lot_key(params, n)[1]})
            for n in lots
        ],
        "stock by region": ["/dashboard/stock"] * samples,
        "stock: a product's lots at a holder": [lots_at] * samples,
        "participants": ["/dashboard/participants"] * samples,
        "anchors (batch explorer)": ["/dashboard/anchors"] * samples,
    }
    if alerts:
        out["an alert"] = [f"/dashboard/alerts/{rng.choice(alerts)}" for _ in range(samples)]
    return out


def _biggest_holders_product(session: Session) -> str:
    """The stock page's last level (a product's lots) at the region, holder and product with
    the most packs."""
    today = datetime.now(UTC).date()
    region = read_stock(session, EVERYTHING, today).rows[0].key
    holder = read_stock(session, EVERYTHING, today, region=region).rows[0].key
    gtin = read_stock(session, EVERYTHING, today, region=region, holder=holder).rows[0].key
    where = UNKNOWN_PARAM if region == UNKNOWN else region
    return "/dashboard/stock?" + urlencode({"region": where, "holder": holder, "gtin": gtin})


def run(args: argparse.Namespace) -> tuple[dict[str, Timings], Host, int]:
    params = Params(events=args.events, packs=args.packs)
    rng = random.Random(18)
    host = Host()
    with open_index(params, args.database_url, args.database, vacuumed=args.vacuum) as index:
        with index.service.sessions() as session:
            alerts = int(session.execute(text("SELECT count(*) FROM ix_alerts")).scalar() or 0)
        host.sample()
        sign_in(index)
        out: dict[str, Timings] = {}
        wanted = pages(index, args.samples, rng)
        wanted[COLD] = ["/dashboard"] * max(3, args.samples // 5)
        if args.only:
            wanted = {k: v for k, v in wanted.items() if args.only in k}
        for name, paths in wanted.items():
            timings, _ = index.time([_get(index, p, cold=name == COLD) for p in paths])
            out[name] = timings
            print(
                f"{name:30} p50 {ms(timings.p50):>9} p95 {ms(timings.p95):>9} "
                f"max {ms(max(timings.seconds)):>9}  cpu/call {ms(timings.client_cpu)} + pg "
                f"{ms(timings.server_cpu)}",
                flush=True,
            )
        host.sample()
    return out, host, alerts


def report(args: argparse.Namespace, found: dict[str, Timings], host: Host, alerts: int) -> str:
    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    command = (
        "`.venv/bin/python -m bench.pages"
        + (f" --samples {args.samples}" if args.samples != 30 else "")
        + (f" --database {args.database}" if args.database else "")
        + "`"
    )
    targeted = (
        "overview",
        "alerts (list)",
        "an alert",
        "trace of a pack",
        "trace of a lot",
        "stock by region",
    )
    lines = [
        f"Measured {datetime.now(UTC).date()} on {machine_line()}; {host.line()}.",
        f"Command: {command}, over the index `bench.index` keeps (built once with {BUILD}; "
        f"it holds {alerts:,} alerts). A regulator signed in; each page fetched through "
        "`httpx.ASGITransport` in the benchmark's process (route, session, queries, template; "
        "no socket, no browser), timed until the HTML is complete, after 3 warm-up requests.",
        "",
        "| page | p50 / p95 / max | CPU per call (app + PostgreSQL) | target |",
        "|---|---:|---:|---|",
    ]
    for name, t in found.items():
        target = (
            f"p95 <= 300 ms: {verdict(t.p95 <= TARGET_PAGE_P95)}"
            if name.startswith(targeted)
            else "(not a target)"
        )
        lines.append(
            f"| {name} | {ms(t.p50)} / {ms(t.p95)} / {ms(max(t.seconds))} | "
            f"{ms(t.client_cpu)} + {ms(t.server_cpu)} | {target} |"
        )
    lines += ["", ANALYSIS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--packs", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30, help="requests per page")
    parser.add_argument("--database-url", default=PG_URL, help="the PostgreSQL server")
    parser.add_argument("--database", help="the kept index (default: bench.index's name)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--only", help="only the pages whose name contains this (not written)")
    parser.add_argument("--vacuum", action="store_true", help="VACUUM ANALYZE the index first")
    args = parser.parse_args(argv)
    found, host, alerts = run(args)
    body = report(args, found, host, alerts)
    print(body)
    if not args.no_write and not args.only:
        write_section("Dashboard pages", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
