"""``provenance demo``: the whole ledger core on an in-process chain, start to finish.

It deploys the contracts, registers the regulator's participants, lets each participant anchor its
own events of a molecule-to-pack journey as one Merkle batch, writes a receipt per event, and
verifies every receipt offline and on-chain.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table

from chain.anchoring import AnchoredBatch, anchor_batch
from chain.client import Chain
from chain.deployment import deploy_contracts
from chain.keystore import DEVELOPMENT_PASSWORD, create_keystore
from chain.ledger import Ledger
from chain.receipts import Receipt
from chain.verification import verify_receipt
from provenance.journey import ACTORS, as_document, build_journey, gln
from provenance.verify import default_event_hasher

REGULATOR_GLN = int(gln("4700000", "1"))


def run(out: Path, *, console: Console | None = None) -> int:
    console = console or Console()
    hasher = default_event_hasher()
    out.mkdir(parents=True, exist_ok=True)
    keys = out / "keys"
    receipts_dir = out / "receipts"
    receipts_dir.mkdir(exist_ok=True)
    for old in receipts_dir.glob("*.json"):
        old.unlink()

    console.rule("[bold]Medicine provenance ledger: demo on an in-process chain")
    chain = Chain.embedded()
    regulator = _new_participant_key(chain, keys, "regulator")
    deployment = deploy_contracts(chain, regulator, REGULATOR_GLN)
    deployment.save(out / "deployment.json")
    console.print(
        f"Regulator {regulator.address} deployed the registries on chain {deployment.chain_id}:"
    )
    console.print(
        f"  participants {deployment.participant_registry}\n"
        f"  anchors      {deployment.anchor_registry}\n"
        f"  recalls      {deployment.recall_registry}"
    )
    ledger = Ledger(chain, deployment)

    accounts: dict[str, LocalAccount] = {}
    for actor in ACTORS:
        account = _new_participant_key(chain, keys, actor.name.split(" (")[0].replace(" ", "-"))
        ledger.register_participant(regulator, account.address, actor.roles, int(actor.gln))
        accounts[actor.name] = account
        console.print(f"Registered {actor.name}: GLN {actor.gln}, {account.address}")

    journey = build_journey()
    table = Table(title="Anchored batches (one per participant)")
    for column in ("participant", "events", "root", "block", "gas"):
        table.add_column(column)
    written: list[Path] = []
    for actor in ACTORS:
        events = journey.events[actor.name]
        hashed = [(hasher(event), secrets.token_bytes(32), event) for event in events]
        batch = anchor_batch(ledger, accounts[actor.name], [(h, s) for h, s, _ in hashed])
        table.add_row(
            actor.name,
            str(len(events)),
            "0x" + batch.root.hex()[:16] + "…",
            str(batch.tx.block_number),
            str(batch.tx.gas_used),
        )
        written += _write_receipts(batch, hashed, receipts_dir, len(written))
    console.print(table)

    invalid = 0
    for path in written:
        verdict = verify_receipt(Receipt.read(path), chain=chain, event_hasher=hasher)
        invalid += not verdict.valid
    (out / "epcis-document.json").write_text(
        json.dumps(as_document([e for a in ACTORS for e in journey.events[a.name]]), indent=2),
        encoding="utf-8",
    )
    colour = "green" if not invalid else "red"
    console.print(
        f"[{colour}]{len(written) - invalid} of {len(written)} receipts verified "
        f"offline and on-chain[/{colour}] → {receipts_dir}/"
    )
    console.print(f"Check one yourself (offline): provenance verify {written[-1]}")
    return 1 if invalid else 0


def _new_participant_key(chain: Chain, keys: Path, name: str) -> LocalAccount:
    path = keys / f"{name}.json"
    if path.exists():
        path.unlink()  # the in-process chain is new each run, and so are its participants
    account = create_keystore(path, DEVELOPMENT_PASSWORD, fast_kdf=True)
    chain.fund(account.address, 10**20)
    return account


def _write_receipts(
    batch: AnchoredBatch,
    hashed: list[tuple[bytes, bytes, dict[str, object]]],
    folder: Path,
    start: int,
) -> list[Path]:
    paths = []
    for offset, (event_hash, salt, event) in enumerate(hashed):
        receipt = batch.receipt_for(event_hash, salt, event=dict(event))
        kind = str(event.get("bizStep", event["type"]))
        path = folder / f"{start + offset + 1:03d}-{kind}.json"
        path.write_text(receipt.dumps(), encoding="utf-8")
        paths.append(path)
    return paths
