"""The trace page: one box takes a DataMatrix string, a Digital Link URI, an EPC URN or a GTIN
and a lot; the answer runs from the API lots and their makers to the pack's dispensing, every
step with who (by name or GLN and roles, never an address), where, when and its anchor."""

from __future__ import annotations

import re

import httpx
import pytest
from markupsafe import escape
from playwright.sync_api import Browser

from dashboard.i18n import messages
from indexer.queries.subjects import identifier_of
from provenance.journey import FINISHED_LOT
from tests.dashboard.conftest import World
from tests.dashboard.test_stock_page import SCREENSHOTS
from tests.indexer.test_check import GTIN, forms
from tests.support.browser import offline_page

EN = messages("en")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
API_LOT = "APIL-2026-0042"


@pytest.fixture(scope="module")
def regulator(world: World) -> httpx.Client:
    http = httpx.Client(base_url=world.url, follow_redirects=True)
    assert http.post("/login", data={"key": world.keys["regulator"]}).status_code == 200
    return http


def test_a_datamatrix_string_is_traced_to_its_api_lot_in_the_browser(
    world: World, browser: Browser
) -> None:
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["auditor"])
        page.click("button[type=submit]")
        page.click("nav.pages >> text=" + EN["trace.title"])
        page.fill("#q", forms("S00000001")["datamatrix"].replace("\x1d", "<GS>"))
        page.click("form[role=search] button")
        assert page.locator("#status").inner_text() == "dispensed"
        origin = page.locator("#origin").inner_text()
        assert API_LOT in origin and "12.5 KGM" in origin
        assert "api-maker" in origin  # the maker by GLN and role: names come with master data
        history = page.locator("#history li")
        assert history.count() >= 5
        assert history.first.inner_text().startswith("commissioning")
        assert history.last.inner_text().startswith("dispensing")
        for step in history.all_inner_texts():  # what, when, who, where, its anchor
            assert re.search(r" · \d{4}-\d\d-\d\dT\d\d:\d\d", step), step
            assert re.search(r"\nGLN \d{13} · [a-z-]+", step), step  # by GLN and role
            if not step.startswith("shipping"):  # on its way it is nowhere
                assert " · https://id.gs1.org/414/" in step, step  # where: the site's GLN
            assert re.search(EN["trace.block"] + r" \d+ · 0x[0-9a-f]{16}", step), step
        assert ADDRESS.search(page.locator("main").inner_text()) is None
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "trace.png", full_page=True)
    assert opened.blocked == []


@pytest.mark.parametrize(
    "query",
    [
        forms("S00000001")["digital-link"],
        forms("S00000001")["epc-urn"],
        f"(01){GTIN}(21)S00000001",
    ],
)
def test_every_form_of_a_pack_finds_the_same_pack(regulator: httpx.Client, query: str) -> None:
    page = regulator.get("/dashboard/trace", params={"q": query, "lang": "en"})
    assert page.status_code == 200 and "S00000001" in page.text and API_LOT in page.text


def test_a_gtin_and_a_lot_trace_the_lot(regulator: httpx.Client) -> None:
    assert identifier_of(f"{GTIN} {FINISHED_LOT}").endswith(f"/01/{GTIN}/10/{FINISHED_LOT}")
    assert identifier_of(f"(01){GTIN}(10){FINISHED_LOT}").endswith(f"/10/{FINISHED_LOT}")
    page = regulator.get("/dashboard/trace", params={"q": f"{GTIN} {FINISHED_LOT}"})
    assert page.status_code == 200 and API_LOT in page.text


def test_unknown_malformed_and_not_allowed_are_said_plainly(
    world: World, regulator: httpx.Client
) -> None:
    unknown = regulator.get("/dashboard/trace", params={"q": forms("NEVER-SEEN")["epc-urn"]})
    assert unknown.status_code == 404 and EN["trace.unknown"] in unknown.text
    malformed = regulator.get("/dashboard/trace", params={"q": "not a code"})
    assert malformed.status_code == 422 and EN["trace.malformed"] in malformed.text
    with httpx.Client(base_url=world.url, follow_redirects=True) as inspector:
        inspector.post("/login", data={"key": world.keys["inspector"]})
        refused = inspector.get("/dashboard/trace", params={"q": GTIN})
    assert refused.status_code == 403 and escape(EN["trace.not_for_role"]) in refused.text
    anonymous = httpx.get(f"{world.url}/dashboard/trace", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
