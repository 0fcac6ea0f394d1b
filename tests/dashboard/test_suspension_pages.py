"""The lot page's suspension buttons: a regulator suspends a lot pending investigation with a
case number (a confirmation step, then the gateway: dispensing refused at once), the page shows
it suspended, lifts it (dispensing accepted again), suspends it again and escalates it to a
recall in one action; an auditor sees no button and its POST is refused; a POST without its
token, case number or reason is refused and nothing is sent; the public check page says
suspended, ok after the lifting, recalled after the escalation. A world of its own
(module-scoped, as the recall pages'): suspensions add blocks the shared world's tests must not
see; once with the gateway's store and the index on SQLite, once both on PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from dashboard.i18n import messages
from medledger.epcis import builders as epcis
from medledger.epcis.builders import as_document
from provenance.journey import FINISHED_LOT, PHARMACY
from tests.dashboard.conftest import ROOT, World
from tests.dashboard.test_recall_pages import LOT_PATH, recall_world, sign_in
from tests.gateway.conftest import gateway_database
from tests.indexer.conftest import INDEX_BACKENDS, index_database
from tests.indexer.test_check import GTIN, forms, serial_of
from tests.support.browser import offline_page, serious_accessibility_violations

EN = messages("en")
RU = messages("ru")
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CASE = "PV-2026/0042"


@pytest.fixture(scope="module", params=INDEX_BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The recall pages' world, the gateway's store and the index both on SQLite or both on
    PostgreSQL."""
    backend = str(request.param)
    tmp = tmp_path_factory.mktemp(f"suspensions-{backend}")
    with (
        gateway_database(backend, tmp) as gateway_url,
        index_database(backend, tmp) as index_url,
        recall_world(tmp, gateway_url, index_url) as made,
    ):
        yield made


def public_verdict(page: Page, world: World, pack: str) -> str | None:
    """What the public check page says of ``pack`` (opened in ``page``) once the index has
    read the chain's latest blocks (the world's indexer does not follow on its own)."""
    world.indexer.catch_up()
    code = forms(serial_of(pack))["brackets"]
    page.goto(f"{world.url}/check?" + str(httpx.QueryParams(code=code, lang="en")))
    return page.locator("#verdict").get_attribute("data-verdict")


def suspensions_at_gateway(world: World, *, active: bool = True) -> list[dict[str, Any]]:
    listed = world.network.http.get(
        f"/suspensions?active={'true' if active else 'false'}", headers=world.network.regulator
    )
    found: list[dict[str, Any]] = listed.json()
    return [s for s in found if s["lot"] == FINISHED_LOT]


def dispense(world: World, pack: str) -> Any:
    event = epcis.dispense(PHARMACY, datetime.now(UTC), [pack])
    return world.network.http.post(
        "/capture", json=as_document([event]), headers=world.network.keys[PHARMACY.name]
    )


