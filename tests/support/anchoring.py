"""Anchoring without a gateway: batches written as files, roots anchored straight on chain.

What an auditor's folder of batch files looks like, and a way to build any chain history
(reorganisations included) that the indexer must follow.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.deployment import Deployment, deploy_contracts
from chain.ledger import Ledger
from devkit.constants import REGULATOR_GLN
from indexer.verification import event_digest
from medledger.epcis.builders import Actor
from medledger.epcis.event_id import EventId
from medledger.merkle import MerkleTree
from provenance.journey import ACTORS


@dataclass
class Publisher:
    """Anchors batches of events as the journey's actors and writes ``0x<root>.json`` files."""

    ledger: Ledger
    regulator: LocalAccount
    folder: Path
    accounts: dict[str, LocalAccount] = field(default_factory=dict)

    @property
    def deployment(self) -> Deployment:
        return self.ledger.deployment

    def batch_document(self, actor: Actor, events: list[dict[str, Any]]) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        for event in events:
            digest = event_digest(event)
            entries.append(
                {
                    "eventID": EventId(digest).uri,
                    "eventHash": "0x" + digest.hex(),
                    "salt": "0x" + secrets.token_bytes(32).hex(),
                    "event": event,
                }
            )
        tree = MerkleTree.build(
            [(bytes.fromhex(e["eventHash"][2:]), bytes.fromhex(e["salt"][2:])) for e in entries]
        )
        return {
            "root": "0x" + tree.root.hex(),
            "participant": self.accounts[actor.name].address,
            "events": entries,
        }

    def publish(self, actor: Actor, events: list[dict[str, Any]]) -> bytes:
        """Anchor ``events`` as ``actor``; the batch file is written first."""
        document = self.batch_document(actor, events)
        root = bytes.fromhex(document["root"][2:])
        self.write(document)
        self.ledger.anchor(self.accounts[actor.name], root, len(events))
        return root

    def write(self, document: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{document['root']}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    def rebind(self, chain: Chain) -> None:
        """Use a new connection (after a revert, cached nonces would be wrong)."""
        self.ledger = Ledger(chain, self.deployment)


def start_publisher(chain: Chain, folder: Path) -> Publisher:
    """Contracts deployed and the journey's actors registered with their GLNs."""
    regulator = chain.new_funded_account()
    deployment = deploy_contracts(chain, regulator, REGULATOR_GLN)
    ledger = Ledger(chain, deployment)
    publisher = Publisher(ledger, regulator, folder)
    for actor in ACTORS:
        account = chain.new_funded_account()
        ledger.register_participant(regulator, account.address, actor.roles, int(actor.gln))
        ledger.set_company_prefixes(regulator, account.address, [actor.company_prefix])
        publisher.accounts[actor.name] = account
    return publisher
