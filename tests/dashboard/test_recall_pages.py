"""The lot page and the recall page: a regulator opens a lot from its trace (holders, counts by
status, API lots and the mass balance), recalls it with one button and a confirmation, and sees
the pharmacy holding it listed as notified, the recall's scope by holder and region and its
progress once the index has read the recall's block (a pack a rogue pharmacy dispenses after
it counted, and alerted; a pack the pharmacy returns to its distributor counted returned),
then releases it; an auditor sees no button and its POST is refused
(403, nothing sent to the gateway); the pages pass axe.

A world of its own: recalls add blocks to the chain, which the shared world's tests must not
see."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from dashboard.app import mount
from dashboard.i18n import messages
from dashboard.recall_gateway import RecallGateway
from devkit.nodes import free_port
from indexer.api.app import create_app
from indexer.store.models import DashboardActionRow, ParticipantProfileRow
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor
from provenance.journey import DISTRIBUTOR, FINISHED_LOT, MANUFACTURER, PHARMACY
from provenance.up import ServerThread
from servicekit.sql.helpers import utcnow
from tests.dashboard.conftest import ROGUE_REGION, ROOT, World
from tests.indexer.test_check import GTIN
from tests.indexer.test_detection_custody import ROGUE_PHARMACY, register, send
from tests.indexer.test_masterdata import GTIN_CLASS, SITES, declare, element, site
from tests.support.browser import offline_page, serious_accessibility_violations
from tests.support.network import start_network

EN = messages("en")
#: PROVENANCE_SCREENSHOTS=1 writes the lot, recall and recalls pages into docs/screenshots/.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
LOT_PATH = f"/dashboard/lot?gtin={GTIN}&lot={FINISHED_LOT}&lang=en"
PRODUCT = {
    "type": "urn:epcglobal:epcis:vtype:EPCClass",
    "vocabularyElementList": [
        element(GTIN_CLASS, {"urn:epcglobal:cbv:mda#regulatedProductName": "Paracetamol 500 mg"})
    ],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The journey indexed, a rogue pharmacy (``epcis`` rules, region KG-C) registered, and the
    pages mounted with the gateway's regulator key for the Recall button."""
    with recall_world(tmp_path_factory.mktemp("recalls")) as made:
        yield made


