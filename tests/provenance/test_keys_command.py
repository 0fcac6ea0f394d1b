"""`provenance keys check|reencrypt`, and the development keystore password refused at every
start but the demo's and `up --embedded`'s (issue 15, secrets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.keystore import DEVELOPMENT_PASSWORD, create_keystore, load_keystore, weak_keystores
from devkit.nodes import free_port
from gateway.settings import PASSWORD_SETTINGS
from provenance.cli import app, main

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def no_password_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEYSTORE_PASSWORD", "KEYSTORE_PASSWORD_FILE", "ENVIRONMENT"):
        monkeypatch.delenv(f"PROVENANCE_GATEWAY_{name}", raising=False)


def private_tree(root: Path) -> Path:
    """A data folder as `up` leaves it: every folder 0700, every secret 0600."""
    files = {
        "gateway/regulator.api-key": "key",
        "gateway/keystore.password": "pw",
        "gateway/gateway.db": "",
        "gateway/deployment.json": "{}",
        "chain/seed": "00",
        "chain/ganache.log": "",
        "indexer/indexer.db-wal": "",
    }
    root.mkdir(mode=0o700)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)
    create_keystore(root / "gateway" / "keys" / "regulator.json", "pw", fast_kdf=True)
    (root / "gateway" / "keys").chmod(0o700)
    return root


def test_check_passes_an_owner_only_folder_and_names_every_open_secret(tmp_path: Path) -> None:
    data = private_tree(tmp_path / "data")
    (data / "gateway" / "deployment.json").chmod(0o644)  # public: addresses and the chain id
    passed = runner.invoke(app, ["keys", "check", str(data)])
    assert passed.exit_code == 0, passed.output
    assert "readable by its owner only" in passed.output

    (data / "chain" / "seed").chmod(0o644)
    (data / "gateway" / "keys" / "regulator.json").chmod(0o640)
    (data / "indexer").chmod(0o755)
    found = runner.invoke(app, ["keys", "check", str(data)])
    assert found.exit_code == 1, found.output
    lines = [line for line in found.output.splitlines() if line.startswith("open to")]
    assert lines == [
        "open to group/others: chain/seed (chain wallet seed): mode 0644",
        "open to group/others: gateway/keys/regulator.json (keystore): mode 0640",
        f"open to group/others: indexer/indexer.db-wal (SQLite database): in folder "
        f"{data / 'indexer'} (0755)",
    ]


def test_check_in_json_names_the_same_exposures_for_monitoring(tmp_path: Path) -> None:
    """``--json``: one object a monitoring job reads, the same exit codes (0 none, 1 some)."""
    data = private_tree(tmp_path / "data")
    clean = runner.invoke(app, ["keys", "check", "--json", str(data)])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output) == {"folder": str(data), "exposed": []}

    (data / "chain" / "seed").chmod(0o644)
    (data / "indexer").chmod(0o755)
    found = runner.invoke(app, ["keys", "check", "--json", str(data)])
    assert found.exit_code == 1, found.output
    assert json.loads(found.output)["exposed"] == [
        {
            "path": "chain/seed",
            "kind": "chain wallet seed",
            "mode": "0644",
            "openToOthers": True,
            "openFolders": [],
        },
        {
            "path": "indexer/indexer.db-wal",
            "kind": "SQLite database",
            "mode": "0600",
            "openToOthers": False,
            "openFolders": [{"path": str(data / "indexer"), "mode": "0755"}],
        },
    ]


def test_check_of_a_missing_folder_is_unusable(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "check", str(tmp_path / "missing")])
    assert result.exit_code == 2


def serve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["provenance", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return int(exited.value.code or 0), captured.err.strip().splitlines()[-1]


def test_the_gateway_given_the_development_password_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PROVENANCE_GATEWAY_KEYSTORE_PASSWORD", DEVELOPMENT_PASSWORD)
    code, line = serve(monkeypatch, capsys, "gateway", "--port", str(free_port()),
                       "--data-dir", str(tmp_path / "data"))  # fmt: skip
    assert code == 2
    assert line.startswith("cannot start the gateway: the public development keystore password")
    assert f"set {PASSWORD_SETTINGS} to a password of your own" in line


def test_development_keystores_stop_the_gateway_until_reencrypted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A data folder of an earlier `up` (the public password, the fast KDF): the gateway exits
    2 naming `provenance keys reencrypt`; that re-encrypts every keystore with scrypt under the
    generated password, and the gateway then opens them."""
    data = tmp_path / "data"
    keys = data / "gateway" / "keys"
    made = [create_keystore(keys / f"{name}.json", DEVELOPMENT_PASSWORD, fast_kdf=True)
            for name in ("regulator", "participant-4700123000005")]  # fmt: skip
    code, line = serve(monkeypatch, capsys, "gateway", "--port", str(free_port()),
                       "--data-dir", str(data / "gateway"))  # fmt: skip
    assert code == 2
    assert f"run `provenance keys reencrypt {data / 'gateway'}`" in line

    result = runner.invoke(app, ["keys", "reencrypt", str(data)])  # up's folder: gateway/ in it
    assert result.exit_code == 0, result.output
    assert "2 keystore(s) re-encrypted" in result.output
    assert weak_keystores(keys) == []
    password = (data / "gateway" / "keystore.password").read_text().strip()
    for account, path in zip(made, sorted(keys.glob("*.json"))[::-1], strict=True):
        assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
        assert load_keystore(path, password).key == account.key
    again = runner.invoke(app, ["keys", "reencrypt", str(data / "gateway")])
    assert again.exit_code == 0 and "nothing to re-encrypt" in again.output


def test_reencrypt_refuses_the_development_password_as_the_new_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    create_keystore(tmp_path / "keys" / "regulator.json", DEVELOPMENT_PASSWORD, fast_kdf=True)
    monkeypatch.setenv("PROVENANCE_GATEWAY_KEYSTORE_PASSWORD", DEVELOPMENT_PASSWORD)
    result = runner.invoke(app, ["keys", "reencrypt", str(tmp_path)])
    assert result.exit_code == 2
    assert weak_keystores(tmp_path / "keys") != []


@pytest.mark.slow
def test_up_embedded_still_starts_on_the_development_password(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out.txt"
    environment = {**os.environ, "PROVENANCE_GATEWAY_KEYSTORE_PASSWORD": DEVELOPMENT_PASSWORD}
    with out.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "provenance", "up", "--embedded", "--data-dir", str(data),
             "--gateway-port", str(free_port()), "--indexer-port", str(free_port())],
            cwd=ROOT, stdout=stdout, stderr=subprocess.STDOUT, env=environment,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "press Ctrl-C" not in out.read_text():
            assert process.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, out.read_text()
    keystore = json.loads((data / "gateway" / "keys" / "regulator.json").read_text())
    assert keystore["crypto"]["kdf"] == "pbkdf2"  # the fast KDF: a throw-away ledger
