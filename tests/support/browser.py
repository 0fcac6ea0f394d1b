"""A real browser for the web page tests: Debian's Chromium driven by Playwright, offline.

Every page opens in a context whose requests to anything but loopback are aborted and recorded,
so a page that would need a CDN, a web font or an outside script fails its test here the way it
would fail on an air-gapped network. Where Chromium is not installed (scripts/ensure-chromium.sh
installs it as root) the tests that need it skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
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


@contextmanager
def another_chromium(browser: Browser, args: Sequence[str]) -> Iterator[Browser]:
    """A second Chromium with command line ``args``, from ``browser``'s Playwright (one
    Playwright per thread: a test cannot start its own while the tests' browser runs)."""
    launched = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(args)
    )
    try:
        yield launched
    finally:
        launched.close()


def camera_args(video: Path) -> list[str]:
    """Chromium's command line for a camera that films ``video`` (a .y4m file, looped) and is
    allowed without asking: getUserMedia answers that camera."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]


def y4m_still(gray: bytes, width: int, height: int, frame: tuple[int, int] = (640, 480)) -> bytes:
    """One video frame (YUV4MPEG2, 4:2:0) of an 8-bit grey picture (``width`` x ``height``
    bytes, row by row) centred on white; Chromium's fake camera loops it."""
    frame_width, frame_height = frame
    assert width <= frame_width and height <= frame_height, "the picture is larger than the frame"
    luma = bytearray(b"\xff" * (frame_width * frame_height))
    left, top = (frame_width - width) // 2, (frame_height - height) // 2
    for row in range(height):
        start = (top + row) * frame_width + left
        luma[start : start + width] = gray[row * width : (row + 1) * width]
    chroma = b"\x80" * ((frame_width // 2) * (frame_height // 2) * 2)
    header = f"YUV4MPEG2 W{frame_width} H{frame_height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + b"FRAME\n" + bytes(luma) + chroma


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
