"""Shared helpers for the medledger/epcis tests: where ``../shared/vectors`` is, if anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# tests/medledger/epcis/conftest.py -> parents[3] is the repository root; shared/ sits beside it.
_REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("PROVENANCE_SHARED_DIR", _REPO / ".." / "shared")).resolve()
VECTORS = SHARED / "vectors"
SKIP_REASON = f"shared test vectors not found at {VECTORS} (set PROVENANCE_SHARED_DIR)"


def vector_files(subdir: str, pattern: str) -> list[Path]:
    """Files for parametrisation; empty (and the test skipped) when the vectors are absent."""
    folder = VECTORS / subdir
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def require_vectors() -> None:
    if not VECTORS.is_dir():
        pytest.skip(SKIP_REASON)
