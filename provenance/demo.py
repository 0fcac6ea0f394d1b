"""``provenance demo``: the molecule-to-pack story through the gateway, on an in-process chain.

It starts a gateway (SQLite store, in-process chain, contracts deployed by the regulator),
registers the participants through the regulator's API, then each participant captures its own
EPCIS 2.0 events over HTTP; the batcher anchors each participant's batch signed with that
participant's key. Finally every event's receipt is fetched from the gateway, written to disk and
verified offline and on-chain.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from chain.verification import verify_receipt
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from indexer.profiles import GatewayProfileSource
from indexer.queries.trace import trace
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import InProcessBatchSource
from medledger.epcis.builders import as_document
from medledger.epcis.event_id import EventId
from medledger.formats.receipt import Receipt
from provenance.journey import ACTORS, FINISHED_LOT, build_journey
from provenance.verify import default_event_hasher

PACKS = 1000
PACKS_PER_CASE = 50


def run(out: Path, *, console: Console | None = None, packs: int = PACKS) -> int:
    console = console or Console()
    for store in ("gateway", "indexer"):  # the in-process chain is new each run, so are the stores
        if (out / store).exists():
            shutil.rmtree(out / store)
    receipts_dir = out / "receipts"
    if receipts_dir.exists():
        shutil.rmtree(receipts_dir)
    receipts_dir.mkdir(parents=True)

    console.rule("[bold]Medicine provenance: from molecule to pack to patient")
    # A throw-away network: the public development password and the fast KDF are fine here.
    settings = GatewaySettings(data_dir=out / "gateway").allowing_development_password()
    service = GatewayService(settings)
    try:
        with TestClient(create_app(service, run_batcher=False)) as http:
            return _story(service, http, console, receipts_dir, packs)
    finally:
        service.stop()


def _story(
    service: GatewayService, http: TestClient, console: Console, receipts_dir: Path, packs: int
) -> int:
    deployment = service.ledger.deployment
    console.print(
        f"The regulator deployed the registries on chain {deployment.chain_id}: "
        f"anchors at {deployment.anchor_registry}"
    )
    regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
    keys: dict[str, dict[str, str]] = {}
    named: dict[str, str] = {}  # address (lower case) -> "name (GLN …)", beside every address
    for actor in ACTORS:
        body = actor.registration()
        created = _expect(http.post("/participants", json=body, headers=regulator), 201)
        keys[actor.name] = {"Authorization": f"Bearer {created['apiKey']}"}
        named[created["address"].lower()] = f"{actor.name.split(' (')[0]} (GLN {actor.gln})"
        console.print(f"  registered {actor.name}, GLN {actor.gln}, key {created['address']}")

    journey = build_journey(packs, packs_per_case=PACKS_PER_CASE)
    event_ids: list[str] = []
    for number, step in enumerate(journey.steps, start=1):
        accepted = _expect(
            http.post("/capture", json=as_document(step.events), headers=keys[step.actor.name]),
            202,
        )
        event_ids += accepted["eventIDs"]
        # A participant's consecutive captures share one batch; it is anchored (signed with
        # the participant's key) before the goods change hands.
        following = journey.steps[number] if number < len(journey.steps) else None
        if following is None or following.actor != step.actor:
            service.batcher.step(flush=True)
        status = _expect(http.get(f"/capture/{accepted['captureID']}", headers=regulator), 200)
        console.print(
            f"{number:2d}. [bold]{step.actor.name.split(' (')[0]}[/bold] {step.story}"
            f" [dim]({len(step.events)} event(s), {status['status']})[/dim]"
        )

    table = Table(title="Receipts (each verified offline and on-chain)")
    for column in ("#", "bizStep", "anchored by", "block", "proof"):
        table.add_column(column)
    hasher = default_event_hasher()
    invalid = 0
    for n, event_id in enumerate(event_ids, start=1):
        document = _expect(
            http.get(f"/events/{EventId.parse_uri(event_id).hex}/receipt", headers=regulator), 200
        )
        receipt = Receipt.from_json(document)
        event: dict[str, Any] = receipt.event or {}
        path = receipts_dir / f"{n:03d}-{event.get('bizStep', event.get('type'))}.json"
        path.write_text(receipt.dumps(), encoding="utf-8")
        verdict = verify_receipt(receipt, chain=service.chain, event_hasher=hasher)
        invalid += not verdict.valid
        if n <= 3 or n == len(event_ids):
            table.add_row(
                str(n),
                str(event.get("bizStep")),
                named.get(receipt.anchored_by.lower(), receipt.anchored_by[:10] + "…"),
                str(receipt.block_number),
                f"{len(receipt.proof)} hashes",
            )
        elif n == 4:
            table.add_row("…", "", "", "", "")
    console.print(table)
    colour = "green" if not invalid else "red"
    console.print(
        f"[{colour}]{len(event_ids) - invalid} of {len(event_ids)} receipts verified "
        f"offline and on-chain[/{colour}] → {receipts_dir}/"
    )
    console.print(
        f"Pack {journey.dispensed_pack} of batch {FINISHED_LOT} was dispensed; "
        f"its journey back to API lot {journey.api_class} is anchored event by event."
    )
    console.print(
        f"Check a receipt yourself (offline): provenance verify "
        f"{receipts_dir}/{len(event_ids):03d}-dispensing.json"
    )
    traced = _trace_from_index(service, http, regulator, journey.dispensed_pack, console)
    return 1 if invalid or not traced else 0


def _trace_from_index(
    service: GatewayService,
    http: TestClient,
    regulator: dict[str, str],
    pack: str,
    console: Console,
) -> bool:
    """The indexer follows the chain, verifies every batch, and traces the dispensed pack."""

    def batch_json(root: bytes) -> dict[str, Any] | None:
        response = http.get(f"/batches/0x{root.hex()}", headers=regulator)
        return _expect(response, 200) if response.status_code != 404 else None

    data_dir = service.settings.data_dir.parent / "indexer"
    indexer = IndexerService(
        IndexerSettings(data_dir=data_dir),
        chain=service.chain,
        deployment=service.ledger.deployment,
        source=InProcessBatchSource(batch_json),
        # names and GLNs beside addresses: the gateway's participant list, read as `up` reads it
        profiles=GatewayProfileSource(
            None, regulator["Authorization"].removeprefix("Bearer "), client=http
        ),
    )
    try:
        report = indexer.catch_up()
        indexer.refresh_profiles()
        console.rule("[bold]The indexer: a verified SQL mirror of the chain")
        console.print(
            f"It read blocks up to {report.to_block}, recomputed the root of each of "
            f"{report.anchors} anchored batches from their {report.events} events, and indexed "
            "them (SQLite in " + str(data_dir) + ")."
        )
        with indexer.sessions() as session:
            found = trace(session, pack)
    finally:
        indexer.stop()
    names = {  # the indexer's own participants map: registry GLN, name from the gateway's list
        address: f"{str(p['name']).split(' (')[0]} (GLN {p['gln']})"
        for address, p in (found.get("participants") or {}).items()
        if p.get("name")
    }
    _print_trace(console, found, names)
    current = found.get("current") or {}
    return bool(found.get("batches")) and current.get("status") == "dispensed"


def _print_trace(console: Console, found: dict[str, Any], names: dict[str, str]) -> None:
    def who(address: str | None) -> str:
        return names.get(address or "", address or "?")

    def anchored(event: dict[str, Any] | None) -> str:
        anchor = (event or {}).get("anchor") or {}
        return f"block {anchor.get('blockNumber')}, root {str(anchor.get('root'))[:10]}…"

    table = Table(title=f"Trace of pack {found['identifier']} (from the indexer's SQL)")
    for column in ("", "what happened", "who", "anchored"):
        table.add_column(column)
    for batch in found.get("batches", []):
        for transformation in batch["transformations"]:
            for item in transformation["inputs"]:
                origin = item.get("origin")
                table.add_row(
                    "molecule",
                    f"API lot {item['lot']} commissioned ({item['quantity']} {item['uom']} "
                    "used here)",
                    who(item.get("maker")),
                    anchored(origin),
                )
            table.add_row(
                "batch",
                f"transformed into batch {batch['lot']} (expiry {batch['expiry']})",
                who(transformation["submitter"]),
                anchored(transformation),
            )
    for version in found.get("history", []):
        event = version.get("event") or {}
        table.add_row(
            "pack",
            f"{event.get('bizStep')}: {version['status']}",
            who(event.get("submitter")),
            anchored(event),
        )
    console.print(table)


def _expect(response: Any, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body
