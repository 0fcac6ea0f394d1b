"""The participants page and the batch explorer, linked both ways: each participant with its
GLN, roles and anchored batches; each batch with its block, submitter (by GLN and roles, not
address), events and status; a participant's link opens its batches only."""

from __future__ import annotations

import httpx
import pytest
from markupsafe import escape
from playwright.sync_api import Browser
from sqlalchemy import func, select

from dashboard.i18n import messages
from indexer.store.models import AnchorRow
from provenance.journey import PHARMACY
from tests.dashboard.conftest import World
from tests.dashboard.test_stock_page import SCREENSHOTS
from tests.support.browser import offline_page, serious_accessibility_violations

EN = messages("en")


@pytest.fixture(scope="module")
def auditor(world: World) -> httpx.Client:
    http = httpx.Client(base_url=world.url, follow_redirects=True)
    assert http.post("/login", data={"key": world.keys["auditor"]}).status_code == 200
    return http


def test_from_a_participant_to_its_batches_and_back(world: World, browser: Browser) -> None:
    pharmacy = world.network.addresses[PHARMACY.name]
    with world.indexer.sessions() as session:
        total = session.scalar(select(func.count()).select_from(AnchorRow))
        own = session.scalar(
            select(func.count()).select_from(AnchorRow).where(AnchorRow.submitter == pharmacy)
        )
        first = session.scalars(select(AnchorRow).order_by(AnchorRow.block_number)).first()
    assert first is not None and first.gas_used
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["regulator"])
        page.click("button[type=submit]")
        page.click("nav.pages >> text=" + EN["anchors.title"])
        assert page.locator("#anchors tbody tr, #anchors tr:has(td)").count() == total
        # each batch's gas, its transaction's gasUsed
        assert str(first.gas_used) in page.locator(f"tr[id='0x{first.root.hex()}']").inner_text()
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "anchors.png", full_page=True)
        page.click("nav.pages >> text=" + EN["participants.title"])
        row = page.locator(f"tr[id='{pharmacy}']")
        assert str(PHARMACY.gln) in row.inner_text() and "pharmacy" in row.inner_text()
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "participants.png", full_page=True)
        row.locator("a").click()
        assert page.locator("#anchors tr:has(td)").count() == own
        assert "pharmacy" in page.locator("h1").inner_text()
        assert pharmacy not in page.locator("#anchors").inner_text()  # by GLN and roles
        page.locator("#anchors a[href*='/dashboard/participants']").first.click()  # and back
        assert page.url.endswith(f"/dashboard/participants?lang=en#{pharmacy}")
        assert page.locator(f"tr[id='{pharmacy}']").is_visible()
    assert opened.blocked == []


def test_the_inspector_is_refused_and_a_bad_cursor_starts_over(
    world: World, auditor: httpx.Client
) -> None:
    assert auditor.get("/dashboard/anchors", params={"cursor": "garbage"}).status_code == 200
    assert auditor.get("/dashboard/participants", params={"cursor": "x"}).status_code == 200
    with httpx.Client(base_url=world.url, follow_redirects=True) as inspector:
        inspector.post("/login", data={"key": world.keys["inspector"]})
        refused = inspector.get("/dashboard/participants")
    assert refused.status_code == 403 and escape(EN["page.not_for_role"]) in refused.text


def test_the_registry_pages_have_no_serious_accessibility_violation(
    world: World, browser: Browser
) -> None:
    pharmacy = world.network.addresses[PHARMACY.name]
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["regulator"])
        page.click("button[type=submit]")
        found = []
        for path in ("participants", "anchors", f"anchors?submitter={pharmacy}"):
            page.goto(f"{world.url}/dashboard/{path}")
            assert page.locator("main table tr:has(td)").count() > 0, path
            found += [(path, *violation) for violation in serious_accessibility_violations(page)]
        assert found == []
    finally:
        context.close()
