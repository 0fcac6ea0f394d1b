"""``provenance recall`` and ``provenance release``: exit codes 0 done, 1 refused, 2 unusable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medledger.epcis.digital_link import gtin_of
from medledger.epcis.identifiers import canonical_identifier
from provenance.cli import app
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.journey import FINISHED_LOT, MANUFACTURER, PHARMACY, build_journey
from provenance.recall import run_recall, run_release
from tests.support.network import Network, start_network


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    network = start_network(tmp_path / "gateway")
    journey = build_journey(4, packs_per_case=2)
    for step in journey.steps[:5]:
        network.capture(step.actor, step.events)
    yield network
    network.gateway.stop()


@pytest.fixture
def gtin() -> str:
    found = gtin_of(canonical_identifier(build_journey(4, packs_per_case=2).packs[0]))
    assert found is not None
    return found


def key_file(tmp_path: Path, headers: dict[str, str]) -> Path:
    path = tmp_path / "key"
    path.write_text(headers["Authorization"].removeprefix("Bearer ") + "\n")
    return path


def test_recall_and_release_through_the_gateway(
    network: Network, gtin: str, tmp_path: Path
) -> None:
    key = key_file(tmp_path, network.regulator)
    said: list[str] = []
    code = run_recall(
        gtin,
        FINISHED_LOT,
        reason="contaminated",
        reason_code=4,
        key_file=key,
        client=network.http,
        echo=said.append,
    )
    assert code == EXIT_OK, said
    assert said[-1].startswith(f"recalled lot {FINISHED_LOT} of GTIN {gtin}")
    assert network.gateway.ledger.is_recalled(int(gtin), FINISHED_LOT)

    again = run_recall(
        gtin, FINISHED_LOT, reason="again", key_file=key, client=network.http, echo=said.append
    )
    assert again == EXIT_REFUSED and "409" in said[-1]

    code = run_release(gtin, FINISHED_LOT, key_file=key, client=network.http, echo=said.append)
    assert code == EXIT_OK and said[-1].startswith("released")
    assert not network.gateway.ledger.is_recalled(int(gtin), FINISHED_LOT)
    code = run_release(gtin, FINISHED_LOT, key_file=key, client=network.http, echo=said.append)
    assert code == EXIT_REFUSED


def test_refused_for_a_participant_or_an_unknown_lot(
    network: Network, gtin: str, tmp_path: Path
) -> None:
    said: list[str] = []
    maker = key_file(tmp_path, network.keys[MANUFACTURER.name])
    code = run_recall(
        gtin, FINISHED_LOT, reason="x", key_file=maker, client=network.http, echo=said.append
    )
    assert code == EXIT_REFUSED and "403" in said[-1]
    regulator = key_file(tmp_path, network.regulator)
    code = run_recall(
        gtin, "UNKNOWN-9", reason="x", key_file=regulator, client=network.http, echo=said.append
    )
    assert code == EXIT_REFUSED and "404" in said[-1]
    pharmacy = key_file(tmp_path, network.keys[PHARMACY.name])
    assert (
        run_release(gtin, FINISHED_LOT, key_file=pharmacy, client=network.http, echo=said.append)
        == EXIT_REFUSED
    )


def test_unusable_input_and_an_unreachable_gateway_exit_2(gtin: str, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("pk_abc_def\n")
    runner = CliRunner()
    bad_gtin = gtin[:13] + str((int(gtin[13]) + 1) % 10)
    result = runner.invoke(app, ["recall", bad_gtin, "L1", "--reason", "x", "--key-file", str(key)])
    assert result.exit_code == EXIT_UNUSABLE and "check digit" in result.output
    result = runner.invoke(
        app, ["recall", gtin, "L1", "--reason", "x", "--key-file", str(tmp_path / "missing")]
    )
    assert result.exit_code == EXIT_UNUSABLE and "key file" in result.output
    result = runner.invoke(
        app,
        ["release", gtin, "L1", "--gateway", "http://127.0.0.1:9", "--key-file", str(key)],
    )
    assert result.exit_code == EXIT_UNUSABLE and "does not answer" in result.output
    result = runner.invoke(app, ["recall", gtin, "L1", "--key-file", str(key)])
    assert result.exit_code == 2  # --reason is required (typer's usage error)
