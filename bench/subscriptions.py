"""Webhook subscription delivery (issue 17) over the kept 1,000,000-event index: how fast a
subscription catches up, delivering to a receiver on 127.0.0.1.

Two subscriptions of the regulator, both from the start of the index (``initialRecordTime`` in
2000), delivered by :class:`~indexer.subscriptions.delivery.SubscriptionDeliverer` in this
process to a small HTTP server in this process (it counts the eventIDs of each body and answers
204):

- **everything** (the query ``{}``): ``--events`` events (default 100,000) in batches of
  ``--batch`` (default 1,000): the rate, wall and per CPU second of this process (deliverer and
  receiver) and PostgreSQL;
- **one lot** (``MATCH_anyEPCClass`` of a lot's LGTIN): the whole index judged from the start,
  how long until the subscription has nothing left to deliver.

    .venv/bin/python -m bench.subscriptions [--events 100000] [--batch 1000] [--no-write]

The named queries and subscriptions it makes are deleted at the end (its reader key stays, as
``bench.query``'s do; a subscription is delivered while its owner has a live key).
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.index_data import Params
from bench.kept_index import BUILD, Host, KeptIndex, _cpu_of, lot_class, open_index
from bench.report import machine_line, write_section
from devkit.postgres import PG_URL
from indexer.reader_keys import ReaderKey
from indexer.subscriptions import named
from indexer.subscriptions import store as subscriptions
from indexer.subscriptions.delivery import SubscriptionDeliverer
from servicekit.webhook_targets import TargetPolicy

OWNER = ReaderKey(prefix="", name="bench-subscriptions", role="regulator")
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


class Counter:
    """Events received (eventIDs in the bodies), thread-safe."""

    def __init__(self) -> None:
        self.events = 0
        self.posts = 0
        self.lock = threading.Lock()


def receiver(counter: Counter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with counter.lock:
                counter.events += body.count(b'"eventID"')
                counter.posts += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Run:
    events: int
    posts: int
    seconds: float
    client_cpu: float
    server_cpu: float


def subscribe(index: KeptIndex, name: str, query: dict[str, Any], dest: str) -> None:
    with index.service.write_sessions() as session, session.begin():
        made = named.create(session, OWNER, {"name": name, "query": query})
        given = subscriptions.Controls(dest, None, False, SINCE)
        subscriptions.subscribe(session, made, given)


def deliver(index: KeptIndex, counter: Counter, deliverer: SubscriptionDeliverer, most: int) -> Run:
    pids = index.backends()
    client, server = time.process_time(), sum(_cpu_of(p) for p in pids)
    started = time.perf_counter()
    while counter.events < most and deliverer.step():
        pass
    seconds = time.perf_counter() - started
    return Run(
        counter.events,
        counter.posts,
        seconds,
        time.process_time() - client,
        sum(_cpu_of(p) for p in pids) - server,
    )


def run(args: argparse.Namespace) -> tuple[Run, Run, Host, int]:
    params = Params(events=args.index_events, packs=args.packs)
    host = Host()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    with open_index(params, args.database_url, args.database) as index:
        host.sample()
        with index.service.write_sessions() as session, session.begin():  # the owner's key
            index.service.api_keys.issue_key(session, OWNER.name, OWNER.role)
        counter = Counter()
        server = receiver(counter)
        dest = f"http://127.0.0.1:{server.server_address[1]}/callback"
        deliverer = SubscriptionDeliverer(
            index.service.write_sessions,
            reads=index.service.sessions,
            batch=args.batch,
            targets=TargetPolicy.from_allowlist(["127.0.0.1/32"]),
        )
        names = [f"bench-all-{stamp}", f"bench-lot-{stamp}"]
        try:
            subscribe(index, names[0], {}, dest)
            everything = deliver(index, counter, deliverer, args.events)
            with index.service.write_sessions() as session, session.begin():
                named.remove(session, OWNER, names[0])
            counter.events = counter.posts = 0
            lot = args.lot
            subscribe(index, names[1], {"MATCH_anyEPCClass": [lot_class(params, lot)]}, dest)
            one_lot = deliver(index, counter, deliverer, 10**9)
        finally:
            with index.service.write_sessions() as session, session.begin():
                for name in names:
                    try:
                        named.remove(session, OWNER, name)
                    except LookupError:
                        pass
            server.shutdown()
        host.sample()
    return everything, one_lot, host, args.lot


def report(args: argparse.Namespace, everything: Run, one_lot: Run, host: Host, lot: int) -> str:
    def rate(r: Run) -> str:
        cpu = r.client_cpu + r.server_cpu
        return (
            f"{r.events / r.seconds:,.0f} events/s ({r.events / cpu:,.0f} per CPU second: "
            f"{r.client_cpu:.1f} s deliverer and receiver, {r.server_cpu:.1f} s PostgreSQL)"
        )

    database = f" --database {args.database}" if args.database else ""
    return "\n".join(
        [
            f"Measured {datetime.now(UTC).date()} on {machine_line()}; {host.line()}.",
            f"Command: `.venv/bin/python -m bench.subscriptions --events {args.events} "
            f"--batch {args.batch}{database}`, over the index `bench.index` keeps (built once "
            f"with {BUILD}).",
            "A webhook subscription of the regulator from the start of the index, delivered by "
            "`SubscriptionDeliverer` to an HTTP server on 127.0.0.1 in the same process (it "
            "counts the eventIDs and answers 204): each batch read and judged, the "
            "EPCISQueryDocument written, POSTed, and the cursor's move committed.",
            "",
            "| subscription | delivered | wall | rate |",
            "|---|---:|---:|---|",
            f"| everything (`{{}}`), batches of {args.batch:,} | {everything.events:,} events in "
            f"{everything.posts:,} POSTs | {everything.seconds:.1f} s | {rate(everything)} |",
            f"| one lot (`MATCH_anyEPCClass`, lot {lot}): the whole index judged from the start "
            f"| {one_lot.events:,} event(s) in {one_lot.posts:,} POST(s) | {one_lot.seconds:.2f} s "
            "| (caught up) |",
            "",
            "Wall times follow the host (shared by other sessions: the load above); the CPU "
            "beside them is what delivery cost.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to deliver")
    parser.add_argument("--batch", type=int, default=1000, help="events per POST")
    parser.add_argument("--lot", type=int, default=5, help="the lot of the selective one")
    parser.add_argument("--index-events", type=int, default=1_000_000)
    parser.add_argument("--packs", type=int, default=100_000)
    parser.add_argument("--database-url", default=PG_URL, help="the PostgreSQL server")
    parser.add_argument("--database", help="the kept index (default: bench.index's name)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    body = report(args, *run(args))
    print(body)
    if not args.no_write:
        write_section("Subscriptions", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
