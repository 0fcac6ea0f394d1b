"""The overview's other numbers, in Chromium: the open alerts by kind and severity (an alert a
regulator resolved leaves them at once, though the chain did not move and the numbers are the
cache's; reopened, it is back), packs, cases and lots by status, the block indexed and how far
behind the chain's head."""

from __future__ import annotations

from collections import Counter

import httpx
from playwright.sync_api import Browser, Page
from sqlalchemy import delete, select

from dashboard.i18n import messages
from dashboard.overview import OverviewCache
from dashboard.triage import triage_of
from indexer.store.models import AlertRow, AlertTriageLogRow, AlertTriageRow, CheckpointRow
from tests.dashboard.conftest import CLONED, World
from tests.dashboard.test_alerts_page import clone_key
from tests.support.browser import offline_page
from tests.support.tallies import recounted_statuses

EN = messages("en")


def open_alerts_in_index(world: World) -> Counter[tuple[str, str]]:
    with world.indexer.sessions() as session:
        alerts = list(session.scalars(select(AlertRow)))
        triage = triage_of(session, [alert.key for alert in alerts])
    return Counter((a.kind, a.severity) for a in alerts if triage[a.key].state != "resolved")


def open_alerts_on(page: Page) -> Counter[tuple[str, str]]:
    rows = page.locator("#alerts-by-kind tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    counted = [row for row in rows if len(row) == 3]  # else the one cell saying there are none
    shown = Counter({(kind, severity): int(n) for kind, severity, n in counted})
    assert page.locator("#alerts").inner_text() == str(shown.total())
    if not shown:
        assert rows == [[EN["overview.no_open_alerts"]]]
    return shown


def triage(world: World, key: str, action: str, **body: str) -> None:
    answer = httpx.post(
        f"{world.url}/alerts/{key}/{action}",
        json=body,
        headers={"Authorization": f"Bearer {world.keys['regulator']}"},
    )
    assert answer.status_code == 200, answer.text


def test_a_resolved_alert_leaves_the_open_alerts_at_once_and_a_reopened_one_is_back(
    world: World, browser: Browser
) -> None:
    key = clone_key(world, CLONED[1])
    with world.indexer.write_sessions() as session, session.begin():  # as if nobody acted
        session.execute(delete(AlertTriageRow).where(AlertTriageRow.alert_key == key))
        session.execute(delete(AlertTriageLogRow).where(AlertTriageLogRow.alert_key == key))
    cache: OverviewCache = world.app.state.overview_cache
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["regulator"])
        page.click("button[type=submit]")
        before = open_alerts_on(page)
        assert before == open_alerts_in_index(world) and before[("clone", "critical")] >= 1
        readings = cache.readings

        triage(world, key, "resolve", note="a duplicate of the other clone")
        page.reload()
        assert open_alerts_on(page) == before - Counter({("clone", "critical"): 1})
        triage(world, key, "reopen")
        page.reload()
        assert open_alerts_on(page) == before
        assert cache.readings == readings  # the cache's numbers, its open alerts read again
    assert opened.blocked == []


def test_packs_by_status_and_the_lag_are_the_index_s(world: World, browser: Browser) -> None:
    with world.indexer.sessions() as session:
        statuses = recounted_statuses(session)
        checkpoint = session.scalar(select(CheckpointRow.block_number))
    lag = world.indexer.lag()
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/login?lang=en")
        page.fill("#key", world.keys["auditor"])
        page.click("button[type=submit]")
        rows = page.locator("#by-status tr").evaluate_all(
            "rows => rows.map(r => [r.cells[0].textContent, +r.cells[1].textContent])"
        )
        assert dict(rows) == statuses and len(rows) == len(statuses)
        assert [n for _, n in rows] == sorted(statuses.values(), reverse=True)
        assert page.locator("#checkpoint").inner_text() == str(checkpoint)
        assert page.locator("#lag").inner_text() == str(lag)
    assert opened.blocked == []
