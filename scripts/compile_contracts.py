"""Compile contracts/*.sol offline with the pinned solcjs and write chain/compiled/<Name>.json.

The compiler is the npm ``solc`` package (solcjs) in node_modules, driven by
``scripts/solc_compile.mjs``; ``@openzeppelin/...`` imports resolve from node_modules. No network.

Artifacts are deterministic (sorted keys, indent 2, trailing newline; the metadata hash is left out
of the bytecode), so ``tests/contracts/test_artifacts.py`` can recompile and demand equality.

Usage: ``python scripts/compile_contracts.py`` (or ``make compile``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

GENERATED_NOTE = "by scripts/compile_contracts.py; do not edit"

# Settings that shape the bytecode; recorded in every artifact.
# https://docs.soliditylang.org/en/v0.8.28/using-the-compiler.html#input-description
COMPILER_SETTINGS: dict[str, Any] = {
    "evmVersion": "paris",
    "optimizer": {"enabled": True, "runs": 200},
    # No metadata hash in the bytecode: it would change with comments and whitespace; the
    # artifact's sourceSha256 records the exact source instead.
    "metadata": {"bytecodeHash": "none"},
    "remappings": [],
    "viaIR": False,
}

_OUTPUT_SELECTION = {
    "*": {
        "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"],
        "": ["ast"],
    }
}


class CompileError(Exception):
    """solc reported errors, or the compiler could not be run."""


def _node_script(root: Path) -> Path:
    return root / "scripts" / "solc_compile.mjs"


def _run_node(root: Path, args: list[str], stdin: str | None = None) -> str:
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not on PATH; install Node.js and run `npm ci`")
    if not (root / "node_modules" / "solc").is_dir():
        raise CompileError("node_modules/solc is missing; run `npm ci` (or `make deps`)")
    proc = subprocess.run(
        [node, str(_node_script(root)), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(f"solc_compile.mjs failed (exit {proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def compiler_version(root: Path) -> str:
    """The full solcjs version string, e.g. ``0.8.28+commit.7893614a.Emscripten.clang``."""
    return _run_node(root, ["--version"]).strip()


def source_names(root: Path) -> list[str]:
    """Project-relative names of every contract source, sorted: ``contracts/<File>.sol``."""
    return sorted(p.relative_to(root).as_posix() for p in (root / "contracts").glob("*.sol"))


def standard_json_input(root: Path) -> dict[str, Any]:
    """The solc standard-JSON input for every ``contracts/*.sol``."""
    sources = {
        name: {"content": (root / name).read_text(encoding="utf-8")} for name in source_names(root)
    }
    if not sources:
        raise CompileError(f"no Solidity sources in {root / 'contracts'}")
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {**COMPILER_SETTINGS, "outputSelection": _OUTPUT_SELECTION},
    }


def _deployable_contracts(ast: dict[str, Any]) -> list[str]:
    """Names of the concrete contracts (not libraries, interfaces or abstract) in a source AST."""
    return [
        node["name"]
        for node in ast.get("nodes", [])
        if node.get("nodeType") == "ContractDefinition"
        and node.get("contractKind") == "contract"
        and not node.get("abstract", False)
    ]


def _raise_on_errors(output: dict[str, Any]) -> None:
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        details = "\n".join(e.get("formattedMessage") or e.get("message", "?") for e in errors)
        raise CompileError(f"solc reported {len(errors)} error(s):\n{details}")


def compile_all(root: Path) -> dict[str, dict[str, Any]]:
    """Compile every ``contracts/*.sol`` under ``root``; return artifacts by contract name.

    Nothing is written. Only deployable contracts of the project's own sources get an artifact.
    Raises :class:`CompileError` on any compiler error.
    """
    std_input = standard_json_input(root)
    raw = _run_node(root, [], stdin=json.dumps(std_input))
    try:
        output: dict[str, Any] = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CompileError(f"solc output is not JSON ({exc}); first bytes: {raw[:200]!r}") from exc
    _raise_on_errors(output)
    version = compiler_version(root)

    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, source in std_input["sources"].items():
        ast = output["sources"][source_name]["ast"]
        sha = hashlib.sha256(source["content"].encode("utf-8")).hexdigest()
        for name in _deployable_contracts(ast):
            compiled = output["contracts"][source_name][name]
            if name in artifacts:
                raise CompileError(f"contract name {name} is defined twice")
            artifacts[name] = {
                "_generated": GENERATED_NOTE,
                "contractName": name,
                "sourceName": source_name,
                "compiler": {"name": "solc", "version": version, "settings": COMPILER_SETTINGS},
                "sourceSha256": sha,
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The exact text of an artifact file."""
    return json.dumps(artifact, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_dir(root: Path) -> Path:
    return root / "chain" / "compiled"


def write_artifacts(root: Path, artifacts: dict[str, dict[str, Any]]) -> list[Path]:
    """Write one ``chain/compiled/<Name>.json`` per artifact; remove stale ones."""
    out = build_dir(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in sorted(artifacts.items()):
        path = out / f"{name}.json"
        path.write_text(render(artifact), encoding="utf-8")
        written.append(path)
    for stale in out.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    return written


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    try:
        artifacts = compile_all(root)
    except CompileError as exc:
        print(f"compile_contracts: {exc}", file=sys.stderr)
        return 1
    for path in write_artifacts(root, artifacts):
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
