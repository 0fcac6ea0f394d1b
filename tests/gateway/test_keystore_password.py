"""The keystore password (issue 15, secrets): given by the operator, else generated once into a
0600 file in the data folder; the public development password only for the demo and
``up --embedded``, which no environment variable can ask for; keystores with the development
KDF refused at start, naming the command that re-encrypts them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chain.keystore import DEVELOPMENT_PASSWORD, create_keystore, load_keystore
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.startup import refuse_weak_keystores
from medledger.errors import ConfigurationError

ENV = "PROVENANCE_GATEWAY_"


@pytest.fixture(autouse=True)
def no_password_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEYSTORE_PASSWORD", "KEYSTORE_PASSWORD_FILE", "ENVIRONMENT"):
        monkeypatch.delenv(ENV + name, raising=False)


def test_without_a_password_one_is_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    settings = GatewaySettings(data_dir=tmp_path / "data")
    password = settings.keystore_password_value()
    assert password != DEVELOPMENT_PASSWORD and len(password) >= 40
    kept = tmp_path / "data" / "keystore.password"
    assert settings.generated_password_file == kept
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert GatewaySettings(data_dir=tmp_path / "data").keystore_password_value() == password
    assert not settings.fast_kdf


def test_a_given_password_is_used_and_nothing_is_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV + "KEYSTORE_PASSWORD", "operator's own")
    assert GatewaySettings(data_dir=tmp_path).keystore_password_value() == "operator's own"
    monkeypatch.delenv(ENV + "KEYSTORE_PASSWORD")
    (tmp_path / "pw").write_text("from a secret file\n")
    monkeypatch.setenv(ENV + "KEYSTORE_PASSWORD_FILE", str(tmp_path / "pw"))
    assert GatewaySettings(data_dir=tmp_path).keystore_password_value() == "from a secret file"
    assert not (tmp_path / "keystore.password").exists()


@pytest.mark.parametrize("how", ["KEYSTORE_PASSWORD", "KEYSTORE_PASSWORD_FILE"])
def test_the_development_password_is_refused_naming_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "KEYSTORE_PASSWORD":
        monkeypatch.setenv(ENV + how, DEVELOPMENT_PASSWORD)
    else:
        (tmp_path / "pw").write_text(DEVELOPMENT_PASSWORD)
        monkeypatch.setenv(ENV + how, str(tmp_path / "pw"))
    settings = GatewaySettings(data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="PROVENANCE_GATEWAY_KEYSTORE_PASSWORD or "
                       "PROVENANCE_GATEWAY_KEYSTORE_PASSWORD_FILE"):  # fmt: skip
        settings.keystore_password_value()
    allowed = settings.allowing_development_password()
    assert allowed.keystore_password_value() == DEVELOPMENT_PASSWORD


def test_only_the_demo_and_embedded_ask_for_the_development_password_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ALLOW_DEVELOPMENT_PASSWORD", "DEVELOPMENT_PASSWORD_ALLOWED"):
        monkeypatch.setenv(ENV + name, "true")
    settings = GatewaySettings(data_dir=tmp_path)
    assert not settings.development_password_allowed
    assert settings.keystore_password_value() != DEVELOPMENT_PASSWORD
    allowed = settings.allowing_development_password()
    assert allowed.keystore_password_value() == DEVELOPMENT_PASSWORD and allowed.fast_kdf
    assert not settings.development_password_allowed  # a copy: the original is unchanged


def test_production_wants_a_given_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV + "ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="PROVENANCE_GATEWAY_KEYSTORE_PASSWORD"):
        GatewaySettings(data_dir=tmp_path).keystore_password_value()
    assert not (tmp_path / "keystore.password").exists()


def test_an_empty_password_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("\n")
    monkeypatch.setenv(ENV + "KEYSTORE_PASSWORD_FILE", str(tmp_path / "pw"))
    with pytest.raises(ConfigurationError, match="is empty"):
        GatewaySettings(data_dir=tmp_path).keystore_password_value()


def test_a_data_dir_with_development_keystores_is_refused_naming_reencrypt(tmp_path: Path) -> None:
    settings = GatewaySettings(data_dir=tmp_path / "data")
    create_keystore(settings.resolved_keystore_dir / "regulator.json", DEVELOPMENT_PASSWORD,
                    fast_kdf=True)  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"run `provenance keys reencrypt .*data` "):
        refuse_weak_keystores(settings)
    refuse_weak_keystores(settings.allowing_development_password())  # the demo's own


def test_a_gateway_keeps_its_generated_password_and_opens_its_keys_at_the_next_start(
    tmp_path: Path,
) -> None:
    settings = GatewaySettings(data_dir=tmp_path / "data")
    first = GatewayService(settings)
    regulator = first.regulator.address
    first.stop()
    keystore = settings.resolved_keystore_dir / "regulator.json"
    assert json.loads(keystore.read_text())["crypto"]["kdf"] == "scrypt"
    password = settings.generated_password_file.read_text().strip()
    assert load_keystore(keystore, password).address == regulator
    second = GatewayService(GatewaySettings(data_dir=tmp_path / "data"))
    try:
        assert second.regulator.address == regulator
    finally:
        second.stop()
    assert settings.generated_password_file.read_text().strip() == password
