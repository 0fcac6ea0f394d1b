"""Scan with the phone's camera on /check, in Chromium whose fake camera films a pack's code: the
GS1 DataMatrix of a seeded pack (drawn here by zxing-cpp, the reader the page runs as
WebAssembly) or a QR code with its GS1 Digital Link; the page reads it, puts the code in the
form, submits it and shows the server's verdict, at a phone's width, nothing fetched beyond the
host. Without a camera the page says so in the reader's language, and typing keeps working; the
scanner's library is npm's pinned release, its .wasm served from here as application/wasm."""

from __future__ import annotations

import filecmp
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import zxingcpp
from playwright.sync_api import Browser, Page, ViewportSize

from dashboard.i18n import messages
from dashboard.render import STATIC_DIR, STATIC_PATH
from tests.dashboard.conftest import ROOT, World
from tests.dashboard.test_public_check import SCREENSHOTS
from tests.support.browser import (
    another_chromium,
    camera_args,
    offline_page,
    serious_accessibility_violations,
    y4m_still,
)

PHONE: ViewportSize = {"width": 375, "height": 812}
GS = "\x1d"


def symbol(code: str, barcode_format: zxingcpp.BarcodeFormat, *, gs1: bool) -> zxingcpp.Image:
    barcode = zxingcpp.create_barcode(code, barcode_format, gs1=gs1)
    return zxingcpp.write_barcode_to_image(barcode, scale=6)


def pixels(image: zxingcpp.Image) -> tuple[bytes, int, int]:
    """An image's grey bytes, row by row, its width and height."""
    view = memoryview(image)  # type: ignore[arg-type]  # a buffer; its stub does not say so
    height, width = view.shape or (0, 0)
    return view.tobytes(), width, height


def filmed(tmp: Path, image: zxingcpp.Image) -> Path:
    video = tmp / "camera.y4m"
    video.write_bytes(y4m_still(*pixels(image)))
    return video


@contextmanager
def camera_filming(browser: Browser, tmp: Path, image: zxingcpp.Image) -> Iterator[Browser]:
    with another_chromium(browser, camera_args(filmed(tmp, image))) as filming:
        yield filming


def scan(page: Page, url: str) -> tuple[str, str]:
    """Opens the check page, presses Scan, waits for the verdict: (verdict, the form's code)."""
    page.set_viewport_size(PHONE)
    page.goto(url)
    page.click("#scan")
    page.wait_for_selector("#verdict", timeout=30_000)
    verdict = page.locator("#verdict").get_attribute("data-verdict") or ""
    return verdict, page.input_value("#code")


