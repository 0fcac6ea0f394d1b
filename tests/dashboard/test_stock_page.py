"""The stock page: a regulator sees packs by region (the regions of the holders' sites' master
data, named), with the seeded network's counts (a recalled lot's packs counted as recalled,
and as expired once past its expiry), drills down region -> participant -> product ->
lot and opens the lot's page; an inspector of Bishkek sees Bishkek only (another region's
table is empty); with a GeoJSON of region shapes the regions are drawn as a map; the page passes
axe and asks nothing of another host.

A world of its own: master data adds blocks to the chain, which the shared world's tests must
not see."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from dashboard.app import mount
from dashboard.i18n import messages
from dashboard.region_map import RegionMap
from devkit.nodes import free_port
from indexer.api.app import create_app
from indexer.api.deps import get_today
from indexer.store.models import ItemVersionRow, ParticipantProfileRow
from provenance.journey import FINISHED_LOT, MANUFACTURER, PHARMACY
from provenance.up import ServerThread
from servicekit.sql.helpers import utcnow
from tests.dashboard.conftest import ROOT, World
from tests.dashboard.test_recall_pages import PRODUCT, sign_in
from tests.indexer.test_check import GTIN, RECALLED_LOT, RECALLED_PACKS, _release_and_recall
from tests.indexer.test_masterdata import SITES, declare, site
from tests.support.browser import offline_page, serious_accessibility_violations
from tests.support.network import start_network

EN = messages("en")
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
NAMES = {"KG-C": "Chüy (KG-C)", "KG-GB": "Bishkek Shaary (KG-GB)", "KG-GO": "Osh Shaary (KG-GO)"}


def square(code: str, x: float, y: float) -> dict[str, object]:
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {
        "type": "Feature",
        "properties": {"iso_3166_2": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The journey indexed, every holder's site declared in a region, the product named, the
    participants registered in their sites' regions, and the pages with a map of the three."""
    tmp: Path = tmp_path_factory.mktemp("stock")
    network = start_network(tmp / "gateway")
    indexer = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
    try:
        journey = network.run_journey()
        _release_and_recall(network)  # three packs of a second lot, at the maker, recalled
        for actor in SITES:
            declare(network, actor, [site(actor)])
        declare(network, next(iter(SITES)), [PRODUCT])
        network.anchor()
        indexer.catch_up()
        shapes = tmp / "regions.geojson"
        features = [square(code, 72 + i, 40) for i, code in enumerate(NAMES)]
        shapes.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        app = create_app(indexer, follow=False)
        mount(app, region_map=RegionMap.load(shapes))
        server = ServerThread(app, "127.0.0.1", free_port(), "indexer")
        server.start()
        try:
            made = World(network, journey, indexer, app, server.url)
            with indexer.write_sessions() as session, session.begin():
                for actor, (name, region) in SITES.items():
                    session.add(
                        ParticipantProfileRow(
                            address=network.addresses[actor.name],
                            name=name,
                            gln=str(actor.gln),
                            region=region,
                            fetched_at=utcnow(),
                        )
                    )
            made.keys = {
                "regulator": made.issue_key("regulator", "Medicines Agency"),
                "inspector": made.issue_key("inspector", "Bishkek inspectorate", "KG-GB"),
            }
            yield made
        finally:
            server.stop()
    finally:
        indexer.stop()
        network.gateway.stop()


def seeded_counts(world: World) -> dict[str, Counter[str]]:
    """Packs by region of their holder's site and status, read from the index itself."""
    region = {world.network.addresses[a.name]: r for a, (_, r) in SITES.items()}
    out: dict[str, Counter[str]] = {}
    with world.indexer.sessions() as session:
        for holder, status in session.execute(
            select(ItemVersionRow.holder, ItemVersionRow.status).where(
                ItemVersionRow.valid_to.is_(None), ItemVersionRow.gtin.is_not(None)
            )
        ):
            out.setdefault(region[holder or ""], Counter())[status] += 1
    return out


def counts_on_page(page: object, name: str) -> dict[str, int]:
    row = page.locator("#stock tbody tr", has_text=name)  # type: ignore[attr-defined]
    return {
        column: int(row.locator(f"td.{column}").inner_text())
        for column in ("active", "in_transit", "dispensed", "recalled", "expired")
    }