def test_a_regulator_suspends_lifts_and_escalates_from_the_lot_page(
    world: World,
    browser: Browser,
) -> None:
    pharmacy = f"GLN {PHARMACY.gln}"
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        sign_in(page, world, "regulator")
        page.goto(world.url + LOT_PATH)
        assert page.locator("#suspension-state").inner_text() == EN["lot.not_suspended"]

        page.fill("#case", CASE)
        page.fill("#reason-suspend", "Adverse reactions reported in two regions")
        page.click("#do-suspend button")  # the confirmation step: nothing sent yet
        assert page.locator("h1").inner_text() == EN["confirm.suspend"]
        assert page.locator("#confirm-case").inner_text() == CASE
        assert pharmacy in page.locator("#to-notify").inner_text()
        assert suspensions_at_gateway(world) == []
        page.click("#confirm")

        assert page.url.startswith(f"{world.url}/dashboard/lot?")
        state = page.locator("#suspension-state").inner_text()
        assert EN["verdict.suspended"] in state and CASE in state
        [suspended] = suspensions_at_gateway(world)
        assert suspended["caseNumber"] == CASE and suspended["notified"] is None
        refused = dispense(world, world.journey.packs[1])
        assert refused.status_code == 400 and refused.json()["rule"] == "custody.suspended"
        assert page.locator("#do-suspend").count() == 0
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "lot-suspended.png", full_page=True)
        assert public_verdict(page, world, world.journey.packs[1]) == "suspended"
        page.goto(world.url + LOT_PATH)

        page.fill("#reason-lift", "No causal link found")
        page.click("#do-lift button")
        assert page.locator("h1").inner_text() == EN["confirm.lift"]
        page.click("#confirm")
        assert page.locator("#suspension-state").inner_text() == EN["lot.not_suspended"]
        assert suspensions_at_gateway(world) == []
        assert public_verdict(page, world, world.journey.packs[1]) == "ok"
        assert dispense(world, world.journey.packs[1]).status_code == 202
        page.goto(world.url + LOT_PATH)

        page.fill("#case", "PV-2026/0043")
        page.fill("#reason-suspend", "New reports")
        page.click("#do-suspend button")
        page.click("#confirm")
        page.fill("#reason-escalate", "Adverse reactions confirmed")
        page.click("#do-escalate button")
        assert page.locator("h1").inner_text() == EN["confirm.escalate"]
        page.click("#confirm")
        assert page.url.startswith(f"{world.url}/dashboard/recall?")  # the recall it became
        assert page.locator("#state").inner_text() == EN["verdict.recalled"]
        [escalated] = [
            s for s in suspensions_at_gateway(world, active=False) if s["state"] == "escalated"
        ]
        assert escalated["caseNumber"] == "PV-2026/0043" and escalated["recallId"] is not None
        assert dispense(world, world.journey.packs[2]).json()["rule"] == "custody.recalled"
        assert public_verdict(page, world, world.journey.packs[2]) == "recalled"

        page.goto(world.url + LOT_PATH)
        assert page.locator("#suspension-recalled").count() == 1  # recalled: no suspend button
        pressed = page.locator("#actions tr:has(td)").all_inner_texts()[:4]  # latest first
        kinds = [EN[f"actions.kind.{k}"] for k in ("escalate", "suspend", "lift", "suspend")]
        assert all(k in row for k, row in zip(kinds, pressed, strict=True))
        assert all("Medicines Agency" in row for row in pressed)  # who pressed each
        assert "PV-2026/0043" in pressed[1] and CASE in pressed[3]
        page.goto(world.url + LOT_PATH.replace("lang=en", "lang=ru"))
        assert page.locator("#suspension-state").inner_text() == RU["lot.not_suspended"]
        world.network.http.post(
            f"/recalls/{GTIN}/{FINISHED_LOT}/release", headers=world.network.regulator
        )
    assert opened.blocked == []


def test_an_auditor_sees_no_suspension_button_and_its_post_is_refused(
    world: World,
) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as auditor:
        assert auditor.post("/login", data={"key": world.keys["auditor"]}).status_code == 200
        page = auditor.get(LOT_PATH)
        assert page.status_code == 200 and 'id="suspension-read-only"' in page.text
        assert 'id="do-suspend"' not in page.text
        token = CSRF.search(page.text)
        assert token is not None
        form = {"csrf": token.group(1), "case": CASE, "reason": "mine", "confirm": "yes"}
        action = f"/dashboard/lot/suspend?gtin={GTIN}&lot={FINISHED_LOT}"
        refused = auditor.post(action, data=form)
        assert refused.status_code == 403 and EN["lot.may_not_recall"] in refused.text
    assert suspensions_at_gateway(world) == []


def test_a_suspension_without_its_token_case_or_reason_is_refused(
    world: World,
) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
        regulator.post("/login", data={"key": world.keys["regulator"]})
        page = regulator.get(LOT_PATH)
        token = CSRF.search(page.text)
        assert token is not None and 'id="do-suspend"' in page.text
        action = f"/dashboard/lot/suspend?gtin={GTIN}&lot={FINISHED_LOT}"
        forged = regulator.post(action, data={"case": CASE, "reason": "x", "confirm": "yes"})
        assert forged.status_code == 403
        csrf = token.group(1)
        no_case = regulator.post(action, data={"csrf": csrf, "reason": "x", "confirm": "yes"})
        assert no_case.status_code == 422 and EN["lot.case_needed"] in no_case.text
        no_reason = regulator.post(action, data={"csrf": csrf, "case": CASE, "confirm": "yes"})
        assert no_reason.status_code == 422 and EN["lot.reason_needed.suspend"] in no_reason.text
        bad_case = regulator.post(
            action, data={"csrf": csrf, "case": "PV 1", "reason": "x", "confirm": "yes"}
        )
        assert bad_case.status_code == 422 and "caseNumber" in bad_case.text
    assert suspensions_at_gateway(world) == []


def test_the_suspension_confirmation_has_no_serious_accessibility_violation(
    world: World,
    browser: Browser,
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        sign_in(page, world, "regulator")
        page.goto(world.url + LOT_PATH)
        assert serious_accessibility_violations(page) == []
        page.fill("#case", CASE)
        page.fill("#reason-suspend", "checking the page")
        page.click("#do-suspend button")
        assert page.locator("#confirm").count() == 1
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()
    assert suspensions_at_gateway(world) == []
