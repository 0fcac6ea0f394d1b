"""Signing in to the dashboard with a reader key: a session cookie (HttpOnly, SameSite=Strict),
the overview with the index's own numbers, sign-out, expiry, a revoked key ending its sessions,
and forms refused without the session's CSRF token or from another origin."""

from __future__ import annotations

from datetime import timedelta

import httpx
from playwright.sync_api import Browser, Page
from sqlalchemy import func, select

from dashboard import sessions
from dashboard.i18n import messages
from indexer.store.models import AnchorRow, EventRow
from servicekit.sql.helpers import utcnow
from tests.dashboard.conftest import World
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
    with offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{world.url}/dashboard?lang=en")
        assert page.url.endswith("/login")  # not signed in: the sign-in page
        sign_in(page, world, "ik_not.a-key")
        assert page.locator("[role=alert]").inner_text() == EN["login.failed"]
        sign_in(page, world, world.keys["regulator"])
        assert page.url.endswith("/dashboard")
        assert page.locator("#who").inner_text().startswith("Medicines Agency")
        assert page.locator("#events").inner_text() == str(events)
        assert page.locator("#anchors").inner_text() == str(anchors)
        assert page.locator("#recalls").inner_text() == "1"
        assert "dispensing" in page.locator("#by-step").inner_text()
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