def test_a_regulator_sees_stock_by_region_and_drills_down_to_a_lot(
    world: World, browser: Browser
) -> None:
    expected = seeded_counts(world)
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        sign_in(page, world, "regulator")
        page.click("nav.pages >> text=" + EN["stock.title"])
        assert page.locator("#stock").get_attribute("data-level") == "region"
        shown = {k: counts_on_page(page, NAMES[k]) for k in expected}
        assert set(expected) <= set(NAMES)  # every holder's region, from master data
        for code, by_status in expected.items():
            assert shown[code]["active"] == by_status["active"]
            assert shown[code]["in_transit"] == by_status["in_transit"]
            assert shown[code]["dispensed"] == by_status["dispensed"]
            recalled = len(RECALLED_PACKS) if code == SITES[MANUFACTURER][1] else 0
            assert shown[code]["recalled"] == recalled  # the second lot, at the maker
            assert shown[code]["expired"] == 0
        assert page.locator("#map path").count() == len(NAMES)  # the configured shapes
        assert ADDRESS.search(page.locator("main").inner_text()) is None
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "stock.png", full_page=True)

        page.click(f"#stock a:text-is('{NAMES['KG-GB']}')")  # the region: its participants
        assert page.locator("#stock").get_attribute("data-level") == "holder"
        pharmacy = SITES[PHARMACY][0]
        assert pharmacy in page.locator("#stock").inner_text()
        assert ADDRESS.search(page.locator("main").inner_text()) is None
        page.click(f"#stock a:text-is('{pharmacy}')")  # the participant: its products
        assert page.locator("#stock").get_attribute("data-level") == "gtin"
        page.click("#stock a:has-text('Paracetamol 500 mg')")  # the product: its lots
        assert page.locator("#stock").get_attribute("data-level") == "lot"
        trail = page.locator("#trail").inner_text()
        assert NAMES["KG-GB"] in trail and pharmacy in trail and "Paracetamol 500 mg" in trail
        page.click(f"#stock a:has-text('{FINISHED_LOT}')")
        assert page.url.startswith(f"{world.url}/dashboard/lot?")
        assert page.locator("h1").inner_text() == f"{EN['lot.title']} {FINISHED_LOT}"
    assert opened.blocked == []


def test_an_inspector_sees_only_its_region(world: World) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as inspector:
        assert inspector.post("/login", data={"key": world.keys["inspector"]}).status_code == 200
        regions = inspector.get("/dashboard/stock", params={"lang": "en"})
        assert regions.status_code == 200
        assert NAMES["KG-GB"] in regions.text
        assert NAMES["KG-C"] not in regions.text and NAMES["KG-GO"] not in regions.text
        other = inspector.get("/dashboard/stock", params={"region": "KG-GO", "lang": "en"})
        assert other.status_code == 200 and 'id="no-stock"' in other.text
        country = inspector.get("/dashboard/stock", params={"region": "KG", "lang": "en"})
        assert SITES[PHARMACY][0] in country.text
        for name, region in SITES.values():
            if region != "KG-GB":
                assert name not in country.text  # another region's participant: never
        lots = inspector.get(
            "/dashboard/stock",
            params={
                "region": "KG-GB",
                "holder": world.network.addresses[PHARMACY.name],
                "gtin": GTIN,
            },
        )
        assert FINISHED_LOT in lots.text and "/dashboard/lot?" not in lots.text  # no lot pages
        russian = inspector.get("/dashboard/stock", params={"lang": "ru"})
        assert "<h1>Запасы</h1>" in russian.text and "Упаковки по регионам" in russian.text


def test_recalled_and_expired_packs_are_counted_on_their_lot(world: World) -> None:
    world.app.dependency_overrides[get_today] = lambda: date(2029, 2, 1)  # the lot expired
    try:
        with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
            regulator.post("/login", data={"key": world.keys["regulator"]})
            params = {
                "region": SITES[MANUFACTURER][1],
                "holder": world.network.addresses[MANUFACTURER.name],
                "gtin": GTIN,
                "lang": "en",
            }
            lots = regulator.get("/dashboard/stock", params=params)
    finally:
        world.app.dependency_overrides.pop(get_today)
    row = re.search(rf'<tr data-key="{RECALLED_LOT}">(.*?)</tr>', lots.text, re.S)
    assert row is not None and "2029-01-31" in row.group(1)  # the lot and its expiry
    counts = dict(re.findall(r'<td class="n (\w+)">(\d+)</td>', row.group(1)))
    packs = str(len(RECALLED_PACKS))
    assert counts == {
        "active": packs,
        "in_transit": "0",
        "dispensed": "0",
        "recalled": packs,
        "expired": packs,
    }


def test_a_choice_that_is_not_a_region_or_product_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
        regulator.post("/login", data={"key": world.keys["regulator"]})
        for params in ({"region": "Atlantis"}, {"region": "KG-GB", "holder": "x", "gtin": "1"}):
            refused = regulator.get("/dashboard/stock", params={**params, "lang": "en"})
            assert refused.status_code == 422 and EN["stock.bad_choice"] in refused.text


@pytest.mark.parametrize("level", ["regions", "lots"])
def test_the_stock_page_has_no_serious_accessibility_violation(
    world: World, browser: Browser, level: str
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        sign_in(page, world, "regulator")
        query = "lang=en"
        if level == "lots":
            holder = world.network.addresses[PHARMACY.name]
            query += f"&region=KG-GB&holder={holder}&gtin={GTIN}"
        page.goto(f"{world.url}/dashboard/stock?{query}")
        assert page.locator("#stock tbody tr").count() > 0
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()