@contextmanager
def recall_world(
    tmp: Path, gateway_url: str | None = None, index_url: str | None = None
) -> Iterator[World]:
    """The world of :func:`world` in ``tmp``; the gateway's store and the index on SQLite
    files unless given."""
    network = start_network(tmp / "gateway", database_url=gateway_url)
    indexer = network.indexer(index_url or f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
    try:
        journey = network.run_journey()
        register(network, ROGUE_PHARMACY, "epcis")
        for actor in (PHARMACY, DISTRIBUTOR):  # where they keep the lot: the regions shown
            declare(network, actor, [site(actor)])
        declare(network, MANUFACTURER, [PRODUCT])
        network.anchor()
        indexer.catch_up()
        app = create_app(indexer, follow=False)
        key = network.regulator["Authorization"].removeprefix("Bearer ")
        mount(app, recalls=RecallGateway(network.http, key))
        server = ServerThread(app, "127.0.0.1", free_port(), "indexer")
        server.start()
        try:
            made = World(network, journey, indexer, app, server.url)
            with indexer.write_sessions() as session, session.begin():
                session.add(
                    ParticipantProfileRow(
                        address=made.rogue,
                        name=ROGUE_PHARMACY.name,
                        gln=str(ROGUE_PHARMACY.gln),
                        region=ROGUE_REGION,
                        fetched_at=utcnow(),
                    )
                )
            made.keys = {
                "regulator": made.issue_key("regulator", "Medicines Agency"),
                "auditor": made.issue_key("auditor", "Audit office"),
            }
            yield made
        finally:
            server.stop()
    finally:
        indexer.stop()
        network.gateway.stop()


def recalls_at_gateway(world: World) -> list[dict[str, object]]:
    listed = world.network.http.get("/recalls?active=true", headers=world.network.regulator)
    found: list[dict[str, object]] = listed.json()
    return [r for r in found if r["lot"] == FINISHED_LOT]


@contextmanager
def lifted_afterwards(world: World) -> Iterator[None]:
    """Whatever happens, the lot is not left recalled for the other page tests."""
    try:
        yield
    finally:
        if recalls_at_gateway(world):
            world.network.http.post(
                f"/recalls/{GTIN}/{FINISHED_LOT}/release", headers=world.network.regulator
            )
        world.indexer.catch_up()


def sign_in(page: object, world: World, role: str) -> None:
    page.goto(f"{world.url}/login?lang=en")  # type: ignore[attr-defined]
    page.fill("#key", world.keys[role])  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_a_regulator_recalls_a_lot_with_one_button_and_sees_the_pharmacy_notified(
    world: World, browser: Browser
) -> None:
    pharmacy = f"GLN {PHARMACY.gln}"
    with offline_page(browser) as opened, lifted_afterwards(world):
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        sign_in(page, world, "regulator")
        page.goto(f"{world.url}/dashboard/trace?q={GTIN}+{FINISHED_LOT}&lang=en")
        page.click("#origin a.lot")  # the trace's lot: its page
        assert page.locator("h1").inner_text() == f"{EN['lot.title']} {FINISHED_LOT}"
        assert pharmacy in page.locator("#holders").inner_text()
        assert "APIL-2026-0042" in page.locator("#api-lots").inner_text()
        assert page.locator("#balance").inner_text() == EN["lot.balance_ok"]
        assert page.locator("#recall-state").inner_text() == EN["lot.not_recalled"]
        assert page.locator("#product").inner_text() == "Paracetamol 500 mg"  # master data
        pharmacy_row = page.locator("#holders tr", has_text=pharmacy).inner_text()
        assert SITES[PHARMACY][1] in pharmacy_row  # the region of its site's master data
        assert ADDRESS.search(page.locator("main").inner_text()) is None  # names, never addresses
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "lot.png", full_page=True)

        page.fill("#reason", "Out of specification: dissolution")
        page.click("#do-recall button")  # the confirmation step: nothing sent yet
        assert page.locator("h1").inner_text() == EN["confirm.recall"]
        assert pharmacy in page.locator("#to-notify").inner_text()
        assert recalls_at_gateway(world) == []
        page.click("#confirm")

        assert page.url.startswith(f"{world.url}/dashboard/recall?")
        assert page.locator("#state").inner_text() == EN["verdict.recalled"]
        notified = page.locator("#notified tr", has_text=pharmacy)
        assert notified.count() == 1
        assert EN["recall.kind.recall"] in notified.inner_text()
        assert EN["delivery.feed"] in notified.inner_text()  # no webhook: in its feed
        assert page.locator("#no-progress").count() == 1  # the index has not read it yet
        [recall] = recalls_at_gateway(world)
        assert recall["reason"] == "Out of specification: dissolution"
        pressed = page.locator("#actions tr", has_text=EN["actions.kind.recall"]).first
        assert "Medicines Agency" in pressed.inner_text()  # who pressed it: the key's holder
        assert "Out of specification: dissolution" in pressed.inner_text()

        world.indexer.catch_up()
        block = world.network.chain.w3.eth.get_block("latest")
        after = max(datetime.now(UTC), datetime.fromtimestamp(block["timestamp"], UTC))
        sold = world.journey.packs[1]  # by the rogue pharmacy, after the recall
        send(world.network, ROGUE_PHARMACY, [epcis.dispense(ROGUE_PHARMACY, after, [sold])])
        world.indexer.catch_up()
        page.reload()
        assert page.locator("#on-chain").inner_text().startswith(EN["trace.block"])
        now = page.locator("#progress-now td").all_inner_texts()
        at_recall = page.locator("#progress tr", has_text=EN["recall.at_recall"])
        shelves = int(at_recall.locator("td").nth(1).inner_text())
        assert now[0] == EN["recall.now"] and shelves > 0  # packs on shelves at the recall
        assert (int(now[1]), int(now[4])) == (shelves - 1, 1)  # one dispensed after it
        assert page.locator("#after-recall").inner_text() == "1"  # and alerted
        assert pharmacy in page.locator("#scope").inner_text()
        regions = page.locator("#regions").inner_text()
        assert SITES[PHARMACY][1] in regions and SITES[DISTRIBUTOR][1] in regions
        assert ROGUE_REGION not in regions  # the rogue pharmacy holds none
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "recall.png", full_page=True)
        page.click("nav.pages >> text=" + EN["recalls.title"])  # every recall, this one first
        first = page.locator("#recalls tr:has(td)").first
        assert FINISHED_LOT in first.inner_text() and EN["verdict.recalled"] in first.inner_text()
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "recalls.png", full_page=True)
        first.locator("a").click()

        page.fill("#release-reason", "Retested: within specification")
        page.click("#do-release button")
        assert page.locator("h1").inner_text() == EN["confirm.release"]
        page.click("#confirm")
        assert page.locator("#state").inner_text() == EN["recall.released"]
        assert recalls_at_gateway(world) == []
        latest = page.locator("#actions tr:has(td)").first.inner_text()
        assert EN["actions.kind.release"] in latest and "Medicines Agency" in latest
        with world.indexer.sessions() as session:
            logged = session.scalars(select(DashboardActionRow).order_by(DashboardActionRow.id))
            assert [(a.action, a.actor, a.lot, a.reference is not None) for a in logged] == [
                ("recall", "Medicines Agency", FINISHED_LOT, True),
                ("release", "Medicines Agency", FINISHED_LOT, True),
            ]
    assert opened.blocked == []


