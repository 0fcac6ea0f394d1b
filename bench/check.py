"""Pack check latency: the indexer's ``/check`` over a PostgreSQL index of 1,000,000 packs.

Only the check's query is measured, so the data set is built directly with ``COPY`` into the
index's tables (migrated to head), not by following a chain: 1,000 lots of 1,000 packs (10
products), each lot with its expiry and, for 70% of lots, a recall-registry record (released;
2% of lots recalled); every pack with three state versions (commissioned, shipped, and the
current one at one of 50 pharmacies and hospitals), 30% of packs dispensed (one dispensing
event each), the others received in cases of 100 (one event per case); every event anchored in
one of 3,000 batches. Then ``ANALYZE``.

Measured (server side, in process, warm): ``indexer.queries.check.check`` (parse with biip,
the one SQL query, the answer) on random codes, a third in each input form (raw DataMatrix
element string with ``]d2`` and GS separators, Digital Link URI with ``?17=&10=``, EPC URN), 5%
of them unknown serials; and the same through the HTTP route (FastAPI ``TestClient``: request
validation and response model included, network excluded). Then the database is dropped.

    .venv/bin/python -m bench.check [--packs 1000000] [--samples 5000] [--database-url ...]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.report import machine_line, write_section
from devkit.postgres import PG_URL, fresh_database
from indexer.api import routes
from indexer.api.deps import get_today
from indexer.queries.check import check, parse_code, state_query
from indexer.store.engine import make_engine, upgrade
from medledger.epcis.gs1 import check_digit
from medledger.roles import Role
from servicekit.http.problems import install_problem_handlers
from servicekit.http.ratelimits import RateLimits

COMPANY_PREFIX = "4700123"
PRODUCTS = 10
LOT_SIZE = 1000
CASE_SIZE = 100
SITES = 50  # pharmacies and hospitals
ANCHORS = 3000
DISPENSED_SHARE = 0.3
RELEASED_SHARE = 0.7
RECALLED_SHARE = 0.02
UNKNOWN_SHARE = 0.05
TODAY = date(2027, 6, 1)
TARGET_P95_MS = 10.0
SEQ_BLOCK = 10**9
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def item_field(product: int) -> str:
    """The SGTIN URN's indicator digit and item reference (6 digits with a 7-digit prefix)."""
    return f"0{12300 + product:05d}"


def gtin_of(product: int) -> str:
    field = item_field(product)
    body = field[0] + COMPANY_PREFIX + field[1:]
    return body + str(check_digit(body))


def serial(n: int) -> str:
    return f"P{n:09d}"


def address(kind: str, n: int) -> str:
    return "0x" + hashlib.sha256(f"{kind}{n}".encode()).hexdigest()[:40]


def h32(kind: str, n: int) -> bytes:
    return hashlib.sha256(f"{kind}{n}".encode()).digest()


def gln(n: int) -> str:
    body = f"4700{n:08d}"
    return body + str(check_digit(body))


