"""A small network for tests: a gateway with the journey's participants, and an indexer on it.

The gateway runs in-process (its HTTP API through a TestClient); the indexer reads the same
chain and fetches batch contents through that API with the regulator's key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from chain.client import Chain
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import InProcessBatchSource, refusal
from medledger.epcis.builders import Actor, as_document
from provenance.journey import ACTORS, Journey, build_journey


@dataclass
class Network:
    gateway: GatewayService
    http: TestClient
    regulator: dict[str, str]
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def chain(self) -> Chain:
        return self.gateway.chain

    def capture(self, actor: Actor, events: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.http.post(
            "/capture", json=as_document(events), headers=self.keys[actor.name]
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def anchor(self) -> None:
        self.gateway.batcher.step(flush=True)

    def run_journey(self, packs: int = 100, packs_per_case: int = 25) -> Journey:
        """Every step captured and anchored (one batch per step)."""
        journey = build_journey(packs, packs_per_case=packs_per_case)
        for step in journey.steps:
            self.capture(step.actor, step.events)
            self.anchor()
        return journey

    def batch_json(self, root: bytes) -> dict[str, Any] | None:
        response = self.http.get(f"/batches/0x{root.hex()}", headers=self.regulator)
        refused = refusal(response.status_code, response.json(), root)
        if refused is not None:  # 409 integrity: the gateway cannot prove what it stores
            raise refused
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body

    def indexer(self, database_url: str, data_dir: Path, **overrides: Any) -> IndexerService:
        source = overrides.pop("source", None) or InProcessBatchSource(self.batch_json)
        profiles = overrides.pop("profiles", None)  # names and regions: none unless given
        # judge held-back events at once (tests of the settle window pass their own)
        overrides.setdefault("settle_seconds", 0)
        # many checks from one test client: no budget (the tests of the budget pass their own)
        overrides.setdefault("check_rate_limit", "")
        settings = IndexerSettings(data_dir=data_dir, database_url=database_url, **overrides)
        return IndexerService(
            settings,
            chain=self.chain,
            deployment=self.gateway.ledger.deployment,
            source=source,
            profiles=profiles,
        )


def start_network(
    data_dir: Path,
    *,
    chain: Chain | None = None,
    database_url: str | None = None,
    rule_set: str = "pharma",
) -> Network:
    """A gateway (SQLite unless ``database_url``) with the journey's actors registered, each
    under ``rule_set``."""
    settings = GatewaySettings(
        data_dir=data_dir, database_url=database_url or f"sqlite:///{data_dir}/gateway.db"
    ).allowing_development_password()  # the fast KDF: six keystores
    service = GatewayService(settings, chain=chain)
    http = TestClient(create_app(service, run_batcher=False))
    regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
    network = Network(service, http, regulator)
    for actor in ACTORS:
        body = actor.registration(ruleSet=rule_set)
        response = http.post("/participants", json=body, headers=regulator)
        assert response.status_code == 201, response.text
        network.keys[actor.name] = {"Authorization": f"Bearer {response.json()['apiKey']}"}
        network.addresses[actor.name] = response.json()["address"]
    return network
