"""What ``event_items`` costs capture: the store's commit of 1,000-event documents with it and
without it (issue 16: what each event the ``pharma`` rules applied named, kept to undo an event
declared erroneous; gateway/store/event_items.py).

``record_capture`` of documents of 1,000 commissioning events, one pack each with its custody
change, on SQLite (a temporary file) and on a fresh PostgreSQL database (``devkit.postgres``),
alternating with and without ``event_items``; wall time per document, median and best of
``--rounds`` each. The database's own time counts, so on a shared machine the figures follow the
load: compare the two columns of one run.

    .venv/bin/python -m bench.event_items [--rounds 15] [--no-postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

from devkit.postgres import fresh_database
from gateway.store.capture import EventRecord, record_capture
from gateway.store.engine import make_engine, session_factory, upgrade
from gateway.store.participants import create_participant
from medledger.custody.state import ItemState, ItemStatus, PutItem

EVENTS = 1000
GTIN = "09506000134352"
_MOMENT = datetime(2026, 12, 4, tzinfo=UTC)


def _events() -> list[EventRecord]:
    return [
        EventRecord(
            event_id=f"ni:///sha-256;{uuid.uuid4().hex}{uuid.uuid4().hex}?ver=CBV2.0",
            raw='{"type": "ObjectEvent"}',
            event_time=_MOMENT,
            type="ObjectEvent",
            biz_step="commissioning",
        )
        for _ in range(EVENTS)
    ]


def run(url: str, rounds: int) -> dict[bool, list[float]]:
    """Seconds per document, without (False) and with (True) ``event_items``."""
    engine = make_engine(url)
    upgrade(engine)
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        with session_factory(engine)() as session:
            maker = create_participant(
                session, address="0x" + "1" * 40, name="bench", roles=2, gln="4700000000017"
            )
            for r in range(rounds * 2):
                with_items = r % 2 == 1
                events = _events()
                packs = [f"https://id.gs1.org/01/{GTIN}/21/{r}-{i}" for i in range(EVENTS)]
                changes = [
                    PutItem(ItemState(p, ItemStatus.ACTIVE, maker.address, None, None, GTIN, "L1"))
                    for p in packs
                ]
                items = {e.event_id: {p: False} for e, p in zip(events, packs, strict=True)}
                start = time.perf_counter()
                record_capture(
                    session,
                    maker.address,
                    events,
                    changes,
                    custody_items=items if with_items else None,
                )
                times[with_items].append(time.perf_counter() - start)
    finally:
        engine.dispose()
    return times


def report(name: str, times: dict[bool, list[float]]) -> None:
    for with_items in (False, True):
        ms = [t * 1000 for t in times[with_items]]
        label = "with event_items" if with_items else "without"
        print(
            f"{name:10} {label:17} median {statistics.median(ms):7.1f} ms, "
            f"best {min(ms):7.1f} ms per {EVENTS:,}-event document"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report("SQLite", run(f"sqlite:///{folder}/gateway.db", args.rounds))
    if not args.no_postgres:
        with fresh_database(prefix="bench_event_items") as url:
            report("PostgreSQL", run(url, args.rounds))


if __name__ == "__main__":
    main()
