"""Price complaints, in Chromium at a phone's width: from the finder a person complains that a
pharmacy charged more than the maximum price, with a photo of the receipt, and gets a reference
number; the photo is stored re-encoded without its EXIF (GPS, camera); a photo over the cap,
or not a JPEG or PNG, is refused with the page saying why; the regulator reads the complaint on
the dashboard and sets its status, which the person then reads by the reference; no other role
sees complaints (they carry a contact). Limited per address like /check; a form from another
site is refused."""

from __future__ import annotations

import html
import io
import os
import re
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, FilePayload, Page
from sqlalchemy import select

from dashboard.i18n import messages
from dashboard.receipt_image import ReceiptTooLarge, clean_receipt
from indexer.store.models import PriceComplaintRow
from servicekit.http.ratelimits import RateLimits
from tests.dashboard.conftest import MAX_PRICE, ROOT, World
from tests.dashboard.test_public_check import PHONE
from tests.dashboard.test_recall_pages import sign_in
from tests.indexer.test_check import GTIN
from tests.support.browser import offline_page, serious_accessibility_violations

EN = messages("en")
#: PROVENANCE_SCREENSHOTS=1 writes the complaint's reference page shown in the README.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
SECRET = "Camera-Serial-4711"
GPS_IFD = 0x8825
REFERENCE = re.compile(r"PC-[0-9A-HJKMNP-TV-Z]{10}")


def photo_with_exif(fmt: str = "JPEG", size: tuple[int, int] = (320, 480)) -> bytes:
    """A receipt photo carrying EXIF: the camera's serial, a GPS position, an orientation."""
    image = Image.new("RGB", size, (250, 250, 245))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = SECRET  # BodySerialNumber
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to show upright
    exif[GPS_IFD] = {1: "N", 2: (42.0, 52.0, 30.0), 3: "E", 4: (74.0, 35.0, 10.0)}
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif)
    data = out.getvalue()
    assert SECRET.encode() in data and (b"Exif" in data or b"eXIf" in data)
    return data


def complain(page: Page, pharmacy: str, price: str, photo: bytes, name: str = "r.jpg") -> None:
    page.fill("#pharmacy", pharmacy)
    page.fill("#price", price)
    payload: FilePayload = {"name": name, "mimeType": "image/jpeg", "buffer": photo}
    page.set_input_files("#receipt", files=[payload])
    page.click("#complaint button[type=submit]")


def test_the_photo_is_re_encoded_without_its_metadata_and_turned_upright() -> None:
    for fmt in ("JPEG", "PNG"):
        cleaned = clean_receipt(photo_with_exif(fmt), limit=5 * 1024 * 1024)
        assert cleaned.media_type == f"image/{fmt.lower()}"
        assert SECRET.encode() not in cleaned.data
        assert b"Exif" not in cleaned.data and b"eXIf" not in cleaned.data
        assert b"PhoneMaker" not in cleaned.data
        with Image.open(io.BytesIO(cleaned.data)) as again:
            assert dict(again.getexif()) == {}
            assert again.size == (480, 320)  # the orientation applied to the pixels


def test_a_photo_over_the_cap_or_not_an_image_is_refused() -> None:
    with pytest.raises(ReceiptTooLarge, match="at most 1,000 are accepted"):
        clean_receipt(photo_with_exif(), limit=1000)
    for junk in (b"GIF89a" + bytes(100), b"%PDF-1.7\n", b"<svg/>", bytes(1000)):
        with pytest.raises(Exception, match="not a JPEG or PNG"):
            clean_receipt(junk, limit=10_000)


def test_a_person_complains_from_the_finder_and_follows_the_status_the_regulator_sets(
    public_world: World, browser: Browser
) -> None:
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size(PHONE)
        page.goto(f"{public_world.url}/find?gtin={GTIN}&lang=en")
        page.click("#complain")
        assert page.input_value("#gtin") == GTIN
        complain(page, "Ala-Too Pharmacy No. 7, Chui 12", "180", photo_with_exif())
        page.wait_for_selector("#sent")
        reference = page.locator("#reference").inner_text()
        assert REFERENCE.fullmatch(reference)
        assert page.locator("#complaint-status").get_attribute("data-status") == "received"
        if SCREENSHOTS is not None:
            page.screenshot(path=SCREENSHOTS / "complaint-sent-en.png", full_page=True)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide"

        with public_world.indexer.sessions() as session:  # what is kept: no EXIF at all
            row = session.scalars(
                select(PriceComplaintRow).where(PriceComplaintRow.reference == reference)
            ).one()
            assert (row.price_paid, row.max_price, row.currency) == ("180", MAX_PRICE, "KGS")
            assert row.receipt_type == "image/jpeg"
            assert SECRET.encode() not in row.receipt and b"Exif" not in row.receipt

        sign_in(page, public_world, "regulator")  # the regulator reads it and decides
        page.wait_for_selector("#who")
        page.goto(f"{public_world.url}/dashboard/complaints?lang=en")
        page.click(f"#complaints a:text-is('{reference}')")
        assert page.locator("#paid").inner_text() == "180 KGS"
        assert page.locator("#max").inner_text() == f"{MAX_PRICE} KGS"
        page.wait_for_function("document.querySelector('#receipt').complete")  # loaded
        assert page.evaluate("document.querySelector('#receipt').naturalWidth") == 480
        page.select_option("#new-status", "upheld")
        page.fill("#status-note", "Pharmacy fined; refund ordered")
        page.click("#set-status button[type=submit]")
        page.wait_for_selector("#status[data-status=upheld]")  # the page after the redirect

        page.goto(f"{public_world.url}/complaint/status?lang=en&ref={reference.lower()}")
        assert page.locator("#status").inner_text() == EN["complaint.status.upheld"]
        assert "fined" not in page.content()  # the note is the regulator's
    assert opened.blocked == [] and opened.console_errors == []


