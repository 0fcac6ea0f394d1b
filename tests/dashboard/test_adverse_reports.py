"""Adverse-reaction reports: from the pack check a person reports a reaction to a pack at a
phone's width and gets a reference; a pharmacy reports through the API with its participant
key (a distributor's key may not); each report is linked to the pack's lot and counted on the
lot's page; the report that brings the lot to the threshold raises an `adverse-reactions`
alert to consider suspending it, with no personal data in it; what was written and the
contact are read by a pharmacovigilance key only."""

from __future__ import annotations

import html
from typing import Any

import httpx
from playwright.sync_api import Browser
from sqlalchemy import select

from dashboard.i18n import messages
from indexer.store.models import AdverseReportRow, AlertRow
from provenance.journey import DISTRIBUTOR, FINISHED_LOT, PHARMACY
from tests.dashboard.conftest import World
from tests.dashboard.test_public_check import PHONE
from tests.dashboard.test_recall_pages import sign_in
from tests.indexer.test_check import GTIN, forms, serial_of
from tests.support.browser import offline_page, serious_accessibility_violations

EN = messages("en")
WHAT = "Rash and swelling of the lips an hour after the second tablet"
CONTACT = "+996 555 123 456"


def participant_key(world: World, name: str) -> str:
    with world.indexer.write_sessions() as session, session.begin():
        issued = world.indexer.api_keys.issue_key(
            session, name, "participant", participant=world.network.addresses[name]
        )
    return issued.token


def pack(world: World, n: int) -> str:
    return forms(serial_of(world.journey.packs[n]))["brackets"]


def reports_for_lot(world: World) -> list[AdverseReportRow]:
    with world.indexer.sessions() as session:
        return list(
            session.scalars(
                select(AdverseReportRow).where(
                    AdverseReportRow.gtin == GTIN, AdverseReportRow.lot == FINISHED_LOT
                )
            )
        )


def alerts(world: World) -> list[AlertRow]:
    with world.indexer.sessions() as session:
        return list(session.scalars(select(AlertRow).where(AlertRow.kind == "adverse-reactions")))


def test_reports_reach_the_threshold_raise_one_alert_and_stay_with_pharmacovigilance(
    public_world: World, browser: Browser
) -> None:
    threshold = public_world.indexer.settings.adverse_reaction_threshold
    assert threshold == 3 and reports_for_lot(public_world) == [] and alerts(public_world) == []
    with offline_page(browser) as opened:  # a person, from the pack check, on a phone
        page = opened.page
        page.set_viewport_size(PHONE)
        page.goto(f"{public_world.url}/check?" + str(httpx.QueryParams(code=pack(public_world, 1))))
        page.click("#report-link")
        assert page.input_value("#code") == pack(public_world, 1)
        page.fill("#description", WHAT)
        page.fill("#contact", CONTACT)
        page.click("#report button[type=submit]")
        page.wait_for_selector("#sent")
        assert page.locator("#reference").inner_text().startswith("AR-")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide"
    assert opened.blocked == [] and opened.console_errors == []

    pharmacy = participant_key(public_world, PHARMACY.name)  # a pharmacy, through the API
    sent = httpx.post(
        f"{public_world.url}/adverse-reactions",
        json={
            "code": forms(serial_of(public_world.journey.packs[2]))["digital-link-bare"],
            "description": "Dizziness",
        },
        headers={"Authorization": f"Bearer {pharmacy}"},
    )
    assert sent.status_code == 201, sent.text
    assert (sent.json()["gtin"], sent.json()["lot"]) == (GTIN, FINISHED_LOT)  # lot from the index
    distributor = participant_key(public_world, DISTRIBUTOR.name)
    refused = httpx.post(
        f"{public_world.url}/adverse-reactions",
        json={"code": pack(public_world, 3), "description": "Nausea"},
        headers={"Authorization": f"Bearer {distributor}"},
    )
    assert refused.status_code == 403
    assert len(reports_for_lot(public_world)) == 2 and alerts(public_world) == []

    third = httpx.post(  # the third report about the lot: the alert
        f"{public_world.url}/report?lang=en",
        data={"code": pack(public_world, 4), "description": "Hives", "contact": ""},
        headers={"Origin": public_world.url},
    )
    assert third.status_code == 200 and 'id="reference"' in third.text
    (alert,) = alerts(public_world)
    assert alert.severity == "warning"
    assert alert.subject == f"https://id.gs1.org/01/{GTIN}/10/{FINISHED_LOT}"
    assert alert.evidence["reports"] == 3 and alert.evidence["threshold"] == 3
    assert "suspend" in alert.message
    for private in (WHAT, CONTACT, "Dizziness", "Hives"):
        assert private not in alert.message and private not in str(alert.evidence)
    httpx.post(
        f"{public_world.url}/report",
        data={"code": pack(public_world, 5), "description": "Headache"},
        headers={"Origin": public_world.url},
    )
    assert len(alerts(public_world)) == 1  # one alert a lot

    lot_page = {"gtin": GTIN, "lot": FINISHED_LOT, "lang": "en"}
    with httpx.Client(base_url=public_world.url, follow_redirects=True) as regulator:
        regulator.post("/login", data={"key": public_world.keys["regulator"]})
        lot = regulator.get("/dashboard/lot", params=lot_page)
        assert 'id="adverse-reports" data-count="4"' in lot.text
        assert WHAT not in lot.text and 'id="adverse-link"' not in lot.text
        listed = regulator.get("/dashboard/adverse-reactions", params=lot_page)
        assert listed.status_code == 403 and WHAT not in listed.text and CONTACT not in listed.text
        alerts_page = regulator.get("/dashboard/alerts", params={"lang": "en"})
        assert "adverse-reactions" in alerts_page.text and WHAT not in alerts_page.text

    public_world.keys["pharmacovigilance"] = public_world.issue_key(
        "pharmacovigilance", "Pharmacovigilance centre"
    )
    with offline_page(browser) as opened:
        page = opened.page
        sign_in(page, public_world, "pharmacovigilance")
        page.wait_for_selector("#who")
        page.goto(f"{public_world.url}/dashboard/lot?" + str(httpx.QueryParams(lot_page)))
        page.click("#adverse-link")
        table = page.locator("#reports").inner_text()
        assert WHAT in table and CONTACT in table and "Dizziness" in table
        assert page.locator("#reports tbody tr").count() == 4
    assert opened.blocked == []


