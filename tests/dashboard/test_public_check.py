"""The public pack check page, in Chromium at a phone's width: a patient types or pastes the code
and reads the verdict in plain words, in English or Russian, with nothing about holders or sites,
nothing fetched from beyond the host, and no serious accessibility fault. JSON clients keep the
API at the same URL."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, ViewportSize

from dashboard.i18n import LANGUAGES, LOCALES_DIR, choose, messages
from dashboard.render import STATIC_PATH
from indexer.api.deps import get_today
from provenance.journey import ACTORS, FINISHED_LOT, PHARMACY
from servicekit.http.ratelimits import RateLimits
from tests.dashboard.conftest import EXPIRED_TODAY, FOUND_NAME, ROOT, World
from tests.indexer.test_check import TODAY
from tests.support.browser import offline_page, serious_accessibility_violations

PHONE: ViewportSize = {"width": 375, "height": 812}
#: PROVENANCE_SCREENSHOTS=1 writes the phone pages shown in the README into docs/screenshots/.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("PROVENANCE_SCREENSHOTS") else None
SHOWN = {("ok", "en"), ("recalled", "ru")}


@contextmanager
def today_is(world: World, day: date) -> Iterator[None]:
    """The pages judge expiry against ``day`` meanwhile (the world's is :data:`TODAY`)."""
    world.app.dependency_overrides[get_today] = lambda: day
    try:
        yield
    finally:
        world.app.dependency_overrides[get_today] = lambda: TODAY


def verdict_of(page: Page) -> tuple[str, str]:
    card = page.locator("#verdict")
    return card.get_attribute("data-verdict") or "", card.locator("h1").inner_text()


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_verdict_reads_right_on_a_phone_in_each_language(
    world: World, browser: Browser, language: str
) -> None:
    t = messages(language)
    codes = [(verdict, code, TODAY) for verdict, code in world.codes().items()]
    codes.append(("expired", world.codes()["ok"], EXPIRED_TODAY))
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size(PHONE)
        for verdict, code, today in codes:
            with today_is(world, today):
                page.goto(f"{world.url}/check?" + str(httpx.QueryParams(code=code, lang=language)))
            assert verdict_of(page) == (verdict, t[f"verdict.{verdict}"])
            assert t[f"verdict.{verdict}.advice"] in page.locator("#verdict").inner_text()
            assert page.locator("#product").count() == 0  # no master data names it here
            assert page.locator("html").get_attribute("lang") == language
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= PHONE["width"], f"{verdict}: the page is {width}px wide"
            if SCREENSHOTS is not None and (verdict, language) in SHOWN:
                SCREENSHOTS.mkdir(exist_ok=True)
                page.screenshot(path=SCREENSHOTS / f"check-{verdict}-{language}.png")
    assert opened.blocked == [] and opened.console_errors == []


def test_a_person_types_the_code_and_the_browser_s_language_is_used(
    world: World, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE, locale="ru-RU")
    try:
        page = context.new_page()
        page.goto(f"{world.url}/check")
        assert page.locator("html").get_attribute("lang") == "ru"
        assert page.locator("label[for=code]").inner_text() == messages("ru")["check.label"]
        page.fill("#code", world.codes()["recalled"])
        page.click("button[type=submit]")
        page.wait_for_selector("#verdict")
        assert verdict_of(page) == ("recalled", messages("ru")["verdict.recalled"])
        assert messages("ru")["reason.7"] in page.locator(".facts").inner_text()
        page.click("text=English")  # the switch keeps the code
        assert verdict_of(page) == ("recalled", messages("en")["verdict.recalled"])
        assert page.input_value("#code") == world.codes()["recalled"]
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_verdict_names_the_medicine_its_lot_and_expiry_and_no_holder_or_site(
    public_world: World, browser: Browser, language: str
) -> None:
    """Where master data names the product the page says which medicine it is; never who
    holds the pack or where (whatever the verdict)."""
    t = messages(language)
    secrets = [str(actor.gln) for actor in ACTORS] + ["0x", "urn:epc:id:sgln", "/414/"]
    with offline_page(browser) as opened:
        page = opened.page
        page.set_viewport_size(PHONE)
        for verdict, code in public_world.codes().items():
            query = httpx.QueryParams(code=code, lang=language)
            page.goto(f"{public_world.url}/check?{query}")
            assert verdict_of(page)[0] == verdict
            facts = page.locator(".facts").inner_text()
            # the GTIN's product, an unknown serial's too (what its label claims to be)
            assert page.locator("#product").inner_text() == FOUND_NAME
            assert t["fact.product"] in facts
            if verdict in ("ok", "dispensed"):  # the index's lot and expiry
                assert FINISHED_LOT in facts and "2028-10-31" in facts, facts
            text = page.locator("main").inner_text()
            assert [s for s in secrets if s in text] == [], verdict
    assert opened.blocked == []


def test_no_serious_or_critical_accessibility_violation(world: World, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        found: list[Any] = []
        for code in ("", world.codes()["ok"], world.codes()["recalled"], "(01)123"):
            page.goto(f"{world.url}/check?" + str(httpx.QueryParams(code=code)))
            found += [(code, *v) for v in serious_accessibility_violations(page)]
        assert found == []
    finally:
        context.close()


def test_json_clients_keep_the_api_and_the_page_names_no_holder(world: World) -> None:
    code = world.codes()["dispensed"]
    as_json = httpx.get(f"{world.url}/check", params={"code": code})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["verdict"] == "dispensed"
    page = httpx.get(
        f"{world.url}/check", params={"code": code}, headers={"Accept": "text/html,*/*"}
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    pharmacy = world.network.addresses[PHARMACY.name]
    assert pharmacy.lower() not in page.text.lower() and str(PHARMACY.gln) not in page.text
    assert page.text.count("<script") == 1  # the camera scan, a module from this host
    assert f'<script type="module" src="{STATIC_PATH}/scan.js">' in page.text


def test_a_malformed_code_is_422_and_past_the_budget_429_on_the_page(world: World) -> None:
    html = {"Accept": "text/html"}
    with TestClient(world.app) as http:
        bad = http.get("/check", params={"code": "(01)123", "lang": "en"}, headers=html)
        assert bad.status_code == 422 and messages("en")["error.malformed"] in bad.text
        huge = http.get("/check", params={"code": "1" * 3000}, headers=html)
        assert huge.status_code == 422
        saved = world.app.state.rate_limits
        world.app.state.rate_limits = RateLimits(
            check="2/hour"
        )  # an hour: a slow host never slides past it
        try:
            answers = [
                http.get("/check", params={"code": world.codes()["ok"]}, headers=html)
                for _ in range(3)
            ]
            form_only = http.get("/check", headers=html)  # no code: no budget taken
        finally:
            world.app.state.rate_limits = saved
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert messages("en")["error.limited"] in answers[2].text
    assert form_only.status_code == 200


def test_the_language_is_the_switch_then_the_browser_s_then_english() -> None:
    assert choose("ru", "en") == "ru"
    assert choose(None, "de-DE,ru;q=0.8,en;q=0.5") == "ru"
    assert choose(None, "en;q=0.2, ru;q=0.9") == "ru"
    assert choose("fr", "de, fr") == "en"
    assert choose(None, "ru;q=0, xx;q=abc") == "en"


def test_every_language_has_every_message() -> None:
    keys = {language: set(messages(language)) for language in LANGUAGES}
    assert all(found == keys["en"] for found in keys.values())


def test_no_message_is_defined_twice() -> None:
    """A key written twice in a table is silently the later one (a page titled by another text)."""
    for language in LANGUAGES:
        text = (LOCALES_DIR / f"{language}.json").read_text("utf-8")
        pairs: list[tuple[str, object]] = json.loads(text, object_pairs_hook=list)
        twice = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
        assert twice == [], language
