"""Verify in this browser: on the trace page, a step's receipt is checked by the page itself
(leaf, Merkle proof, and the root's anchor read from the chain node's JSON-RPC), against a real
ganache node; a receipt tampered on its way to the page fails there, even one forged whole
(another salt, its leaf and a root of its own: the node knows no such anchor)."""

from __future__ import annotations

import filecmp
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, Route

from chain.client import Chain
from dashboard.app import mount
from dashboard.i18n import messages
from dashboard.render import STATIC_DIR as STATIC
from devkit.nodes import available, free_port, running_node
from indexer.api.app import create_app
from medledger.merkle import leaf_hash
from provenance.up import ServerThread
from tests.dashboard.conftest import ROOT
from tests.support.browser import offline_page
from tests.support.network import start_network

pytestmark = pytest.mark.node
EN = messages("en")
PACK = "urn:epc:id:sgtin:4700123.012345.S00000001"


@dataclass
class Served:
    url: str
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not available("ganache"):
        pytest.skip("ganache is not installed in node_modules (run `make deps`)")
    tmp = tmp_path_factory.mktemp("verify")
    with running_node("ganache") as node:
        network = start_network(tmp / "gateway", chain=Chain.from_url(node.url, poll_interval=0.05))
        indexer = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
        try:
            network.run_journey(packs=4, packs_per_case=2)
            indexer.catch_up()
            app = create_app(indexer, follow=False)
            mount(app, node_url=node.url)
            server = ServerThread(app, "127.0.0.1", free_port(), "indexer")
            server.start()
            with indexer.write_sessions() as session, session.begin():
                key = indexer.api_keys.issue_key(session, "Medicines Agency", "regulator").token
            try:
                yield Served(server.url, key)
            finally:
                server.stop()
        finally:
            indexer.stop()
            network.gateway.stop()


def open_trace(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/login?lang=en")
    page.fill("#key", served.key)
    page.click("button[type=submit]")
    page.goto(f"{served.url}/dashboard/trace?lang=en&q={PACK}")


def check_step(page: Page, index: int) -> str:
    button = page.locator("button[data-receipt]").nth(index)
    button.click()
    result = page.locator(f"#{button.get_attribute('aria-controls')}")
    page.wait_for_function(
        "el => el.dataset.result && el.dataset.result !== 'checking'", arg=result.element_handle()
    )
    return result.get_attribute("data-result") or ""


def test_every_step_verifies_in_the_browser_against_the_node(
    served: Served, browser: Browser
) -> None:
    with offline_page(browser) as opened:
        open_trace(opened.page, served)
        buttons = opened.page.locator("button[data-receipt]").count()
        assert buttons >= 5
        assert [check_step(opened.page, i) for i in range(buttons)] == ["ok"] * buttons
        assert EN["verify.ok"] in opened.page.locator("#history").inner_text()
    assert opened.blocked == [] and opened.console_errors == []


@pytest.mark.parametrize(
    ("field", "failed_at"),
    [
        ("salt", "leaf"),
        ("anchored_by", "anchor"),
        ("proof", "proof"),
        ("forged", "anchor"),
        ("contract", "contract"),  # another registry than the page's
    ],
)
def test_a_tampered_receipt_fails_in_the_browser(
    served: Served, browser: Browser, field: str, failed_at: str
) -> None:
    def tamper(route: Route) -> None:
        receipt = route.fetch().json()
        if field == "salt":
            receipt["salt"] = "0x" + "00" * 32
        elif field == "anchored_by":
            receipt["anchored_by"] = "0x" + "11" * 20
        elif field == "contract":
            receipt["contract"] = "0x" + "44" * 20
        elif field == "forged":  # consistent in itself: only the chain can tell
            salt = b"\x33" * 32
            leaf = leaf_hash(bytes.fromhex(receipt["event_hash"].removeprefix("0x")), salt)
            receipt |= {"salt": "0x" + salt.hex(), "leaf": "0x" + leaf.hex(), "proof": []}
            receipt["root"] = receipt["leaf"]  # a tree of one leaf, never anchored
        else:
            receipt["proof"] = [*receipt["proof"], "0x" + "22" * 32]
        route.fulfill(body=json.dumps(receipt), content_type="application/json")

    with offline_page(browser) as opened:
        open_trace(opened.page, served)
        opened.page.route("**/dashboard/receipt**", tamper)
        assert check_step(opened.page, 0) == "failed"
        text = opened.page.locator("#history").inner_text()
        assert f"{EN['verify.failed']} ({failed_at})" in text


NOBLE = ROOT / "node_modules" / "@noble" / "hashes"


@pytest.mark.skipif(not NOBLE.is_dir(), reason="node_modules/@noble/hashes: `make deps`")
def test_the_served_keccak_is_npm_s_pinned_release_unchanged() -> None:
    served = STATIC / "vendor" / "noble-hashes"
    names = sorted(path.name for path in served.iterdir())
    _, mismatched, missing = filecmp.cmpfiles(NOBLE, served, names, shallow=False)
    assert names and (mismatched, missing) == ([], []), (
        "run `.venv/bin/python scripts/vendor_web_assets.py` after changing @noble/hashes"
    )
