"""The medicine finder on the public page, in Chromium at a phone's width: a person types a
medicine's name (or its GTIN, or a pack's code), reads its registration, leaflet and regulated
maximum price from master data, and the pharmacies holding it by region, listed and drawn on
the configured region outlines; in English and Russian, nothing fetched from elsewhere, no
serious accessibility fault, and limited like /check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from dashboard.i18n import LANGUAGES, messages
from provenance.journey import PHARMACY
from servicekit.http.ratelimits import RateLimits
from tests.dashboard.conftest import FOUND_NAME, LEAFLET, MAP_REGIONS, MAX_PRICE, ROOT, World
from tests.dashboard.test_public_check import PHONE
from tests.dashboard.test_scan_in_browser import camera_filming, symbol
from tests.indexer.test_check import GTIN, forms, serial_of
from tests.indexer.test_masterdata import SITES
from tests.support.browser import offline_page, serious_accessibility_violations

SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
PHARMACY_NAME, PHARMACY_REGION = SITES[PHARMACY]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_person_finds_a_medicine_by_name_its_price_and_the_pharmacies_holding_it(
    public_world: World, browser: Browser, language: str
) -> None:
    t = messages(language)
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size(PHONE)
        page.goto(f"{public_world.url}/find?lang={language}")
        page.fill("#code", "paracet")  # part of the name, any case
        page.click("button[type=submit]")
        page.wait_for_selector("#product")  # one product matches: its page at once
        assert page.locator("#product h1").inner_text() == FOUND_NAME
        assert page.locator("#registration").get_attribute("data-status") == "registered"
        assert t["find.registration.registered"] in page.locator("#registration").inner_text()
        assert page.locator("#max-price").inner_text() == f"{MAX_PRICE}0 KGS"  # as people write it
        assert page.locator("#leaflet").get_attribute("href") == LEAFLET
        where = page.locator(f"#region-{PHARMACY_REGION} + ul.pharmacies")
        assert PHARMACY_NAME in where.inner_text()
        assert page.locator("#map path").count() == len(MAP_REGIONS)  # the configured outlines
        shaded = page.locator(f"#map path[data-region={PHARMACY_REGION}]").get_attribute("fill")
        assert shaded != page.locator("#map path[data-region=KG-GO]").get_attribute("fill")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide"
        if SCREENSHOTS is not None and language == "en":
            page.screenshot(path=SCREENSHOTS / "find-en.png", full_page=True)
        page.click("#complain")  # on to the price complaint, the product filled in
        assert page.input_value("#gtin") == GTIN
    assert opened.blocked == [] and opened.console_errors == []


def test_a_gtin_or_a_scanned_pack_code_finds_the_product(public_world: World) -> None:
    html = {"Accept": "text/html"}
    pack = forms(serial_of(public_world.journey.packs[1]))["brackets"]
    with httpx.Client(base_url=public_world.url, headers=html) as http:
        for asked in (GTIN, GTIN.lstrip("0"), pack):
            page = http.get("/find", params={"q": asked, "lang": "en"})
            assert page.status_code == 200, asked
            assert f'data-gtin="{GTIN}"' in page.text and PHARMACY_NAME in page.text
        nothing = http.get("/find", params={"q": "aspirin", "lang": "en"})
        assert 'id="no-products"' in nothing.text
        wrong = http.get("/find", params={"q": GTIN[:-1] + "9", "lang": "en"})  # check digit
        assert wrong.status_code == 422 and messages("en")["find.malformed"] in wrong.text
        short = http.get("/find", params={"q": "p", "lang": "en"})
        assert short.status_code == 422


def test_the_finder_shows_no_pack_counts_and_no_addresses(public_world: World) -> None:
    page = httpx.get(f"{public_world.url}/find", params={"gtin": GTIN, "lang": "en"})
    assert page.status_code == 200
    assert "0x" not in page.text.replace('"0x', "")  # no participant address
    assert str(PHARMACY.gln) not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_no_serious_or_critical_accessibility_violation(
    public_world: World, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE, bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        found: list[Any] = []
        for query in ("", "q=para", "q=aspirin", f"gtin={GTIN}", "q=p", "lang=ru&q=para"):
            page.goto(f"{public_world.url}/find?{query}")
            found += [(query, *v) for v in serious_accessibility_violations(page)]
        assert found == []
    finally:
        context.close()


def test_searches_count_against_the_check_budget(public_world: World) -> None:
    html = {"Accept": "text/html"}
    with TestClient(public_world.app) as http:
        saved = public_world.app.state.rate_limits
        public_world.app.state.rate_limits = RateLimits(check="2/hour")
        try:
            answers = [http.get("/find", params={"q": "para"}, headers=html) for _ in range(3)]
            form_only = http.get("/find", headers=html)
        finally:
            public_world.app.state.rate_limits = saved
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert form_only.status_code == 200


def test_without_a_configured_map_the_pharmacies_are_listed_by_region(
    public_world: World,
) -> None:
    """No ``PROVENANCE_INDEXER_REGIONS_GEOJSON`` (and no tiles, air-gapped): no map is drawn,
    nothing fetched, and the pharmacies holding it are listed under their region."""
    app = public_world.app
    saved = app.state.dashboard_region_map
    app.state.dashboard_region_map = None
    try:
        with TestClient(app) as http:
            page = http.get("/find", params={"gtin": GTIN, "lang": "en"})
    finally:
        app.state.dashboard_region_map = saved
    assert page.status_code == 200
    assert 'id="map"' not in page.text and "<svg" not in page.text
    listed = page.text.split(f'id="region-{PHARMACY_REGION}"', 1)
    assert len(listed) == 2, "no heading for the pharmacy's region"
    assert PHARMACY_NAME in listed[1].split("</ul>", 1)[0]


def test_a_pack_scanned_with_the_phone_s_camera_finds_its_product(
    public_world: World, browser: Browser, tmp_path: Path
) -> None:
    """The finder's Scan button (the check page's reader), with Chromium's fake camera filming
    a pack's GS1 DataMatrix: the code goes into the form, which is sent, and the product's page
    comes back (the pack's GTIN), at a phone's width, nothing fetched beyond the host."""
    pack = forms(serial_of(public_world.journey.packs[1]))["brackets"]
    image = symbol(pack, zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    with camera_filming(browser, tmp_path, image) as camera, offline_page(camera) as opened:
        page = opened.page
        page.set_viewport_size(PHONE)
        page.goto(f"{public_world.url}/find?lang=en")
        page.click("#scan")
        page.wait_for_selector("#product", timeout=30_000)
        assert page.locator("#product h1").inner_text() == FOUND_NAME
        assert page.locator(f"[data-gtin='{GTIN}']").count() >= 1
        assert page.input_value("#code").startswith("]d2")  # what the camera read, as sent
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide"
    assert opened.blocked == [] and opened.console_errors == []
