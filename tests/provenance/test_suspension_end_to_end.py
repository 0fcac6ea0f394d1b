"""A suspension end to end from the command line, on SQLite and on PostgreSQL (the gateway's
store and the index on the same backend, both served over HTTP on loopback ports): ``provenance
suspend`` → the pharmacy's dispensing is refused → ``provenance check`` says suspended with the
case → ``provenance lift-suspension`` → ``check`` says ok and the dispensing is accepted; then
``suspend`` again and ``provenance escalate``: ``check`` says recalled and dispensing is refused
as recalled (issue 22, "Tests and numbers")."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from devkit.nodes import free_port
from gateway.api.app import create_app as gateway_app
from indexer.api.app import create_app as indexer_app
from indexer.api.deps import get_today
from indexer.service import IndexerService
from medledger.epcis import builders as epcis
from medledger.epcis.builders import as_document
from provenance.cli import app
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_WARNING
from provenance.journey import FINISHED_LOT, PHARMACY, build_journey
from tests.gateway.conftest import gateway_database
from tests.indexer.conftest import INDEX_BACKENDS, index_database
from tests.indexer.test_detection_recalled import gtin_of
from tests.support.network import Network, start_network

CASE = "PV-2026/0042"
TODAY = date(2027, 3, 1)
runner = CliRunner()


@contextmanager
def served(api: FastAPI) -> Iterator[str]:
    """``api`` on a free loopback port (no lifespan: the services are already running)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="e2e-server", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class World:
    network: Network
    indexer: IndexerService
    gateway_url: str
    indexer_url: str
    key_file: Path
    packs: list[str]


@pytest.fixture(params=INDEX_BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    backend = str(request.param)
    with ExitStack() as stack:
        gateway_url = stack.enter_context(gateway_database(backend, tmp_path))
        index_url = stack.enter_context(index_database(backend, tmp_path))
        network = start_network(tmp_path / "gateway", database_url=gateway_url)
        stack.callback(network.gateway.stop)
        journey = build_journey(4, packs_per_case=2)
        for step in journey.steps[:11]:  # down to the pharmacy, which holds a case
            network.capture(step.actor, step.events)
        network.anchor()
        indexer = network.indexer(index_url, tmp_path / "indexer")
        stack.callback(indexer.stop)
        indexer.catch_up()
        api = indexer_app(indexer, follow=False)
        api.dependency_overrides[get_today] = lambda: TODAY
        key_file = tmp_path / "regulator.key"
        key_file.write_text(network.regulator["Authorization"].removeprefix("Bearer ") + "\n")
        yield World(
            network,
            indexer,
            stack.enter_context(served(gateway_app(network.gateway, run_batcher=False))),
            stack.enter_context(served(api)),
            key_file,
            list(journey.packs),
        )


def cli(world: World, *args: str) -> tuple[int, str]:
    """``provenance ARGS`` against the world's gateway with the regulator's key file."""
    result = runner.invoke(
        app, [*args, "--gateway", world.gateway_url, "--key-file", str(world.key_file)]
    )
    return result.exit_code, result.output


def check(world: World, pack: str) -> tuple[int, dict[str, Any]]:
    """``provenance check PACK --json`` after the indexer has read the chain's latest blocks."""
    world.indexer.catch_up()
    result = runner.invoke(app, ["check", pack, "--indexer", world.indexer_url, "--json"])
    body: dict[str, Any] = json.loads(result.output)
    return result.exit_code, body


def dispense(world: World, pack: str) -> Any:
    """The pharmacy dispenses ``pack`` through the gateway's capture API."""
    event = epcis.dispense(PHARMACY, datetime.now(UTC), [pack])
    return world.network.http.post(
        "/capture", json=as_document([event]), headers=world.network.keys[PHARMACY.name]
    )


def test_suspend_refuse_check_lift_dispense_then_escalate_from_the_command_line(
    world: World,
) -> None:
    first, second = world.packs[1], world.packs[0]  # both in the case the pharmacy holds
    gtin = gtin_of(first)
    assert check(world, first)[0] == EXIT_OK

    code, said = cli(world, "suspend", gtin, FINISHED_LOT, "--case", CASE, "--reason", "ADR")
    assert code == EXIT_OK, said
    refused = dispense(world, first)
    assert refused.status_code == 400 and refused.json()["rule"] == "custody.suspended"
    code, answer = check(world, first)
    assert code == EXIT_WARNING and answer["verdict"] == "suspended"
    assert answer["suspension"]["caseNumber"] == CASE

    code, said = cli(world, "lift-suspension", gtin, FINISHED_LOT, "--reason", "no link")
    assert code == EXIT_OK, said
    code, answer = check(world, first)
    assert code == EXIT_OK and answer["verdict"] == "ok" and answer["suspended"] is False
    assert dispense(world, first).status_code == 202
    assert cli(world, "lift-suspension", gtin, FINISHED_LOT)[0] == EXIT_REFUSED

    code, said = cli(world, "suspend", gtin, FINISHED_LOT, "--case", "PV-2", "--reason", "again")
    assert code == EXIT_OK, said
    assert check(world, second)[1]["verdict"] == "suspended"
    code, said = cli(world, "escalate", gtin, FINISHED_LOT, "--reason", "confirmed")
    assert code == EXIT_OK and "to recall" in said, said
    code, answer = check(world, second)
    assert code == EXIT_WARNING and answer["verdict"] == "recalled"
    assert answer["suspended"] is False
    assert dispense(world, second).json()["rule"] == "custody.recalled"