def test_a_report_needs_a_pack_s_code_and_what_happened(public_world: World) -> None:
    with httpx.Client(base_url=public_world.url, headers={"Origin": public_world.url}) as http:
        missing = http.post("/report?lang=en", data={"code": pack(public_world, 6)})
        assert missing.status_code == 422 and EN["report.missing"] in html.unescape(missing.text)
        bad = http.post("/report?lang=en", data={"code": f"(01){GTIN}", "description": "x"})
        assert bad.status_code == 422 and 'id="reference"' not in bad.text
        other_site = http.post(
            "/report",
            data={"code": pack(public_world, 6), "description": "x"},
            headers={"Origin": "https://elsewhere.example"},
        )
        assert other_site.status_code == 403
    anonymous = httpx.post(
        f"{public_world.url}/adverse-reactions",
        json={"code": pack(public_world, 6), "description": "x"},
    )
    assert anonymous.status_code == 401


def test_no_serious_or_critical_accessibility_violation(
    public_world: World, browser: Browser
) -> None:
    public_world.keys.setdefault(
        "pharmacovigilance",
        public_world.issue_key("pharmacovigilance", "Pharmacovigilance centre"),
    )
    context = browser.new_context(viewport=PHONE, bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        found: list[Any] = []
        for path in ("/report", "/report?lang=ru&code=%2801%29123"):
            page.goto(public_world.url + path)
            found += [(path, *v) for v in serious_accessibility_violations(page)]
        page.goto(public_world.url + "/report")
        page.fill("#code", pack(public_world, 7))
        page.fill("#description", "Itching")
        page.click("#report button[type=submit]")
        page.wait_for_selector("#sent")
        found += [("sent", *v) for v in serious_accessibility_violations(page)]
        sign_in(page, public_world, "pharmacovigilance")
        page.wait_for_selector("#who")
        page.goto(f"{public_world.url}/dashboard/adverse-reactions?gtin={GTIN}&lot={FINISHED_LOT}")
        found += [("reports", *v) for v in serious_accessibility_violations(page)]
        assert found == []
    finally:
        context.close()
