"""Signing in to the dashboard with a reader key: a session cookie (HttpOnly, SameSite=Strict),
the overview with the index's own numbers, sign-out, expiry, a revoked key ending its sessions,
and forms refused without the session's CSRF token or from another origin."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import httpx
from fastapi.testclient import TestClient
from markupsafe import escape
from playwright.sync_api import Browser, Page
from sqlalchemy import func, select

from dashboard import sessions
from dashboard.i18n import messages
from indexer.store.models import AnchorRow, EventRow
from servicekit.http.ratelimits import RateLimits
from servicekit.sql.helpers import utcnow
from tests.dashboard.conftest import World
from tests.dashboard.test_stock_page import SCREENSHOTS
from tests.support.browser import offline_page, serious_accessibility_violations

EN = messages("en")


def sign_in(page: Page, world: World, key: str) -> None:
    page.goto(f"{world.url}/login?lang=en")
    page.fill("#key", key)
    page.click("button[type=submit]")


def cookie(http: httpx.Client, world: World, role: str) -> str:
    answer = http.post(f"{world.url}/login", data={"key": world.keys[role]}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    return answer.cookies["dash_session"]


def test_a_regulator_signs_in_sees_the_index_s_numbers_and_signs_out(
    world: World, browser: Browser
) -> None:
    with world.indexer.sessions() as session:
        events = session.scalar(select(func.count()).select_from(EventRow))
        anchors = session.scalar(select(func.count()).select_from(AnchorRow))
        anchored = session.scalar(select(func.sum(AnchorRow.event_count)))
        gas = dict(session.execute(select(AnchorRow.tx_hash, AnchorRow.gas_used)).all())
        per_day = Counter(
            (when.date().isoformat(), step or "")
            for when, step in session.execute(select(EventRow.event_time, EventRow.biz_step))
        )
        latest = max(when for when, _ in per_day)
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/dashboard?lang=en")
        assert page.url.endswith("/login")  # not signed in: the sign-in page
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "login.png", full_page=True)
        sign_in(page, world, "ik_not.a-key")
        assert page.locator("[role=alert]").inner_text() == EN["login.failed"]
        sign_in(page, world, world.keys["regulator"])
        assert page.url.endswith("/dashboard")
        assert page.locator("#who").inner_text().startswith("Medicines Agency")
        assert page.locator("#events").inner_text() == str(events)
        assert page.locator("#anchors").inner_text() == str(anchors)
        assert page.locator("#recalls").inner_text() == "1"
        assert "dispensing" in page.locator("#by-step").inner_text()
        # anchored in the last minutes of chain time: every batch is of the last 24 hours
        assert page.locator("#anchors-last-day").inner_text() == str(anchors)
        assert page.locator("#events-anchored").inner_text() == str(anchored)
        assert page.locator("#events-anchored-last-day").inner_text() == str(anchored)
        # each transaction's gasUsed (from its receipt), once: every batch's gas is known
        used = [g for g in gas.values() if g is not None]
        assert len(used) == len(gas)
        assert page.locator("#gas").inner_text() == str(sum(used))
        assert page.locator("#gas-last-day").inner_text() == str(sum(used))
        assert page.locator("#without-gas").count() == 0
        assert_days_are_the_index_s(page, per_day, date.fromisoformat(latest))
        if SCREENSHOTS:
            page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)
        (stored,) = page.context.cookies()
        assert (stored["name"], stored["httpOnly"], stored["sameSite"]) == (
            "dash_session",
            True,
            "Strict",
        )
        page.click("text=" + EN["logout.submit"])
        assert page.url.endswith("/login")
        # the old cookie, replayed, opens nothing any more
        replayed = httpx.get(
            f"{world.url}/dashboard",
            cookies={"dash_session": stored["value"]},
            follow_redirects=False,
        )
        assert replayed.status_code == 303 and replayed.headers["location"] == "/login"
    assert opened.blocked == []
    assert all("401" in error for error in opened.console_errors)  # the wrong key's answer


def assert_days_are_the_index_s(page: Page, per_day: Counter[tuple[str, str]], last: date) -> None:
    """The per-day table: 14 days to the latest event's (the chain's clock is later), each cell
    the index's count of that day's events of that step."""
    days = page.locator("#daily tbody tr").evaluate_all("rows => rows.map(r => r.dataset.day)")
    assert days == [(last - timedelta(days=back)).isoformat() for back in range(13, -1, -1)]
    cells = page.locator("#daily td[data-step]").evaluate_all(
        "cells => cells.map(c => [c.parentElement.dataset.day, c.dataset.step, +c.textContent])"
    )
    shown = {(day, step): n for day, step, n in cells if n}
    assert shown == {key: n for key, n in per_day.items() if key[0] >= days[0]}
    assert sum(shown.values()) > 0
    assert page.locator("svg.daily-chart rect").count() == len(shown)


def test_sign_in_overview_and_trace_have_no_serious_accessibility_violation(
    world: World, browser: Browser
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        page.goto(f"{world.url}/login")
        found = serious_accessibility_violations(page)
        sign_in(page, world, world.keys["auditor"])
        found += serious_accessibility_violations(page)
        page.goto(f"{world.url}/dashboard/trace?q=urn:epc:id:sgtin:4700123.012345.S00000001")
        found += serious_accessibility_violations(page)
        assert found == []
    finally:
        context.close()


def test_the_cookie_is_secure_over_https_only(world: World) -> None:
    """Over TLS (a request whose scheme is https: served so, or behind a proxy whose
    X-Forwarded-Proto uvicorn trusts) the browser sends the session cookie back only over TLS;
    over plain http on the host's own network it could not be Secure and still be sent back."""
    for scheme, secure in (("https", True), ("http", False)):
        http = TestClient(world.app, base_url=f"{scheme}://indexer.example")
        answer = http.post(
            "/login",
            data={"key": world.keys["auditor"]},
            headers={"Origin": f"{scheme}://indexer.example"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        flags = {part.strip().lower() for part in answer.headers["set-cookie"].split(";")}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert ("secure" in flags) is secure, (scheme, flags)


def test_failed_sign_ins_use_up_the_address_s_budget_even_for_the_right_key(world: World) -> None:
    """Guessing keys on the sign-in page costs what guessing them on the API does: past the
    address's failed-authentication budget every sign-in is 429, the right key's too."""
    saved = world.app.state.rate_limits
    world.app.state.rate_limits = RateLimits(auth_failures="2/hour")  # never slides past
    try:
        with httpx.Client(base_url=world.url, follow_redirects=False) as http:
            wrong = [http.post("/login", data={"key": f"ik_guess{n}"}) for n in range(2)]
            right = http.post("/login", data={"key": world.keys["regulator"]})
    finally:
        world.app.state.rate_limits = saved
    assert [w.status_code for w in wrong] == [401, 401]
    assert all(escape(EN["login.failed"]) in w.text for w in wrong)
    assert right.status_code == 429 and escape(EN["login.limited"]) in right.text
    assert "dash_session" not in right.cookies


def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    key = world.issue_key("regulator", "Short-lived regulator")
    with httpx.Client(follow_redirects=True) as http:
        assert http.post(f"{world.url}/login", data={"key": key}).status_code == 200  # overview
        assert http.get(f"{world.url}/dashboard").status_code == 200
        with world.indexer.write_sessions() as session:
            found = world.indexer.api_keys.authenticate(session, key)
            assert found is not None
            world.indexer.api_keys.revoke_id(session, found.id, actor="test")
            session.commit()
        gone = http.get(f"{world.url}/dashboard", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"] == "/login"


def test_forms_need_the_session_s_csrf_token_and_this_origin(world: World) -> None:
    with httpx.Client(follow_redirects=False) as http:
        cookie(http, world, "regulator")  # the client keeps the session cookie
        assert http.post(f"{world.url}/logout").status_code == 403
        assert http.post(f"{world.url}/logout", data={"csrf": "x"}).status_code == 403
        foreign = http.post(
            f"{world.url}/login",
            data={"key": world.keys["regulator"]},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        page = http.get(f"{world.url}/dashboard")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        out = http.post(f"{world.url}/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"


def test_a_session_ends_when_idle_or_old_whatever_its_use(world: World) -> None:
    start = utcnow()
    with world.indexer.write_sessions() as session:
        key = world.indexer.api_keys.authenticate(session, world.keys["auditor"])
        assert key is not None
        idle_token, _ = sessions.start(session, key, start)
        busy_token, _ = sessions.start(session, key, start)
        assert sessions.resume(session, idle_token, start + timedelta(minutes=29)) is not None
        late = start + timedelta(minutes=29) + sessions.IDLE + timedelta(seconds=1)
        assert sessions.resume(session, idle_token, late) is None
        assert sessions.resume(session, idle_token, start) is None  # ended: never comes back
        at = start
        while at - start < sessions.ABSOLUTE - timedelta(minutes=20):
            at += timedelta(minutes=20)
            assert sessions.resume(session, busy_token, at) is not None
        assert (
            sessions.resume(session, busy_token, start + sessions.ABSOLUTE + timedelta(1)) is None
        )


def test_an_inspector_signs_in_and_sees_the_chain_only(world: World) -> None:
    with httpx.Client(follow_redirects=True) as http:
        page = http.post(f"{world.url}/login", data={"key": world.keys["inspector"]})
    assert page.status_code == 200 and "KG-C" in page.text
    assert 'id="events"' not in page.text and 'id="checkpoint"' in page.text


def test_the_home_page_links_the_dashboard_once_mounted(world: World) -> None:
    assert httpx.get(f"{world.url}/").json()["links"]["dashboard"] == "/dashboard"
