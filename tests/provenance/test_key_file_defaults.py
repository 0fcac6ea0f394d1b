"""Key-file defaults: the commands find the keys `provenance up` writes (``data/gateway/``,
``data/indexer/``), else those of a standalone gateway or indexer (``data/``), else exit 2 naming
both places."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import provenance.alerts
import provenance.codes_command
import provenance.recall
import provenance.simulate
from gateway.settings import GatewaySettings
from indexer.settings import IndexerSettings
from provenance.cli import app
from provenance.options import (
    INDEXER_READER_KEY_FILES,
    MANUFACTURER_KEY_FILES,
    REGULATOR_KEY_FILES,
)

runner = CliRunner()
GTIN = "04700123123452"

#: command line, (module, function) it hands the key file to, the candidates
COMMANDS: dict[str, tuple[list[str], tuple[Any, str], tuple[Path, ...]]] = {
    "recall": (
        ["recall", GTIN, "L1", "--reason", "x"],
        (provenance.recall, "run_recall"),
        REGULATOR_KEY_FILES,
    ),
    "release": (["release", GTIN, "L1"], (provenance.recall, "run_release"), REGULATOR_KEY_FILES),
    "simulate": (["simulate"], (provenance.simulate, "run_against"), REGULATOR_KEY_FILES),
    "codes": (
        ["codes", GTIN, "L1", "--count", "1"],
        (provenance.codes_command, "run_codes"),
        MANUFACTURER_KEY_FILES,
    ),
    "alerts": (["alerts"], (provenance.alerts, "run"), INDEXER_READER_KEY_FILES),
}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def capture_key(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> Callable[[], tuple[Path | None, str | None]]:
    """Replace what the command calls; report the key file (or, for simulate, the key) it got."""
    _args, (module, name), _candidates = COMMANDS[command]
    got: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> Any:
        got.update(kwargs)
        if command == "simulate":
            got["key"] = args[1]
            raise provenance.simulate.SimulationError("stop here")
        return 0

    monkeypatch.setattr(module, name, fake)
    return lambda: (got.get("key_file"), got.get("key"))


def write(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n", encoding="utf-8")


def test_the_first_defaults_are_where_up_writes_and_the_second_where_standalone_services_do() -> (
    None
):
    # `provenance up` (default --data-dir data): the gateway in data/gateway, the indexer in
    # data/indexer; the gateway writes DATA_DIR/regulator.api-key (GatewayService).
    data = Path("data")
    gateway = GatewaySettings(data_dir=data / "gateway")
    assert REGULATOR_KEY_FILES[0] == gateway.data_dir / "regulator.api-key"
    assert REGULATOR_KEY_FILES[1] == GatewaySettings(data_dir=data).data_dir / "regulator.api-key"
    indexer = IndexerSettings(data_dir=data / "indexer")
    assert INDEXER_READER_KEY_FILES[0] == indexer.resolved_bootstrap_api_key_file
    assert (
        INDEXER_READER_KEY_FILES[1]
        == IndexerSettings(data_dir=data).resolved_bootstrap_api_key_file
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_no_key_file_anywhere_exits_2_naming_both_places(
    command: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, _target, candidates = COMMANDS[command]
    got = capture_key(monkeypatch, command)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    for path in candidates:
        assert str(path) in result.output
    assert "--key-file" in result.output
    assert got() == (None, None)  # never called


@pytest.mark.parametrize("command", COMMANDS)
def test_the_up_layout_is_found_first(
    command: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, _target, candidates = COMMANDS[command]
    up_layout, standalone = candidates
    write(up_layout, "pk_up")
    write(standalone, "pk_standalone")
    got = capture_key(monkeypatch, command)
    runner.invoke(app, args)
    key_file, key = got()
    if command == "simulate":
        assert key == "pk_up"
    else:
        assert key_file == up_layout


@pytest.mark.parametrize("command", COMMANDS)
def test_the_standalone_layout_is_found_when_up_wrote_none(
    command: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, _target, candidates = COMMANDS[command]
    write(candidates[1], "pk_standalone")
    got = capture_key(monkeypatch, command)
    runner.invoke(app, args)
    key_file, key = got()
    if command == "simulate":
        assert key == "pk_standalone"
    else:
        assert key_file == candidates[1]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_explicit_key_file_wins(
    command: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, _target, candidates = COMMANDS[command]
    write(candidates[0], "pk_up")
    mine = in_tmp / "mine.api-key"
    write(mine, "pk_mine")
    got = capture_key(monkeypatch, command)
    runner.invoke(app, [*args, "--key-file", str(mine)])
    key_file, key = got()
    if command == "simulate":
        assert key == "pk_mine"
    else:
        assert key_file == mine


def test_a_missing_explicit_key_file_is_reported_by_the_command(in_tmp: Path) -> None:
    """An explicit path is not replaced by a default: the command says it cannot read it."""
    write(REGULATOR_KEY_FILES[0], "pk_up")
    result = runner.invoke(
        app, ["recall", GTIN, "L1", "--reason", "x", "--key-file", "nowhere.api-key"]
    )
    assert result.exit_code == 2
    assert "cannot read the key file nowhere.api-key" in result.output