def test_an_auditor_sees_no_button_and_its_post_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as auditor:
        assert auditor.post("/login", data={"key": world.keys["auditor"]}).status_code == 200
        page = auditor.get(LOT_PATH)
        assert page.status_code == 200 and 'id="read-only"' in page.text
        assert 'id="do-recall"' not in page.text and 'id="do-release"' not in page.text
        token = CSRF.search(page.text)
        assert token is not None
        form = {"csrf": token.group(1), "reason": "mine", "confirm": "yes"}
        refused = auditor.post(f"/dashboard/lot/recall?gtin={GTIN}&lot={FINISHED_LOT}", data=form)
        assert refused.status_code == 403 and EN["lot.may_not_recall"] in refused.text
    assert recalls_at_gateway(world) == []


def test_a_recall_without_its_token_or_reason_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
        regulator.post("/login", data={"key": world.keys["regulator"]})
        page = regulator.get(LOT_PATH)
        token = CSRF.search(page.text)
        assert token is not None and 'id="do-recall"' in page.text
        action = f"/dashboard/lot/recall?gtin={GTIN}&lot={FINISHED_LOT}"
        forged = regulator.post(action, data={"reason": "x", "confirm": "yes"})
        assert forged.status_code == 403
        no_reason = regulator.post(action, data={"csrf": token.group(1), "confirm": "yes"})
        assert no_reason.status_code == 422 and EN["lot.reason_needed.recall"] in no_reason.text
        unknown = regulator.get("/dashboard/lot", params={"gtin": GTIN, "lot": "NO-SUCH"})
        assert unknown.status_code == 404
    assert recalls_at_gateway(world) == []


@pytest.mark.parametrize("which", ["lot", "confirm", "recall", "recalls"])
def test_the_lot_and_recall_pages_have_no_serious_accessibility_violation(
    world: World, browser: Browser, which: str
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        sign_in(page, world, "regulator")
        page.goto(world.url + LOT_PATH)
        if which == "confirm":
            page.fill("#reason", "checking the page")
            page.click("#do-recall button")
            assert page.locator("#confirm").count() == 1
        elif which == "recall":
            page.goto(f"{world.url}/dashboard/recall?gtin={GTIN}&lot={FINISHED_LOT}&lang=en")
        elif which == "recalls":
            page.goto(f"{world.url}/dashboard/recalls?lang=en")
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()
    assert recalls_at_gateway(world) == []


def refused(world: World, actor: Actor, event: dict[str, object]) -> str:
    """The rule the gateway refuses ``event`` with, sent by ``actor``."""
    answer = world.network.http.post(
        "/capture",
        json=epcis.as_document([event]),
        headers=world.network.keys[actor.name],
    )
    assert answer.status_code in (400, 422), answer.text
    rule: str = answer.json()["rule"]
    return rule


def test_a_pack_the_pharmacy_returns_to_its_distributor_counts_returned(world: World) -> None:
    """Under a recall the pharmacy may not ship forward, but sends a pack back to its
    distributor (a shipping with disposition returned), which receives it as a return: the
    recall page counts it returned, no longer on a shelf; the distributor still ships it
    nowhere forward."""
    network = world.network
    with lifted_afterwards(world):
        body = {"gtin": GTIN, "lot": FINISHED_LOT, "reason": "Out of specification"}
        recalled = network.http.post("/recalls", json=body, headers=network.regulator)
        assert recalled.status_code == 201, recalled.text
        world.indexer.catch_up()
        block = network.chain.w3.eth.get_block("latest")
        after = max(datetime.now(UTC), datetime.fromtimestamp(block["timestamp"], UTC))
        case = world.journey.steps[-2].events[0]["epcList"][0]  # the pharmacy's case
        pack = world.journey.packs[2]
        forward = epcis.ship(PHARMACY, DISTRIBUTOR, after, epcs=[case])
        assert refused(world, PHARMACY, forward) == "role.not-allowed"
        send(network, PHARMACY, [epcis.aggregate(PHARMACY, after, case, [pack], action="DELETE")])
        later = after + timedelta(seconds=1)
        send(network, PHARMACY, [epcis.send_back(PHARMACY, DISTRIBUTOR, later, epcs=[pack])])
        plain = epcis.receive(PHARMACY, DISTRIBUTOR, later, epcs=[pack])
        assert refused(world, DISTRIBUTOR, plain) == "custody.recalled"
        send(network, DISTRIBUTOR, [epcis.receive_back(PHARMACY, DISTRIBUTOR, later, epcs=[pack])])
        onward = epcis.ship(DISTRIBUTOR, PHARMACY, later, epcs=[pack])
        assert refused(world, DISTRIBUTOR, onward) == "custody.recalled"
        world.indexer.catch_up()
        with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
            regulator.post("/login", data={"key": world.keys["regulator"]})
            page = regulator.get(
                "/dashboard/recall", params={"gtin": GTIN, "lot": FINISHED_LOT, "lang": "en"}
            )
        assert page.status_code == 200
        now = re.search(r'id="progress-now">(.*?)</tr>', page.text, re.S)
        assert now is not None
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", now.group(1))
        assert cells[0] == EN["recall.now"] and int(cells[2]) == 1  # one pack returned
