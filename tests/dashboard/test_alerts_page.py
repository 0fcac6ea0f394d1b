"""The alerts page: a regulator filters the rogue pharmacy's clones (by kind, participant,
region and day), opens one, follows its evidence to the pack's trace and the anchors,
acknowledges and resolves it with a note and reads the log; filters by severity, assigns,
resolves and reopens another; an auditor reads and cannot act (403, nothing logged); resolving
twice is refused (409); an inspector acts in its region."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import delete, select

from dashboard.i18n import messages
from dashboard.triage import log_of, triage_of
from indexer.store.models import AlertRow, AlertTriageLogRow, AlertTriageRow
from medledger.epcis.identifiers import canonical_identifier
from tests.dashboard.conftest import CLONED, ROGUE_REGION, ROOT, World
from tests.support.browser import offline_page, serious_accessibility_violations

EN = messages("en")
#: PROVENANCE_SCREENSHOTS=1 writes the alert pages into docs/screenshots/.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def clone_key(world: World, pack: int) -> str:
    subject = canonical_identifier(world.journey.packs[pack])
    with world.indexer.sessions() as session:
        key = session.scalar(
            select(AlertRow.key).where(AlertRow.kind == "clone", AlertRow.subject == subject)
        )
    assert key is not None
    return key


@contextmanager
def signed_in(world: World, role: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, follow_redirects=True) as http:
        assert http.post("/login", data={"key": world.keys[role]}).status_code == 200
        yield http


def test_a_regulator_finds_a_clone_acknowledges_and_resolves_it(
    world: World, browser: Browser
) -> None:
    key = clone_key(world, CLONED[0])
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["regulator"])
        page.click("button[type=submit]")
        page.click("nav.pages >> text=" + EN["alerts.title"])
        page.select_option("#kind", "clone")
        page.select_option("#participant", world.rogue)
        page.select_option("#region", ROGUE_REGION)
        page.fill("#since", "2000-01-01")
        page.click("form.filters button")
        assert page.locator("#alerts tr[data-key]").count() == len(CLONED)
        assert page.locator("#alerts-by-kind").inner_text().split("\t")[:3] == [
            "clone",
            "critical",
            str(len(CLONED)),
        ]
        assert page.locator("#alerts-by-day meter").count() >= 1
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "alerts.png", full_page=True)
        page.fill("#until", "2000-01-02")  # nothing that early
        page.click("form.filters button")
        assert page.locator("#alerts tr[data-key]").count() == 0
        page.fill("#until", "")
        page.click("form.filters button")

        page.click(f"tr[data-key='{key}'] a")
        assert page.locator("#state").inner_text() == EN["triage.open"]
        assert "Bazaar Pharmacy (rogue)" in page.locator("#message").inner_text()
        assert ADDRESS.search(page.locator("#message").inner_text()) is None  # names only
        anchor = page.locator("#evidence a.anchor").first.get_attribute("href") or ""
        assert anchor.startswith("/dashboard/anchors?submitter=0x") and "#0x" in anchor
        page.click("#do-ack button")
        assert page.locator("#state").inner_text() == EN["triage.acknowledged"]
        page.fill("#resolve-note", "Pack seized at the bazaar; pharmacy suspended")
        page.click("#do-resolve button")
        assert page.locator("#state").inner_text() == EN["triage.resolved"]
        assert page.locator("#note").inner_text().startswith("Pack seized")
        log = page.locator("#log tr:has(td)")
        assert log.count() == 2
        assert "Medicines Agency" in log.nth(0).inner_text()
        assert "Pack seized at the bazaar" in log.nth(1).inner_text()
        assert page.locator("#do-reopen").count() == 1 and page.locator("#do-ack").count() == 0
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "alert-resolved.png", full_page=True)

        page.click("#pack")  # the evidence's pack: its trace
        assert page.url.startswith(f"{world.url}/dashboard/trace?q=")
        assert page.locator("#history li").count() >= 2
    assert opened.blocked == []
    with world.indexer.sessions() as session:
        assert triage_of(session, [key])[key].state == "resolved"


def test_a_regulator_filters_by_severity_assigns_resolves_and_reopens(
    world: World, browser: Browser
) -> None:
    key = clone_key(world, CLONED[1])
    with world.indexer.write_sessions() as session, session.begin():  # as if nobody acted
        session.execute(delete(AlertTriageRow).where(AlertTriageRow.alert_key == key))
        session.execute(delete(AlertTriageLogRow).where(AlertTriageLogRow.alert_key == key))
    with world.indexer.sessions() as session:
        by_severity = Counter(session.scalars(select(AlertRow.severity)))
    assert by_severity["critical"] >= len(CLONED)
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["regulator"])
        page.click("button[type=submit]")
        page.click("nav.pages >> text=" + EN["alerts.title"])
        severities = page.locator("#severity option").evaluate_all("os => os.map(o => o.value)")
        assert set(by_severity) <= set(severities)
        for severity in filter(None, severities):
            page.select_option("#severity", severity)
            page.click("form.filters button")
            rows = page.locator("#alerts tr[data-key]")
            assert rows.count() == by_severity[severity], severity
            shown = rows.evaluate_all("rs => rs.map(r => r.cells[2].textContent.trim())")
            assert set(shown) <= {severity}, shown

        page.goto(f"{world.url}/dashboard/alerts/{key}?lang=en")
        page.fill("#assign-to", "Chui inspectorate")
        page.click("#do-assign button")
        assert page.locator("#state").inner_text() == EN["triage.assigned"]
        assert page.locator("#assignee").inner_text() == "Chui inspectorate"
        ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
        assert len(ids) == len(set(ids))  # each label names its field (assigned: one more)
        assert page.get_by_label(EN["alert.assignee"]).get_attribute("name") == "assignee"
        page.fill("#resolve-note", "seized")
        page.click("#do-resolve button")
        assert page.locator("#state").inner_text() == EN["triage.resolved"]
        page.click("#do-reopen button")  # a reopened alert may be acted on again
        assert page.locator("#state").inner_text() == EN["triage.open"]
        assert page.locator("#do-ack").count() == 1 and page.locator("#do-reopen").count() == 0
        log = page.locator("#log tr:has(td)").all_inner_texts()
        assert [
            EN[f"triage.do.{a}"] in entry
            for a, entry in zip(("assign", "resolve", "reopen"), log, strict=True)
        ] == [True] * 3
    assert opened.blocked == []
    with world.indexer.sessions() as session:
        assert [e.action for e in log_of(session, key)] == ["assign", "resolve", "reopen"]


def test_an_auditor_reads_but_cannot_act(world: World) -> None:
    key = clone_key(world, CLONED[1])
    with world.indexer.sessions() as session:
        before = len(log_of(session, key))
    with signed_in(world, "auditor") as auditor:
        page = auditor.get(f"/dashboard/alerts/{key}", params={"lang": "en"})
        assert page.status_code == 200 and 'id="read-only"' in page.text
        assert 'id="do-' not in page.text
        token = CSRF.search(page.text)
        assert token is not None
        refused = auditor.post(f"/dashboard/alerts/{key}/ack", data={"csrf": token.group(1)})
    assert refused.status_code == 403 and EN["alert.may_not_act"] in refused.text
    with world.indexer.sessions() as session:
        assert len(log_of(session, key)) == before


def test_resolving_twice_is_refused_and_a_form_without_its_token_too(world: World) -> None:
    key = clone_key(world, CLONED[1])
    with signed_in(world, "regulator") as regulator:
        page = regulator.get(f"/dashboard/alerts/{key}")
        token = CSRF.search(page.text)
        assert token is not None
        csrf = token.group(1)
        forged = regulator.post(f"/dashboard/alerts/{key}/ack", data={"note": "x"})
        assert forged.status_code == 403
        with world.indexer.sessions() as session:
            state = triage_of(session, [key])[key].state
        if state != "resolved":
            done = regulator.post(
                f"/dashboard/alerts/{key}/resolve", data={"csrf": csrf, "note": "duplicate"}
            )
            assert done.status_code == 200 and 'id="do-reopen"' in done.text
        again = regulator.post(
            f"/dashboard/alerts/{key}/resolve", data={"csrf": csrf, "note": "again"}
        )
        assert again.status_code == 409 and "cannot resolve an alert that is resolved" in again.text
        empty = regulator.post(f"/dashboard/alerts/{key}/reopen", data={"csrf": csrf})
        assert empty.status_code == 200
        no_note = regulator.post(f"/dashboard/alerts/{key}/resolve", data={"csrf": csrf})
        assert no_note.status_code == 422 and "a note is required" in no_note.text
        unknown = regulator.get("/dashboard/alerts/no-such-alert")
        assert unknown.status_code == 404


def test_an_inspector_sees_and_acts_on_its_region_s_alerts(world: World) -> None:
    key = clone_key(world, CLONED[1])
    with signed_in(world, "inspector") as inspector:
        listed = inspector.get("/dashboard/alerts", params={"kind": "clone"})
        assert listed.status_code == 200 and f'data-key="{key}"' in listed.text
        page = inspector.get(f"/dashboard/alerts/{key}")
        assert 'id="read-only"' not in page.text


@pytest.mark.parametrize("which", ["list", "alert"])
def test_the_alert_pages_have_no_serious_accessibility_violation(
    world: World, browser: Browser, which: str
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        page.goto(f"{world.url}/login")
        page.fill("#key", world.keys["regulator"])
        page.click("button[type=submit]")
        path = "/dashboard/alerts"
        if which == "alert":
            path += "/" + clone_key(world, CLONED[0])
        page.goto(world.url + path)
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()