def test_a_photo_over_the_cap_is_refused_with_a_clear_message(
    public_world: World, browser: Browser
) -> None:
    cap = public_world.indexer.settings.receipt_max_bytes
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size(PHONE)
        page.goto(f"{public_world.url}/complaint?gtin={GTIN}&lang=en")
        big = b"\xff\xd8\xff\xe0" + bytes(cap + 1024 * 1024)
        complain(page, "Pharmacy", "150", big)
        page.wait_for_selector("#problem")
        message = page.locator("#problem").inner_text()
        assert "6 MB" in message and "at most 5 MB" in message, message
        assert page.input_value("#pharmacy") == "Pharmacy"  # what was typed is kept
        page.goto(f"{public_world.url}/complaint?gtin={GTIN}&lang=en")
        complain(page, "Pharmacy", "150", b"GIF89a" + bytes(2000), "r.gif")
        page.wait_for_selector("#problem")
        assert EN["complaint.bad_image"] in page.locator("#problem").inner_text()
    assert opened.blocked == []


def _form_post(
    world: World, origin: str | None = None, photo: bytes | None = None
) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return httpx.post(
        f"{world.url}/complaint?lang=en",
        data={"gtin": GTIN, "pharmacy": "Pharmacy", "price": "150,50"},
        files={"receipt": ("r.png", photo or photo_with_exif("PNG"), "image/png")},
        headers=headers,
    )


def test_abuse_is_refused_before_anything_is_kept(public_world: World) -> None:
    def count() -> int:
        with public_world.indexer.sessions() as session:
            return len(session.scalars(select(PriceComplaintRow.reference)).all())

    before = count()
    assert _form_post(public_world, origin="https://elsewhere.example").status_code == 403
    huge = b"\xff\xd8" + bytes(5 * public_world.indexer.settings.receipt_max_bytes)
    assert _form_post(public_world, photo=huge).status_code == 413  # the body cap
    saved = public_world.app.state.rate_limits
    public_world.app.state.rate_limits = RateLimits(reports="1/hour")
    try:
        first = _form_post(public_world, origin=public_world.url)
        second = _form_post(public_world, origin=public_world.url)
    finally:
        public_world.app.state.rate_limits = saved
    assert first.status_code == 303 and second.status_code == 429
    assert EN["complaint.limited"] in second.text and int(second.headers["retry-after"]) >= 1
    assert count() == before + 1
    unknown = httpx.get(f"{public_world.url}/complaint/status", params={"ref": "PC-0000000000"})
    assert unknown.status_code == 404


def test_no_other_role_sees_complaints(public_world: World) -> None:
    public_world.keys.setdefault("auditor", public_world.issue_key("auditor", "Audit office"))
    reference = REFERENCE.search(
        _form_post(public_world, origin=public_world.url).headers["location"]
    )
    assert reference is not None
    with httpx.Client(base_url=public_world.url, follow_redirects=True) as auditor:
        assert auditor.post("/login", data={"key": public_world.keys["auditor"]}).status_code == 200
        listed = auditor.get("/dashboard/complaints", params={"lang": "en"})
        assert listed.status_code == 403
        assert EN["complaints.not_yours"] in html.unescape(listed.text)
        one = auditor.get(f"/dashboard/complaints/{reference.group()}")
        assert one.status_code == 403 and "Pharmacy" not in one.text
        assert auditor.get(f"/dashboard/complaints/{reference.group()}/receipt").status_code == 403
        assert 'href="/dashboard/complaints' not in auditor.get("/dashboard").text


def test_no_serious_or_critical_accessibility_violation(
    public_world: World, browser: Browser
) -> None:
    reference = REFERENCE.search(
        _form_post(public_world, origin=public_world.url).headers["location"]
    )
    assert reference is not None
    context = browser.new_context(viewport=PHONE, bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        found: list[Any] = []
        for path in (
            f"/complaint?gtin={GTIN}",
            f"/complaint/status?ref={reference.group()}&new=1",
            "/complaint/status?ref=PC-0000000000&lang=ru",
        ):
            page.goto(public_world.url + path)
            found += [(path, *v) for v in serious_accessibility_violations(page)]
        sign_in(page, public_world, "regulator")
        page.wait_for_selector("#who")
        for path in ("/dashboard/complaints", f"/dashboard/complaints/{reference.group()}"):
            page.goto(public_world.url + path)
            found += [(path, *v) for v in serious_accessibility_violations(page)]
        assert found == []
    finally:
        context.close()
