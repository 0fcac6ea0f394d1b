"""One indexed world for the page tests: the journey, a second lot released and recalled, two
packs sold by a rogue pharmacy of region KG-C while the distributor holds them (two clone
alerts), an indexer over it with the pages mounted on a loopback port, reader keys for each
role, and Chromium (skipped with the reason where it is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
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
from servicekit.http.ratelimits import RateLimits
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
#: a day past the finished lot's expiry (2028-10-31): its packs are expired then
EXPIRED_TODAY = date(2028, 11, 1)


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
        """A code per verdict the check page must get right (and ``expired``: the ``ok`` pack's
        code once today is past its expiry, :data:`EXPIRED_TODAY`)."""
        return {
            "ok": forms(serial_of(self.journey.packs[1]))["brackets"],
            "recalled": forms(serial_of(RECALLED_PACKS[0]), RECALLED_LOT, "290131")["brackets"],
            "dispensed": forms("S00000001")["digital-link"],
            "unknown": forms("NEVER-SEEN", "L1", "290101")["brackets"],
            # a genuine pack's serial on a label whose lot is not the one the index holds
            "suspect": forms(serial_of(self.journey.packs[2]), "B2026-999")["brackets"],
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


#: The product the finder's world declares, with what a patient reads of it.
FOUND_NAME = "Paracetamol 500 mg"
MAX_PRICE = "125.5"
LEAFLET = "https://leaflets.example.kg/paracetamol.pdf"
#: The outlines the finder's map draws (one square a region).
MAP_REGIONS = ("KG-C", "KG-GB", "KG-GO")


@pytest.fixture(scope="package")
def public_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The journey indexed with master data (every holder's site in a region, the product with
    its registration, leaflet and maximum price), and the pages with a map of three regions: for
    the finder, the price complaints and the adverse-reaction reports."""
    import json

    from dashboard.region_map import RegionMap
    from tests.indexer.test_masterdata import GTIN_CLASS, SITES, declare, element, site

    tmp = tmp_path_factory.mktemp("public")
    network = start_network(tmp / "gateway")
    indexer = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
    try:
        journey = network.run_journey()
        _release_and_recall(network)
        for actor in SITES:
            declare(network, actor, [site(actor)])
        mpl = "https://ns.medicine-provenance-ledger.org/epcis/mda#"
        product = {
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [
                element(
                    GTIN_CLASS,
                    {
                        "urn:epcglobal:cbv:mda#regulatedProductName": FOUND_NAME,
                        "urn:epcglobal:cbv:mda#dosageFormType": "TABLET",
                        "urn:epcglobal:cbv:mda#strengthDescription": "500 mg",
                        mpl + "registrationStatus": "registered",
                        mpl + "registrationNumber": "KG-LS-2024-0117",
                        mpl + "leafletURL": LEAFLET,
                        mpl + "maxRetailPrice": "125.50",
                        mpl + "priceCurrency": "KGS",
                    },
                )
            ],
        }
        declare(network, next(iter(SITES)), [product])
        network.anchor()
        indexer.catch_up()
        shapes = tmp / "regions.geojson"
        features = []
        for i, code in enumerate(MAP_REGIONS):
            ring = [[72 + i, 40], [73 + i, 40], [73 + i, 41], [72 + i, 41], [72 + i, 40]]
            features.append(
                {
                    "type": "Feature",
                    "properties": {"iso_3166_2": code},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
        shapes.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        app = create_app(indexer, follow=False)
        app.dependency_overrides[get_today] = lambda: TODAY
        mount(app, region_map=RegionMap.load(shapes))
        settings = indexer.settings  # the tests send more reports than a person: no report budget
        app.state.rate_limits = RateLimits(
            check=settings.check_rate_limit, auth_failures=settings.auth_failure_rate_limit
        )
        server = ServerThread(app, "127.0.0.1", free_port(), "indexer")
        server.start()
        try:
            made = World(network, journey, indexer, app, server.url)
            made.keys = {"regulator": made.issue_key("regulator", "Medicines Agency")}
            yield made
        finally:
            server.stop()
    finally:
        indexer.stop()
        network.gateway.stop()
