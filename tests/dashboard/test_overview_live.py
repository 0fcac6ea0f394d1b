"""The overview refreshes itself: while a regulator keeps it open, a pack dispensed and indexed
shows in its numbers without a reload (its one script fetches ``/dashboard/overview/numbers``
from this site alone, under a CSP that lets it do nothing else); a request without a session
gets the sign-in page, on which the script stops.

A world of its own (the stock page's): the dispensing adds blocks to the chain."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from playwright.sync_api import Browser

from dashboard.overview import OverviewCache
from dashboard.signin import NUMBERS
from medledger.epcis import builders as epcis
from provenance.journey import PHARMACY
from tests.dashboard.conftest import World
from tests.dashboard.test_recall_pages import sign_in
from tests.dashboard.test_stock_page import world  # noqa: F401 - the fixture: a world of its own
from tests.indexer.test_detection_custody import send
from tests.support.browser import offline_page


def test_the_overview_shows_a_new_block_s_numbers_without_a_reload(
    world: World,  # noqa: F811 - the imported fixture
    browser: Browser,
) -> None:
    world.app.state.overview_refresh_seconds = 1
    world.app.state.overview_cache = OverviewCache(max_age=0)  # each reading is new
    with offline_page(browser) as opened:
        page = opened.page
        sign_in(page, world, "regulator")
        assert page.locator("#live").get_attribute("data-seconds") == "1"
        before = int(page.locator("#events").inner_text())
        page.evaluate("window.keptAcrossRefreshes = true")

        block = world.network.chain.w3.eth.get_block("latest")
        after = max(datetime.now(UTC), datetime.fromtimestamp(block["timestamp"], UTC))
        held = world.journey.packs[2]  # in the pharmacy's case, on its shelf
        send(world.network, PHARMACY, [epcis.dispense(PHARMACY, after, [held])])
        world.indexer.catch_up()

        page.wait_for_function(
            "n => Number(document.getElementById('events').textContent) > n",
            arg=before,
            timeout=20_000,
        )
        assert int(page.locator("#events").inner_text()) == before + 1
        assert page.evaluate("window.keptAcrossRefreshes") is True  # the same page, not reloaded
        assert "dispensing" in page.locator("#by-step").inner_text()
    assert opened.blocked == []
    assert opened.console_errors == []  # no CSP violation, no failed fetch


def test_the_numbers_alone_need_a_session_and_the_overview_may_run_only_its_own_script(
    world: World,  # noqa: F811 - the imported fixture
) -> None:
    alone = httpx.get(world.url + NUMBERS, follow_redirects=False)
    assert alone.status_code == 303 and alone.headers["location"] == "/login"
    with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
        overview = regulator.post("/login", data={"key": world.keys["regulator"]})
        policy = overview.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self';" in policy
        assert "unsafe-inline" not in policy
        numbers = regulator.get(NUMBERS, params={"lang": "en"})
        assert numbers.status_code == 200
        assert 'id="numbers"' in numbers.text and 'id="events"' in numbers.text
        assert "<html" not in numbers.text  # the fragment, not a page
