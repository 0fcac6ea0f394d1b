"""Keystores: keys encrypted at rest, passwords never defaulted outside development."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chain.keystore import (
    DEVELOPMENT_PASSWORD,
    create_keystore,
    is_weak,
    keystore_address,
    load_keystore,
    reencrypt_keystore,
    resolve_password,
    weak_keystores,
)
from medledger.errors import KeystoreError


def test_a_keystore_round_trips_and_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "maker.json"
    account = create_keystore(path, "s3cret-enough", fast_kdf=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keystore_address(path) == account.address
    assert load_keystore(path, "s3cret-enough").key == account.key
    assert account.key.hex() not in path.read_text()


def test_a_wrong_password_is_a_keystore_error(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "right", fast_kdf=True)
    with pytest.raises(KeystoreError, match="wrong password"):
        load_keystore(path, "wrong")


def test_an_existing_keystore_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "pw", fast_kdf=True)
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        create_keystore(path, "pw", fast_kdf=True)


def test_the_password_comes_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\n")
    assert resolve_password(password_file=secret) == "from-file"
    monkeypatch.setenv("GATEWAY_KEYSTORE_PASSWORD", "from-env")
    assert resolve_password(password_env="GATEWAY_KEYSTORE_PASSWORD") == "from-env"


def test_no_password_is_an_error_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(KeystoreError, match="no keystore password"):
        resolve_password(password_env="NOPE")
    assert resolve_password(password_env="NOPE", development=True) == DEVELOPMENT_PASSWORD


def test_the_development_password_is_refused_in_production(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(DEVELOPMENT_PASSWORD)
    with pytest.raises(KeystoreError, match="refused outside development"):
        resolve_password(password_file=secret)


def test_keystores_are_written_with_scrypt_at_eth_accounts_cost_unless_fast(
    tmp_path: Path,
) -> None:
    strong, fast = tmp_path / "strong.json", tmp_path / "fast.json"
    create_keystore(strong, "pw")
    create_keystore(fast, "pw", fast_kdf=True)
    crypto = json.loads(strong.read_text())["crypto"]
    assert crypto["kdf"] == "scrypt" and crypto["kdfparams"]["n"] == 2**18
    assert not is_weak(json.loads(strong.read_text()))
    assert is_weak(json.loads(fast.read_text()))
    assert weak_keystores(tmp_path) == [fast]
    assert weak_keystores(tmp_path / "missing") == []


def test_a_weak_keystore_is_reencrypted_in_place_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "participant.json"
    account = create_keystore(path, DEVELOPMENT_PASSWORD, fast_kdf=True)
    again = reencrypt_keystore(path, ["not-it", DEVELOPMENT_PASSWORD], "a-real-password")
    assert again.address == account.address
    assert load_keystore(path, "a-real-password").key == account.key
    with pytest.raises(KeystoreError, match="wrong password"):
        load_keystore(path, DEVELOPMENT_PASSWORD)
    assert weak_keystores(path.parent) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["participant.json"]  # no leftovers


def test_a_keystore_no_password_opens_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "secret", fast_kdf=True)
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="with any password given"):
        reencrypt_keystore(path, [DEVELOPMENT_PASSWORD], "new")
    assert path.read_bytes() == before
