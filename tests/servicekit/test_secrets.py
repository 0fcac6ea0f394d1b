"""Secret files: made once, 0600 from the first byte, and the owner-only umask."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from servicekit.secrets import PRIVATE_UMASK, ensure_secret, private_umask


def test_a_secret_is_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "keystore.password"
    first = ensure_secret(path)
    assert len(first) >= 40  # 32 random bytes, URL-safe
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_secret(path) == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["keystore.password"]


def test_two_secrets_are_not_the_same(tmp_path: Path) -> None:
    assert ensure_secret(tmp_path / "a") != ensure_secret(tmp_path / "b")


def test_an_empty_secret_file_is_an_error_not_a_new_secret(tmp_path: Path) -> None:
    path = tmp_path / "keystore.password"
    path.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        ensure_secret(path)
    assert path.read_text() == "\n"


def test_the_private_umask_makes_new_files_owner_only(tmp_path: Path) -> None:
    old = private_umask()
    try:
        assert os.umask(PRIVATE_UMASK) == 0o077
        (tmp_path / "made.log").write_text("x")
        (tmp_path / "folder").mkdir()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "made.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o700


def test_callers_racing_to_make_a_secret_all_get_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "keystore.password"
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = set(pool.map(lambda _: ensure_secret(path), range(32)))
    assert found == {path.read_text().strip()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore.password"]
