"""Compiled contract artifacts (ABI and bytecode), as written by ``scripts/compile_contracts.py``.

The artifacts are committed under ``chain/compiled/`` (package data: an installed wheel carries
them); a test recompiles the sources and fails on any difference, so what is deployed is always
what the Solidity says.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from medledger.errors import ArtifactError

ARTIFACTS_ENV = "PROVENANCE_ARTIFACTS_DIR"

PARTICIPANT_REGISTRY = "ParticipantRegistry"
ANCHOR_REGISTRY = "AnchorRegistry"
RECALL_REGISTRY = "RecallRegistry"


@dataclass(frozen=True)
class ContractArtifact:
    """One deployable contract: its name, ABI, creation bytecode and the compiler that made it."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler_version: str


def default_artifacts_dir() -> Path:
    """``$PROVENANCE_ARTIFACTS_DIR`` if set, else the package's own ``chain/compiled``."""
    override = os.environ.get(ARTIFACTS_ENV)
    if override:
        return Path(override)
    return Path(str(resources.files("chain") / "compiled"))


@cache
def load_artifact(name: str, directory: Path | None = None) -> ContractArtifact:
    """Read ``<directory>/<name>.json``; an unusable file is an :class:`ArtifactError`."""
    path = (directory or default_artifacts_dir()) / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ContractArtifact(
            name=raw["contractName"],
            abi=raw["abi"],
            bytecode=raw["bytecode"],
            compiler_version=raw["compiler"]["version"],
        )
    except FileNotFoundError as exc:
        raise ArtifactError(f"contract artifact not found: {path} (run `make compile`)") from exc
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"contract artifact {path} is unreadable: {exc!r}") from exc
