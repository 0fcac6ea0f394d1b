"""``/docs`` works air-gapped: Swagger UI comes from the service itself (copies of npm's pinned
swagger-ui-dist), nothing is fetched from anywhere else, in a real browser, on both services."""

from __future__ import annotations

import filecmp
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from devkit.nodes import free_port
from gateway.api.app import create_app as gateway_app
from indexer.api.app import create_app as indexer_app
from provenance.up import ServerThread
from servicekit.http.docs_page import ASSETS_DIR
from tests.support.browser import chromium, offline_page
from tests.support.network import start_network

ROOT = Path(__file__).resolve().parents[2]
NPM_PACKAGE = ROOT / "node_modules" / "swagger-ui-dist"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The gateway and the indexer, each on a loopback port: name -> base URL."""
    tmp = tmp_path_factory.mktemp("docs")
    network = start_network(tmp / "gateway")
    indexer = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
    servers = [
        ServerThread(gateway_app(network.gateway, run_batcher=False), "127.0.0.1", free_port(),
                     "gateway"),
        ServerThread(indexer_app(indexer, follow=False), "127.0.0.1", free_port(), "indexer"),
    ]  # fmt: skip
    for server in servers:
        server.start()
    try:
        yield {"gateway": servers[0].url, "indexer": servers[1].url}
    finally:
        for server in servers:
            server.stop()
        indexer.stop()
        network.gateway.stop()


@pytest.mark.parametrize("service", ["gateway", "indexer"])
def test_the_docs_page_lists_every_operation_with_nothing_fetched_from_outside(
    browser: Browser, services: dict[str, str], service: str
) -> None:
    with offline_page(browser) as opened:
        opened.page.goto(f"{services[service]}/docs")
        opened.page.wait_for_selector(".opblock", timeout=30_000)
        operations = opened.page.locator(".opblock").count()
        title = opened.page.locator(".information-container .title").inner_text()
    assert opened.blocked == []
    assert operations >= 10, f"only {operations} operations rendered"
    assert "Medicine provenance" in title


def test_the_docs_page_forbids_other_origins_and_has_no_redoc(services: dict[str, str]) -> None:
    import httpx

    for base in services.values():
        page = httpx.get(f"{base}/docs")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert "cdn." not in page.text and "https://" not in page.text
        assert httpx.get(f"{base}/redoc").status_code == 404
        asset = httpx.get(f"{base}/docs/assets/swagger-ui-bundle.js")
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]


@pytest.mark.skipif(not NPM_PACKAGE.is_dir(), reason="node_modules/swagger-ui-dist: `make deps`")
def test_the_served_swagger_ui_is_npm_s_pinned_release_unchanged() -> None:
    served = sorted(path.name for path in ASSETS_DIR.iterdir())
    assert "swagger-ui-bundle.js" in served
    _, mismatched, missing = filecmp.cmpfiles(NPM_PACKAGE, ASSETS_DIR, served, shallow=False)
    assert (mismatched, missing) == ([], []), (
        "run `.venv/bin/python scripts/vendor_web_assets.py` after changing swagger-ui-dist"
    )
