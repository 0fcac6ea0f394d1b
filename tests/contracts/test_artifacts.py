"""The committed contract artifacts are exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "chain" / "compiled"
DEPLOYABLE = {"ParticipantRegistry", "AnchorRegistry", "RecallRegistry"}

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir(),
    reason="needs node and node_modules/solc (run `make deps`)",
)


def _load_compiler() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compile_contracts", ROOT / "scripts" / "compile_contracts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compiler() -> ModuleType:
    return _load_compiler()


@pytest.fixture(scope="module")
def fresh(compiler: ModuleType) -> dict[str, dict[str, Any]]:
    artifacts: dict[str, dict[str, Any]] = compiler.compile_all(ROOT)
    return artifacts


def test_exactly_the_deployable_contracts_have_artifacts(
    fresh: dict[str, dict[str, Any]],
) -> None:
    assert set(fresh) == DEPLOYABLE
    assert {p.stem for p in BUILD_DIR.glob("*.json")} == DEPLOYABLE


def test_committed_artifacts_match_a_fresh_compile(
    compiler: ModuleType, fresh: dict[str, dict[str, Any]]
) -> None:
    drifted = sorted(
        name
        for name, artifact in fresh.items()
        if not (BUILD_DIR / f"{name}.json").is_file()
        or (BUILD_DIR / f"{name}.json").read_text(encoding="utf-8") != compiler.render(artifact)
    )
    assert not drifted, (
        f"contract artifacts out of date: {', '.join(drifted)}; "
        "run `make compile` and commit chain/compiled/"
    )


def test_artifacts_name_the_compiler_and_settings(fresh: dict[str, dict[str, Any]]) -> None:
    for artifact in fresh.values():
        compiler = artifact["compiler"]
        assert compiler["name"] == "solc"
        assert compiler["version"].startswith("0.8.28+commit.")
        assert compiler["settings"]["evmVersion"] == "paris"
        assert compiler["settings"]["optimizer"] == {"enabled": True, "runs": 200}
        assert artifact["_generated"].startswith("by scripts/compile_contracts.py")
        assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 2


def test_compiling_twice_gives_identical_bytecode(
    compiler: ModuleType, fresh: dict[str, dict[str, Any]]
) -> None:
    again = compiler.compile_all(ROOT)
    assert json.dumps(again, sort_keys=True) == json.dumps(fresh, sort_keys=True)


def test_a_compiler_error_fails_with_the_solc_message(compiler: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    (tmp_path / "contracts" / "Broken.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.24;\ncontract Broken {\n",
        encoding="utf-8",
    )
    with pytest.raises(
        compiler.CompileError, match=r"(?s)solc reported 1 error\(s\).*contracts/Broken\.sol"
    ):
        compiler.compile_all(tmp_path)
