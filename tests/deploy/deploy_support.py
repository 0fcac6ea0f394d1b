"""Loading the deployment files (and deploy/besu/generate.py, which is a script, not a package)."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
BESU = ROOT / "deploy" / "besu"


@cache
def besu_generator() -> ModuleType:
    """deploy/besu/generate.py as a module."""
    spec = importlib.util.spec_from_file_location("besu_generate", BESU / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document
