"""`GET /` on both services: what the service is and links, JSON for scripts, HTML for a
browser (the address printed by `provenance up` used to answer 404)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from servicekit.http.home import LINKS, home_router
from servicekit.http.problems import install_problem_handlers


def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(home_router("gateway", "EPCIS 2.0 capture."))
    return TestClient(app)


def test_a_script_gets_json_links() -> None:
    answer = client().get("/")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {"service": "gateway", "summary": "EPCIS 2.0 capture.", "links": LINKS}
    assert LINKS["docs"] == "/docs" and LINKS["health"] == "/healthz"


def test_a_browser_gets_a_page_of_links() -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    answer = client().get("/", headers={"Accept": accept})
    assert answer.headers["content-type"].startswith("text/html")
    assert '<a href="/docs">docs</a>' in answer.text and "dashboard: not built yet" in answer.text


def test_its_query_is_strict_as_everywhere() -> None:
    assert client().get("/", params={"x": "1"}).status_code == 422
