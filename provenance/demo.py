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

from chain.receipts import Receipt
from chain.verification import verify_receipt
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from provenance.journey import ACTORS, FINISHED_LOT, as_document, build_journey
from provenance.verify import default_event_hasher

PACKS = 1000
PACKS_PER_CASE = 50


def run(out: Path, *, console: Console | None = None, packs: int = PACKS) -> int:
    console = console or Console()
    if (out / "gateway").exists():
        shutil.rmtree(out / "gateway")  # the in-process chain is new each run, so is its store
    receipts_dir = out / "receipts"
    if receipts_dir.exists():
        shutil.rmtree(receipts_dir)
    receipts_dir.mkdir(parents=True)

    console.rule("[bold]Medicine provenance: from molecule to pack to patient")
    service = GatewayService(GatewaySettings(data_dir=out / "gateway"))
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
    for actor in ACTORS:
        body = {"name": actor.name, "roles": actor.roles.names(), "gln": actor.gln}
        created = _expect(http.post("/participants", json=body, headers=regulator), 201)
        keys[actor.name] = {"Authorization": f"Bearer {created['apiKey']}"}
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
        document = _expect(http.get(f"/events/{_hex(event_id)}/receipt", headers=regulator), 200)
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
                receipt.anchored_by[:10] + "…",
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
    return 1 if invalid else 0


def _hex(event_id: str) -> str:
    """The 64 hex digits of an ``ni:///sha-256;…?ver=CBV2.0`` event id (URL-safe)."""
    return event_id.split(";", 1)[1][:64]


def _expect(response: Any, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body