class DataSet:
    """Deterministic facts of the data set (seeded), shared by the loader and the sampler."""

    def __init__(self, packs: int, seed: int = 7) -> None:
        self.packs = packs
        self.lots = -(-packs // LOT_SIZE)
        rng = random.Random(seed)
        self.expiry = [
            date(2026, 1, 1) + timedelta(days=rng.randrange(5 * 365)) for _ in range(self.lots)
        ]
        self.released = [rng.random() < RELEASED_SHARE for _ in range(self.lots)]
        self.recalled = [
            r and rng.random() < RECALLED_SHARE / RELEASED_SHARE for r in self.released
        ]
        self.dispensed = bytearray(rng.random() < DISPENSED_SHARE for _ in range(packs))
        self.site = [rng.randrange(SITES) for _ in range(-(-packs // CASE_SIZE))]
        self.manufacturer = address("manufacturer", 0)
        self.distributor = address("distributor", 0)

    def lot(self, pack: int) -> int:
        return pack // LOT_SIZE

    def product(self, lot: int) -> int:
        return lot % PRODUCTS

    def lot_name(self, lot: int) -> str:
        return f"L{lot:05d}"


def copy(
    conn: psycopg.Connection[Any], table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)
            count += 1
    return count


def load(url: str, data: DataSet) -> dict[str, int]:
    """Bulk-load the data set (see the module docstring); row counts by table."""
    upgrade(url)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    counts: dict[str, int] = {}
    cases = -(-data.packs // CASE_SIZE)
    sites = [address("site", n) for n in range(SITES)]
    with psycopg.connect(dsn) as conn:

        def participants() -> Iterator[tuple[Any, ...]]:
            yield (data.manufacturer, int(Role.MANUFACTURER), gln(0), True, 1, 1)
            yield (data.distributor, int(Role.DISTRIBUTOR), gln(1), True, 1, 1)
            for n, site in enumerate(sites):
                role = Role.HOSPITAL if n % 5 == 4 else Role.PHARMACY
                yield (site, int(role), gln(100 + n), True, 1, 1)

        counts["ix_participants"] = copy(
            conn,
            "ix_participants",
            ["address", "roles", "gln", "active", "registered_block", "updated_block"],
            participants(),
        )

        def anchors() -> Iterator[tuple[Any, ...]]:
            for n in range(ANCHORS):
                yield (
                    h32("root", n),
                    data.manufacturer,
                    data.manufacturer,
                    100,
                    bytes(32),
                    "0x" + h32("tx", n).hex(),
                    10 + n,
                    0,
                    1_767_600_000 + n,
                    "indexed",
                )

        counts["ix_anchors"] = copy(
            conn,
            "ix_anchors",
            [
                "root",
                "submitter",
                "relayer",
                "event_count",
                "metadata_hash",
                "tx_hash",
                "block_number",
                "log_index",
                "block_timestamp",
                "status",
            ],
            anchors(),
        )

        # events: per lot a commissioning, per case a shipping and a receiving, per dispensed
        # pack a dispensing; numbered in that order
        def event(
            n: int, submitter: str, kind: str, action: str, moment: datetime
        ) -> tuple[Any, ...]:
            anchor = n % ANCHORS
            return (
                h32("event", n),
                (10 + anchor) * SEQ_BLOCK + n // ANCHORS,
                10 + anchor,
                h32("root", anchor),
                submitter,
                h32("salt", n),
                "ObjectEvent",
                action,
                kind,
                None,
                moment,
                None,
                None,
                None,
                None,
                '{"type":"ObjectEvent"}',
            )

        commission_base = 0
        ship_base = data.lots
        receive_base = ship_base + cases
        dispense_base = receive_base + cases

        def events() -> Iterator[tuple[Any, ...]]:
            for lot in range(data.lots):
                yield event(commission_base + lot, data.manufacturer, "commissioning", "ADD", START)
            for case in range(cases):
                yield event(
                    ship_base + case,
                    data.distributor,
                    "shipping",
                    "OBSERVE",
                    START + timedelta(days=1),
                )
            for case in range(cases):
                yield event(
                    receive_base + case,
                    sites[data.site[case]],
                    "receiving",
                    "OBSERVE",
                    START + timedelta(days=2),
                )
            for pack in range(data.packs):
                if data.dispensed[pack]:
                    yield event(
                        dispense_base + pack,
                        sites[data.site[pack // CASE_SIZE]],
                        "dispensing",
                        "DELETE",
                        START + timedelta(days=3),
                    )

        counts["ix_events"] = copy(
            conn,
            "ix_events",
            [
                "event_hash",
                "seq",
                "block_number",
                "root",
                "submitter",
                "salt",
                "type",
                "action",
                "biz_step",
                "disposition",
                "event_time",
                "read_point",
                "biz_location",
                "source",
                "destination",
                "raw",
            ],
            events(),
        )

        def lots() -> Iterator[tuple[Any, ...]]:
            for lot in range(data.lots):
                yield (
                    gtin_of(data.product(lot)),
                    data.lot_name(lot),
                    data.expiry[lot],
                    data.manufacturer,
                    lot,
                    10,
                )

        counts["ix_lots"] = copy(
            conn,
            "ix_lots",
            ["gtin", "lot", "expiry", "commissioned_by", "first_seq", "block_number"],
            lots(),
        )

        def recalls() -> Iterator[tuple[Any, ...]]:
            for lot in range(data.lots):
                if data.released[lot]:
                    recalled = data.recalled[lot]
                    yield (
                        gtin_of(data.product(lot)),
                        data.lot_name(lot),
                        data.manufacturer,
                        recalled,
                        3 if recalled else None,
                        data.manufacturer if recalled else None,
                        12,
                        "0x" + h32("rtx", lot).hex(),
                    )

        counts["ix_recalls"] = copy(
            conn,
            "ix_recalls",
            [
                "gtin",
                "lot",
                "manufacturer",
                "recalled",
                "reason_code",
                "by",
                "changed_block",
                "tx_hash",
            ],
            recalls(),
        )

        def versions() -> Iterator[tuple[Any, ...]]:
            for pack in range(data.packs):
                lot = data.lot(pack)
                gtin = gtin_of(data.product(lot))
                name = data.lot_name(lot)
                case = pack // CASE_SIZE
                site = sites[data.site[case]]
                ident = f"https://id.gs1.org/01/{gtin}/21/{serial(pack)}"
                steps = [
                    (commission_base + lot, START, "active", data.manufacturer, None),
                    (
                        ship_base + case,
                        START + timedelta(days=1),
                        "in_transit",
                        data.manufacturer,
                        site,
                    ),
                    (receive_base + case, START + timedelta(days=2), "active", site, None),
                ]
                if data.dispensed[pack]:
                    steps.append(
                        (dispense_base + pack, START + timedelta(days=3), "dispensed", site, None)
                    )
                for i, (n, moment, status, holder, to) in enumerate(steps):
                    start = 10 * SEQ_BLOCK + n
                    end = 10 * SEQ_BLOCK + steps[i + 1][0] if i + 1 < len(steps) else None
                    yield (
                        ident,
                        start,
                        end,
                        10,
                        h32("event", n),
                        moment,
                        status,
                        holder,
                        None,
                        None,
                        to,
                        gtin,
                        name,
                    )

        counts["ix_item_versions"] = copy(
            conn,
            "ix_item_versions",
            [
                "identifier",
                "valid_from",
                "valid_to",
                "block_number",
                "event_hash",
                "event_time",
                "status",
                "holder",
                "location",
                "parent",
                "in_transit_to",
                "gtin",
                "lot",
            ],
            versions(),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return counts


def sample_codes(data: DataSet, count: int, seed: int = 11) -> list[tuple[str, str]]:
    """(form, code) pairs: random packs, a third in each form, some unknown serials."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for i in range(count):
        unknown = rng.random() < UNKNOWN_SHARE
        pack = rng.randrange(data.packs)
        lot = data.lot(pack)
        product = data.product(lot)
        gtin = gtin_of(product)
        number = serial(data.packs + pack if unknown else pack)
        name = data.lot_name(lot)
        yymmdd = data.expiry[lot].strftime("%y%m%d")
        form = ("element-string", "digital-link", "epc-urn")[i % 3]
        if form == "element-string":
            code = f"]d201{gtin}17{yymmdd}10{name}\x1d21{number}"
        elif form == "digital-link":
            code = f"https://scan.example.kg/01/{gtin}/21/{number}?17={yymmdd}&10={name}"
        else:
            code = f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{item_field(product)}.{number}"
        out.append((form, code))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Service:
    """Just what the check route needs of an IndexerService: sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions


def measure(url: str, codes: list[tuple[str, str]], http_samples: int) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    times: dict[str, list[float]] = {}
    verdicts: dict[str, int] = {}
    try:
        with sessions() as session:
            for _form, code in codes[:200]:  # warm the caches and the connection
                check(session, code, today=TODAY)
            for form, code in codes:
                started = time.perf_counter()
                answer = check(session, code, today=TODAY)
                elapsed = time.perf_counter() - started
                session.rollback()  # each check its own transaction, as per request
                times.setdefault(form, []).append(elapsed)
                times.setdefault("all", []).append(elapsed)
                verdicts[answer["verdict"]] = verdicts.get(answer["verdict"], 0) + 1
            pack = next(c for f, c in codes if f == "epc-urn")
            query = state_query(parse_code(pack).identifier)
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            explain = text(f"EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) {compiled}")
            plan = [str(r[0]) for r in session.execute(explain)]
        app = FastAPI()
        app.state.service = cast(Any, _Service(sessions))
        # the route's budget check is measured, with a budget this run never reaches
        app.state.rate_limits = RateLimits(check="1000000/second")
        install_problem_handlers(app)
        app.include_router(routes.check)
        app.dependency_overrides[get_today] = lambda: TODAY
        http_times: list[float] = []
        with TestClient(app) as client:
            for _form, code in codes[:100]:
                client.post("/check", json={"code": code})
            for _form, code in codes[:http_samples]:
                started = time.perf_counter()
                response = client.post("/check", json={"code": code})
                http_times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        times["http"] = http_times
    finally:
        engine.dispose()
    return {"times": times, "verdicts": verdicts, "plan": plan}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def report(
    args: argparse.Namespace,
    data: DataSet,
    counts: dict[str, int],
    load_s: float,
    size: str,
    result: dict[str, Any],
) -> str:
    times: dict[str, list[float]] = result["times"]
    p95 = percentile(times["all"], 0.95)
    met = "**met**" if p95 * 1000 <= TARGET_P95_MS else "**not met**"
    command = (
        "`.venv/bin/python -m bench.check"
        + (f" --packs {args.packs}" if args.packs != 1_000_000 else "")
        + (f" --samples {args.samples}" if args.samples != 5000 else "")
        + "`"
    )
    rows = [
        f"| `check()` {label} | {len(times[key]):,} | {ms(statistics.median(times[key]))} | "
        f"{ms(percentile(times[key], 0.95))} | {ms(percentile(times[key], 0.99))} |"
        for key, label in (
            ("all", "all forms"),
            ("element-string", "DataMatrix element string"),
            ("digital-link", "Digital Link URI"),
            ("epc-urn", "EPC URN"),
            ("http", "through `POST /check`"),
        )
    ]
    verdicts = ", ".join(f"{k} {v:,}" for k, v in sorted(result["verdicts"].items()))
    table_rows = ", ".join(f"{counts[t]:,} {t}" for t in counts)
    lines = [
        f"Measured {datetime.now(UTC).date()} on {machine_line()}.",
        f"Command: {command} (PostgreSQL at 127.0.0.1:5432, a fresh database, dropped afterwards).",
        f"Data set: {data.packs:,} packs in {data.lots:,} lots of {LOT_SIZE:,} ({PRODUCTS} "
        "products), **built directly with `COPY`** into the index's tables (migrated to head), "
        "not by following a chain, since only the check's query is measured: three state "
        f"versions per pack (commissioned, shipped, current at one of {SITES} pharmacies and "
        f"hospitals), {DISPENSED_SHARE:.0%} of packs dispensed (one event each), the others "
        f"received in cases of {CASE_SIZE}, {RELEASED_SHARE:.0%} of lots released (recall "
        f"registry record), {RECALLED_SHARE:.0%} recalled, every event in one of {ANCHORS:,} "
        f"anchored batches; then `VACUUM ANALYZE`. Rows: {table_rows} "
        f"(loaded in {load_s:.0f} s, {size}).",
        f"Codes: {len(times['all']):,} random packs, a third in each input form (raw DataMatrix "
        "element string with `]d2` and GS separators, Digital Link URI with `?17=&10=`, EPC "
        f"URN), {UNKNOWN_SHARE:.0%} unknown serials; verdicts: {verdicts}. Server side, in "
        "process, one session, each check its own transaction: `check()` is the biip parse, the "
        "one SQL query and the answer; `POST /check` adds FastAPI's request validation and "
        "response model, and the `TestClient`'s own overhead (its thread portal; no network).",
        "",
        "| measure | samples | p50 | p95 | p99 |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Target: p95 <= {TARGET_P95_MS:g} ms server side with 1,000,000 packs: {met} ({ms(p95)}).",
        "",
        "The plan of the one query (a pack of the set; `EXPLAIN ANALYZE`): every table is reached "
        "by its primary key or, for the pack, the partial index on current versions.",
        "",
        "```",
        *result["plan"],
        "```",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> str:
    data = DataSet(args.packs)
    with fresh_database(args.database_url, prefix="bench_check") as url:
        started = time.monotonic()
        counts = load(url, data)
        load_s = time.monotonic() - started
        print(f"loaded in {load_s:.0f} s: {counts}", flush=True)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                size = str(
                    conn.execute(
                        text("SELECT pg_size_pretty(pg_database_size(current_database()))")
                    ).scalar()
                )
        finally:
            engine.dispose()
        result = measure(url, sample_codes(data, args.samples), args.http_samples)
    return report(args, data, counts, load_s, size, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--http-samples", type=int, default=2000)
    parser.add_argument("--database-url", default=PG_URL, help="a PostgreSQL server URL")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    body = run(args)
    print(body)
    if not args.no_write:
        write_section("Pack check", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
