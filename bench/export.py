"""What ``provenance export`` takes: a pack's and a lot's record, in each format.

A gateway (SQLite, in-process chain) captures and anchors the demo journey with ``--packs``
packs in cases of 25 (one batch per step); an indexer (SQLite) indexes it. Then
:func:`provenance.export.run_export` runs against the indexer's query API in this process
(``TestClient``: routing, key check, the export query, one receipt request per event, the
document rendered, checked against GS1's schema, read back for its hashes, both files written),
``--runs`` times per subject and format: the wall time's median and best, and this process's
CPU per run (the indexer runs in it too).

    .venv/bin/python -m bench.export [--packs 1000] [--runs 5] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.report import machine_line, python_loop_seconds, write_section
from medledger.epcis.builders import as_document
from provenance.export import FORMATS, receipts_path, run_export
from provenance.journey import ACTORS, FINISHED_LOT, build_journey

GTIN = "04700123123452"


def indexed_journey(directory: Path, packs: int) -> tuple[Any, Any, str]:
    """The gateway, the indexer (caught up) and the dispensed pack."""
    from fastapi.testclient import TestClient

    from gateway.api.app import create_app
    from gateway.service import GatewayService
    from gateway.settings import GatewaySettings
    from indexer.service import IndexerService
    from indexer.settings import IndexerSettings
    from indexer.sources import InProcessBatchSource

    settings = GatewaySettings(
        data_dir=directory / "gateway", database_url=f"sqlite:///{directory}/gateway.db"
    ).allowing_development_password()
    gateway = GatewayService(settings)
    http = TestClient(create_app(gateway, run_batcher=False))
    regulator = {"Authorization": f"Bearer {gateway.regulator_api_key}"}
    keys = {}
    for actor in ACTORS:
        answer = http.post("/participants", json=actor.registration(), headers=regulator)
        keys[actor.name] = {"Authorization": f"Bearer {answer.json()['apiKey']}"}
    journey = build_journey(packs, packs_per_case=25)
    for step in journey.steps:
        answer = http.post("/capture", json=as_document(step.events), headers=keys[step.actor.name])
        assert answer.status_code == 202, answer.text
        gateway.batcher.step(flush=True)

    def batch_json(root: bytes) -> dict[str, Any] | None:
        answer = http.get(f"/batches/0x{root.hex()}", headers=regulator)
        body: dict[str, Any] | None = answer.json() if answer.status_code == 200 else None
        return body

    indexer = IndexerService(
        IndexerSettings(
            data_dir=directory / "indexer",
            database_url=f"sqlite:///{directory}/indexer.db",
            settle_seconds=0,
        ),
        chain=gateway.chain,
        deployment=gateway.ledger.deployment,
        source=InProcessBatchSource(batch_json),
    )
    indexer.catch_up()
    return gateway, indexer, journey.dispensed_pack


def measure(packs: int, runs: int) -> list[dict[str, Any]]:
    from fastapi.testclient import TestClient

    from indexer.api.app import create_app as create_indexer_app

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        gateway, indexer, pack = indexed_journey(directory, packs)
        key = indexer.settings.resolved_bootstrap_api_key_file
        quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115  # closed with the process
        try:
            with TestClient(create_indexer_app(indexer, follow=False)) as http:
                for subject, identifier in (("pack", pack), ("lot", f"{GTIN} {FINISHED_LOT}")):
                    for fmt in FORMATS:
                        out = directory / f"out-{subject}.{fmt}"
                        walls: list[float] = []
                        cpus: list[float] = []
                        for _ in range(runs):
                            wall, cpu = time.perf_counter(), time.process_time()
                            code = run_export(
                                identifier,
                                fmt=fmt,
                                indexer_url="http://indexer.invalid",
                                key_file=key,
                                out=out,
                                console=quiet,
                                client=http,
                            )
                            walls.append(time.perf_counter() - wall)
                            cpus.append(time.process_time() - cpu)
                            assert code == 0, (subject, fmt)
                        bundle = json.loads(receipts_path(out).read_text())
                        events = bundle["document"]["events"]
                        rows.append(
                            {
                                "subject": subject,
                                "format": fmt,
                                "bytes": out.stat().st_size,
                                "events": events,
                                "median": statistics.median(walls),
                                "best": min(walls),
                                "cpu": statistics.mean(cpus),
                            }
                        )
        finally:
            indexer.stop()
            gateway.stop()
    return rows


def report(rows: list[dict[str, Any]], packs: int, runs: int, loop: float) -> str:
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine_line()}; a 10,000,000-step Python "
        f"loop took {loop:.2f} s (the host's speed then; loaded by other work).",
        f"Command: `.venv/bin/python -m bench.export --packs {packs} --runs {runs}`: the demo "
        f"journey with {packs} packs in cases of 25, gateway and indexer on SQLite in one "
        "process; `provenance export` through the indexer's ASGI app (no socket): the export "
        "query, one receipt request per event, the document rendered and checked (GS1's JSON "
        "schema or XSD; XML read back for its hashes), both files written.",
        "",
        "| subject | format | events | document bytes | wall median | wall best | CPU per run |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['subject']} | {r['format']} | {r['events']} | {r['bytes']:,} "
            f"| {r['median'] * 1000:.0f} ms "
            f"| {r['best'] * 1000:.0f} ms | {r['cpu'] * 1000:.0f} ms |"
        )
    counts = {r["subject"]: r["events"] for r in rows}
    lines += [
        "",
        f"The pack's record holds {counts.get('pack')} events, the lot's {counts.get('lot')} "
        "(its cases' shipments and receipts included), and a pack's record is large for its "
        "events: the transformation lists every pack it made. Each receipt is one request, in "
        "which the index rebuilds the event's batch tree.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the page")
    args = parser.parse_args()
    loop = python_loop_seconds()
    rows = measure(args.packs, args.runs)
    body = report(rows, args.packs, args.runs, loop)
    print(body)
    if not args.no_write:
        write_section("Export", body)


if __name__ == "__main__":
    main()
