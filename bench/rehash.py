"""What capture's round-trip check costs: the stored JSON of each event re-hashed before commit.

On one of ``bench.ingest``'s documents (1,000 commissioning ObjectEvents), in this process, no
database: ``prepare`` (schema, @context, normalisation, event hash), then the records to store
built twice, by ``gateway.intake.event_records`` (serialised and re-hashed) and serialised only
(what capture did before the check), and the event hash alone for scale. Thread CPU time per
event, the best of ``--runs`` (and the median); the garbage collector is off while timing.

On a shared machine the numbers follow the load (the event hash alone takes about 8 µs per
event on an idle host); the ratio of the check to the event hash moves much less.

    .venv/bin/python -m bench.rehash [--runs 30]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

from bench.ingest import EVENTS_PER_DOCUMENT, Documents
from gateway.intake import event_records, prepare, stored_json
from gateway.store.capture import EventRecord
from medledger.epcis.event_hash import context_namespaces, event_hash
from medledger.epcis.schema import EpcisSchema, load_schema


def serialised_only(events: list[dict[str, Any]], normalised: list[Any], ids: list[str]) -> None:
    for event, facts, event_id in zip(events, normalised, ids, strict=True):
        EventRecord(
            event_id=event_id,
            raw=stored_json(event),
            event_time=facts.event_time,
            type=facts.type,
            biz_step=facts.biz_step,
        )


def one_run(body: bytes, schema: EpcisSchema) -> dict[str, float]:
    """CPU µs per event of each stage, on a freshly parsed document."""
    document = json.loads(body)
    clock = time.thread_time
    started = clock()
    events, normalised, ids = prepare(document, schema)
    prepared = clock()
    event_records(events, normalised, ids)
    rehashed = clock()
    serialised_only(events, normalised, ids)
    serialised = clock()
    namespaces = context_namespaces(document["@context"])
    for event in document["epcisBody"]["eventList"]:
        event_hash(event, namespaces=namespaces)
    hashed = clock()
    scale = 1e6 / EVENTS_PER_DOCUMENT
    return {
        "prepare": (prepared - started) * scale,
        "records, re-hashed": (rehashed - prepared) * scale,
        "records, serialised only": (serialised - rehashed) * scale,
        "event hash alone": (hashed - serialised) * scale,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    body = Documents("R").next()
    schema = load_schema()
    samples: dict[str, list[float]] = {}
    gc.disable()
    for run in range(args.runs + 3):
        times = one_run(body, schema)
        if run >= 3:  # the first ones warm the caches
            for name, value in times.items():
                samples.setdefault(name, []).append(value)
        gc.collect()
    gc.enable()
    samples["the check adds"] = [
        a - b
        for a, b in zip(
            samples["records, re-hashed"], samples["records, serialised only"], strict=True
        )
    ]
    for name, values in samples.items():
        best, median = min(values), statistics.median(values)
        print(f"{name:26} {best:7.2f} µs/event best, {median:7.2f} median ({args.runs} runs)")


if __name__ == "__main__":
    main()
