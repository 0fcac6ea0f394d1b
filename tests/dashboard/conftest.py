"""One indexed world for the page tests: the journey, a second lot released and recalled, two
packs sold by a rogue pharmacy of region KG-C while the distributor holds them (two clone
alerts), an indexer over it with the pages mounted on a loopback port, reader keys for each
role, and Chromium (skipped with the reason where it is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser

from dashboard.app import mount
from devkit.nodes import free_port
from indexer.api.app import create_app
from indexer.api.deps import get_today
from indexer.service import IndexerService
from indexer.store.models import ParticipantProfileRow
from provenance.journey import Journey
from provenance.up import ServerThread
from servicekit.sql.helpers import utcnow
from tests.indexer.test_check import (
    RECALLED_LOT,
    RECALLED_PACKS,
    TODAY,
    _release_and_recall,
    forms,
    serial_of,
)
from tests.indexer.test_detection_custody import ROGUE_PHARMACY, dispense, register, send
from tests.support.browser import chromium
from tests.support.network import Network, start_network

ROOT = Path(__file__).resolve().parents[2]
#: the packs the rogue pharmacy sells while the distributor holds them (each a clone alert)
CLONED = (60, 61)
ROGUE_REGION = "KG-C"


@dataclass
class World:
    network: Network
    journey: Journey
    indexer: IndexerService
    app: FastAPI
    url: str
    keys: dict[str, str] = field(default_factory=dict)  # role -> reader key

    @property
    def rogue(self) -> str:
        """The rogue pharmacy's address."""
        return self.network.addresses[ROGUE_PHARMACY.name]

    def codes(self) -> dict[str, str]:
        """A code per verdict the check page must get right."""
        return {
            "ok": forms(serial_of(self.journey.packs[1]))["brackets"],
            "recalled": forms(serial_of(RECALLED_PACKS[0]), RECALLED_LOT, "290131")["brackets"],
            "dispensed": forms("S00000001")["digital-link"],
            "unknown": forms("NEVER-SEEN", "L1", "290101")["brackets"],
        }

    def issue_key(self, role: str, name: str, region: str | None = None) -> str:
        with self.indexer.write_sessions() as session, session.begin():
            issued = self.indexer.api_keys.issue_key(session, name, role, region=region)
        return issued.token


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("pages")
    network = start_network(tmp / "gateway")
    indexer = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
    try:
        journey = network.run_journey()
        _release_and_recall(network)
        _sell_clones(network, journey)
        indexer.catch_up()
        app = create_app(indexer, follow=False)
        app.dependency_overrides[get_today] = lambda: TODAY
        mount(app)
        server = ServerThread(app, "127.0.0.1", free_port(), "indexer")
        server.start()
        try:
            made = World(network, journey, indexer, app, server.url)
            _profile_the_rogue(made)
            made.keys = {
                "regulator": made.issue_key("regulator", "Medicines Agency"),
                "auditor": made.issue_key("auditor", "Audit office"),
                "inspector": made.issue_key("inspector", "Chui inspectorate", "KG-C"),
            }
            yield made
        finally:
            server.stop()
    finally:
        indexer.stop()
        network.gateway.stop()


def _sell_clones(network: Network, journey: Journey) -> None:
    """The rogue pharmacy (schema checks only, region KG-C in the index's profiles) dispenses
    packs the distributor holds, each in a block of its own."""
    register(network, ROGUE_PHARMACY, "epcis")
    for hours, pack in enumerate(CLONED, start=2):
        send(network, ROGUE_PHARMACY, [dispense(ROGUE_PHARMACY, [journey.packs[pack]], hours)])


def _profile_the_rogue(world: World) -> None:
    with world.indexer.write_sessions() as session, session.begin():
        session.add(
            ParticipantProfileRow(
                address=world.rogue,
                name=ROGUE_PHARMACY.name,
                gln=str(ROGUE_PHARMACY.gln),
                region=ROGUE_REGION,
                fetched_at=utcnow(),
            )
        )


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched
