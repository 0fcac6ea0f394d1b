"""A real browser for the web page tests: Debian's Chromium driven by Playwright, offline.

Every page opens in a context whose requests to anything but loopback are aborted and recorded,
so a page that would need a CDN, a web font or an outside script fails its test here the way it
would fail on an air-gapped network. Where Chromium is not installed (scripts/ensure-chromium.sh
installs it as root) the tests that need it skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

CHROMIUM = Path(os.environ.get("PROVENANCE_CHROMIUM", "/usr/bin/chromium"))
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium, headless, or a skip that says how to get it."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` as root")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class OfflinePage:
    """A page that may only reach loopback; what it tried beyond is in ``blocked``."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@contextmanager
def offline_page(browser: Browser) -> Iterator[OfflinePage]:
    context = browser.new_context()
    page = context.new_page()
    opened = OfflinePage(page)

    def only_loopback(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if urlsplit(url).scheme in ("data", "blob") or host in LOOPBACK:
            route.continue_()
        else:
            opened.blocked.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    page.on(
        "console",
        lambda message: (
            opened.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    try:
        yield opened
    finally:
        context.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_accessibility_violations(page: Page) -> list[tuple[str, str]]:
    """axe-core's serious and critical violations on ``page`` (its context must bypass the CSP:
    axe is injected), as (rule, impact); skips where node_modules has no axe-core."""
    if not AXE.is_file():
        pytest.skip("node_modules/axe-core is missing: `make deps`")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (violation["id"], violation["impact"])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