def test_a_pack_s_gs1_datamatrix_is_scanned_and_checked_on_a_phone(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    image = symbol(world.codes()["ok"], zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    read = zxingcpp.read_barcode(image, text_mode=zxingcpp.TextMode.Plain)
    assert read is not None and read.symbology_identifier == "]d2" and GS in read.text
    with camera_filming(browser, tmp_path, image) as camera, offline_page(camera) as opened:
        verdict, code = scan(opened.page, f"{world.url}/check?lang=ru")
        assert verdict == "ok"
        assert code == "]d2" + read.text  # the element string, FNC1 as GS, as a scanner sends it
        heading = opened.page.locator("#verdict h1").inner_text()
        assert heading == messages("ru")["verdict.ok"]
        width = opened.page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"]
    assert opened.blocked == [] and opened.console_errors == []


def test_a_qr_code_with_a_digital_link_is_scanned_and_checked(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    link = world.codes()["dispensed"]
    image = symbol(link, zxingcpp.BarcodeFormat.QRCode, gs1=False)
    with camera_filming(browser, tmp_path, image) as camera, offline_page(camera) as opened:
        verdict, code = scan(opened.page, f"{world.url}/check?lang=en")
        assert (verdict, code) == ("dispensed", link)
    assert opened.blocked == [] and opened.console_errors == []


def test_the_scanner_looks_until_stopped_and_stop_lets_the_camera_go(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    datamatrix = symbol(world.codes()["ok"], zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    grey, width, height = pixels(datamatrix)
    half = width // 2  # the pack not yet in view: half its symbol, which no reader can read
    left = b"".join(grey[row * width : row * width + half] for row in range(height))
    nothing = tmp_path / "half.y4m"
    nothing.write_bytes(y4m_still(left, half, height))
    t = messages("en")
    with (
        another_chromium(browser, camera_args(nothing)) as camera,
        offline_page(camera) as opened,
    ):
        page = opened.page
        page.set_viewport_size(PHONE)
        page.goto(f"{world.url}/check?lang=en")
        page.click("#scan")
        page.locator("#scan-status[data-state=looking]").wait_for()
        assert page.locator("#scan-view").is_visible()
        assert page.locator("#scan").inner_text() == t["scan.stop"]
        assert page.locator("#scan-status").inner_text() == t["scan.looking"]
        page.wait_for_timeout(1000)  # some frames read, none with a code: still looking
        assert page.locator("#verdict").count() == 0
        if SCREENSHOTS is not None:
            page.screenshot(path=SCREENSHOTS / "check-scan-en.png")
        page.click("#scan")
        assert not page.locator("#scan-view").is_visible()
        assert page.locator("#scan").inner_text() == t["scan.button"]
        live = page.evaluate("document.getElementById('scan-view').srcObject")
        assert live is None
    assert opened.blocked == [] and opened.console_errors == []


def test_without_a_camera_the_page_says_so_and_typing_still_works(
    world: World, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE, bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        page.goto(f"{world.url}/check?lang=ru")
        page.click("#scan")  # no camera here, and no one to allow one
        status = page.locator("#scan-status")
        page.locator("#scan-status[data-state]:not([data-state=starting])").wait_for()
        state = status.get_attribute("data-state") or ""
        assert state in ("denied", "nocamera")
        assert status.inner_text() == messages("ru")[f"scan.{state}"]
        assert serious_accessibility_violations(page) == []
        page.fill("#code", world.codes()["recalled"])
        page.click("button[type=submit]")
        page.wait_for_selector("#verdict")
        assert page.locator("#verdict").get_attribute("data-verdict") == "recalled"
    finally:
        context.close()


def test_over_plain_http_from_another_machine_the_page_asks_for_https(
    world: World, browser: Browser
) -> None:
    """A phone on the network reaching the indexer by name over http: not a secure page, so no
    camera; the page says why, in the reader's language (the name resolves to loopback here)."""
    port = httpx.URL(world.url).port
    rules = "--host-resolver-rules=MAP pharmacy-counter.test 127.0.0.1"
    with another_chromium(browser, [rules]) as by_name:
        context = by_name.new_context(viewport=PHONE)
        try:
            page = context.new_page()
            page.goto(f"http://pharmacy-counter.test:{port}/check?lang=ru")
            assert page.evaluate("window.isSecureContext") is False
            page.click("#scan")
            status = page.locator("#scan-status[data-state=insecure]")
            assert status.inner_text() == messages("ru")["scan.insecure"]
        finally:
            context.close()


def test_without_javascript_there_is_no_scan_button_and_typing_works(
    world: World, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{world.url}/check?lang=en")
        assert not page.locator("#scan").is_visible()
        page.fill("#code", world.codes()["ok"])
        page.click("button[type=submit]")
        page.wait_for_selector("#verdict")
        assert page.locator("#verdict").get_attribute("data-verdict") == "ok"
    finally:
        context.close()


PACK = "010470012312345721S1\x1d10L1\x1d17281031"
#: (zxing's Plain text, symbology identifier) -> the code the form gets
READINGS = [
    (PACK, "]d2", "]d2" + PACK),
    ("\x1d010470012312345721S1\x1d", "]d2", "]d2010470012312345721S1"),  # stray FNC1s at the ends
    ("\x1d010470012312345721S1\x1d10L1", "]d1", "]d2010470012312345721S1\x1d10L1"),  # FNC1 as data
    ("010470012312345721S1", "]Q3", "]Q3010470012312345721S1"),  # a GS1 QR code
    (" https://id.gs1.org/01/04700123123457/21/S1\r\n", "]Q1", "https://id.gs1.org/01/04700123123457/21/S1"),
    ("urn:epc:id:sgtin:4700123.012345.S1", "]d1", "urn:epc:id:sgtin:4700123.012345.S1"),
]  # fmt: skip


def test_fnc1_and_gs_become_the_element_string_a_scanner_sends(
    world: World, browser: Browser
) -> None:
    with offline_page(browser) as opened:
        opened.page.goto(f"{world.url}/check")
        codes = opened.page.evaluate(
            """async ([module, readings]) => {
                const { codeOf } = await import(module);
                return readings.map(([text, symbologyIdentifier]) =>
                    codeOf({ text, symbologyIdentifier }));
            }""",
            [f"{STATIC_PATH}/scan.js", [[text, identifier] for text, identifier, _ in READINGS]],
        )
    assert codes == [expected for _, _, expected in READINGS]


def test_the_reader_s_wasm_is_served_from_here_and_the_csp_lets_only_it_compile(
    world: World,
) -> None:
    wasm = httpx.get(f"{world.url}{STATIC_PATH}/vendor/zxing-wasm/dist/reader/zxing_reader.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    page = httpx.get(f"{world.url}/check", headers={"Accept": "text/html"})
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy and "connect-src 'self';" in policy
    assert "unsafe-inline" not in policy and "'unsafe-eval'" not in policy
    assert page.headers["permissions-policy"] == "camera=(self), microphone=(), geolocation=()"


ZXING = ROOT / "node_modules" / "zxing-wasm"


@pytest.mark.skipif(not ZXING.is_dir(), reason="node_modules/zxing-wasm: `make deps`")
def test_the_served_reader_is_npm_s_pinned_release_unchanged() -> None:
    served = STATIC_DIR / "vendor" / "zxing-wasm"
    names = sorted(str(path.relative_to(served)) for path in served.rglob("*") if path.is_file())
    _, mismatched, missing = filecmp.cmpfiles(ZXING, served, names, shallow=False)
    assert names and (mismatched, missing) == ([], []), (
        "run `.venv/bin/python scripts/vendor_web_assets.py` after changing zxing-wasm"
    )
