"""Issue 18's "done when", over what `provenance simulate` makes: a regulator signs in, sees the
simulated network's stock by region (its participants' sites, named) and drills into a region,
finds every injected fraud on the alerts page (by its kind's filter, the alert's page naming
participants, never addresses) and resolves each; the overview then has no open alert. In
Chromium, nothing fetched from beyond the host. A world of its own: the simulated network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from dashboard.app import mount
from dashboard.i18n import messages
from devkit.nodes import free_port
from indexer import detection
from indexer.api.app import create_app
from indexer.profiles import GatewayProfileSource
from indexer.queries.stock import stock
from indexer.service import IndexerService
from indexer.store.models import AlertRow
from provenance.simulate import KINDS, REGIONS, Case, Scenario, simulate
from provenance.up import ServerThread
from tests.support.browser import offline_page
from tests.support.network import start_network

EN = messages("en")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
#: the day the time-based detectors (a lot left in stock past its expiry) are swept on
SWEPT_ON = date(2026, 8, 1)


@dataclass
class Simulated:
    scenario: Scenario
    indexer: IndexerService
    url: str
    regulator: str  # a regulator's reader key

    def alerts_of(self, case: Case) -> list[str]:
        """The keys of the alerts the index raised for ``case``."""
        with self.indexer.sessions() as session:
            found = session.scalars(
                select(AlertRow).where(AlertRow.kind == case.kind, AlertRow.subject == case.subject)
            ).all()
        return [
            a.key
            for a in found
            if case.event_id is None
            or case.event_id in [e["eventID"] for e in a.evidence.get("events", [])]
            or a.evidence.get("eventID") == case.event_id
        ]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    tmp: Path = tmp_path_factory.mktemp("simulated")
    network = start_network(tmp / "gateway")
    token = network.regulator["Authorization"].removeprefix("Bearer ")
    try:
        scenario = simulate(network.http, token, seed=7, packs=1500, frauds=1, flush=network.anchor)
        indexer = network.indexer(
            f"sqlite:///{tmp}/indexer.db",
            tmp / "indexer",
            profiles=GatewayProfileSource(None, token, client=network.http),  # names, regions
            transit_min_observations=5,
            transit_min_excess_seconds=24 * 3600,
            new_route_min_history=scenario.warmup_observations,
        )
        try:
            indexer.catch_up()
            indexer.refresh_profiles()
            with indexer.sessions() as session:
                detection.sweep(session, SWEPT_ON, indexer.follower.loader.detection_config)
                session.commit()
            app = create_app(indexer, follow=False)
            mount(app)
            server = ServerThread(app, "127.0.0.1", free_port(), "indexer")
            server.start()
            try:
                with indexer.write_sessions() as session, session.begin():
                    key = indexer.api_keys.issue_key(session, "Medicines Agency", "regulator")
                yield Simulated(scenario, indexer, server.url, key.token)
            finally:
                server.stop()
        finally:
            indexer.stop()
    finally:
        network.gateway.stop()


def sign_in(page: Page, simulated: Simulated) -> None:
    page.goto(f"{simulated.url}/login?lang=en")
    page.fill("#key", simulated.regulator)
    page.click("button[type=submit]")
    assert page.url.endswith("/dashboard")


def test_a_regulator_sees_the_simulated_stock_by_region(
    simulated: Simulated, browser: Browser
) -> None:
    with simulated.indexer.sessions() as session:
        regions = {r["region"] for r in stock(session)["byRegion"]}
    assert {REGIONS[0], REGIONS[1]} <= regions and None not in regions  # every site placed
    pharmacy = next(name for name in simulated.scenario.addresses if "pharmacy 1.0" in name)
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        sign_in(page, simulated)
        page.click("nav.pages >> text=" + EN["stock.title"])
        rows = page.locator("#stock tbody tr[data-key]")
        assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.key)")) == regions
        # no region shapes configured: no map, a bar per region
        assert page.locator("#map").count() == 0
        assert page.locator("#stock tbody tr[data-key] meter").count() == len(regions)
        page.click(f"#stock tr[data-key='{REGIONS[1]}'] a")  # the region: its participants
        assert page.locator("#stock").get_attribute("data-level") == "holder"
        assert pharmacy in page.locator("#stock").inner_text()
        assert ADDRESS.search(page.locator("main").inner_text()) is None
    assert opened.blocked == []


def test_a_regulator_finds_and_resolves_every_injected_fraud(
    simulated: Simulated, browser: Browser
) -> None:
    cases = simulated.scenario.cases
    assert {case.kind for case in cases} == set(KINDS)
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        sign_in(page, simulated)
        assert int(page.locator("#alerts").inner_text()) >= len(cases)
        for case in cases:
            keys = simulated.alerts_of(case)
            assert keys, f"not raised: {case}"
            page.goto(f"{simulated.url}/dashboard/alerts?lang=en&kind={case.kind}")
            listed = page.locator("#alerts tr[data-key]")
            shown = set(listed.evaluate_all("rows => rows.map(r => r.dataset.key)"))
            assert set(keys) <= shown, case
            for key in keys:
                page.goto(f"{simulated.url}/dashboard/alerts/{key}?lang=en")
                if page.locator("#state").inner_text() == EN["triage.resolved"]:
                    continue  # two cases, one alert
                assert ADDRESS.search(page.locator("#message").inner_text()) is None, case
                page.fill("#resolve-note", f"investigated: {case.kind}")
                page.click("#do-resolve button")
                assert page.locator("#state").inner_text() == EN["triage.resolved"], case
        page.goto(f"{simulated.url}/dashboard?lang=en")
        assert page.locator("#alerts").inner_text() == "0"  # the clean flows raise nothing
    assert opened.blocked == [] and opened.console_errors == []


def test_the_alerts_answer_json_too(simulated: Simulated) -> None:
    """What the page listed is the API's: GET /alerts with the same reader key."""
    answer = httpx.get(
        f"{simulated.url}/alerts",
        params={"limit": 500},
        headers={"Authorization": f"Bearer {simulated.regulator}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["next"] is None  # every alert on this page
    kinds = {alert["kind"] for alert in answer.json()["items"]}
    assert {case.kind for case in simulated.scenario.cases} <= kinds
