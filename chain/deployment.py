"""Deploying the three contracts and remembering where they are."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from chain.artifacts import ANCHOR_REGISTRY, PARTICIPANT_REGISTRY, RECALL_REGISTRY, load_artifact
from chain.client import Chain
from chain.signer import Signer
from medledger.errors import ConfigurationError


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment of the contracts on one chain."""

    chain_id: int
    participant_registry: str
    anchor_registry: str
    recall_registry: str
    regulator: str
    deployed_at_block: int

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise ConfigurationError(f"cannot read deployment file {path}: {exc}") from exc


def deploy_contracts(chain: Chain, regulator: Signer, regulator_gln: int) -> Deployment:
    """Deploy the registries with ``regulator`` as the deployer (and so the admin)."""
    start = chain.block_number
    participants = chain.deploy(regulator, load_artifact(PARTICIPANT_REGISTRY), regulator_gln)
    anchors = chain.deploy(regulator, load_artifact(ANCHOR_REGISTRY), participants)
    recalls = chain.deploy(regulator, load_artifact(RECALL_REGISTRY), participants)
    return Deployment(
        chain_id=chain.chain_id,
        participant_registry=participants,
        anchor_registry=anchors,
        recall_registry=recalls,
        regulator=regulator.address,
        deployed_at_block=start + 1,
    )
