"""The reports page (issue 22): a regulator chooses a period in a real browser and reads the
report on the page: its totals equal the report's own (:mod:`indexer.queries.reports`), it
names the chain height, its CSV download and printable page carry the same; an inspector's
report is of its own region and another region is refused; the page passes axe and asks
nothing of another host. The CLI (``provenance report``) writes the same report as CSV,
JSON and a printable HTML file."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Browser
from sqlalchemy import select

from indexer.queries.reports import Period, report, totals
from indexer.store.models import CheckpointRow
from provenance.report import run as run_report
from tests.dashboard.conftest import World
from tests.dashboard.test_recall_pages import sign_in
from tests.support.browser import offline_page, serious_accessibility_violations

FIRST = "2026-11-01"


def last() -> str:
    return datetime.now(UTC).date().isoformat()  # the recall's block is dated now


def expected(world: World, region: str | None = None) -> dict[str, int]:
    with world.indexer.sessions() as session:
        found = report(
            session, Period.of(date.fromisoformat(FIRST), date.fromisoformat(last())), region=region
        )
    return totals(found)


def test_a_regulator_makes_a_report_and_downloads_and_prints_it(
    world: World, browser: Browser
) -> None:
    with offline_page(browser) as opened:
        page = opened.page
        sign_in(page, world, "regulator")
        page.goto(f"{world.url}/dashboard/reports?lang=en")
        page.fill("#from", FIRST)
        page.fill("#to", last())
        page.click("#report-form button[type=submit]")
        page.wait_for_selector("#report")
        shown = {
            row.get_attribute("data-total"): int(row.locator("td").inner_text())
            for row in page.locator("#report-totals tr").all()
        }
        assert shown == expected(world) and shown["events"] > 0 and shown["anchors"] > 0
        height = page.locator("#report").get_attribute("data-chain-height")
        with world.indexer.sessions() as session:
            assert height == str(session.scalar(select(CheckpointRow.block_number)))
        csv_url = page.locator("#report-csv").get_attribute("href")
        print_url = page.locator("#report-print").get_attribute("href")
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        page.goto(f"{world.url}{print_url}")
        assert (
            page.locator("#report-totals").count() == 1 and page.locator("nav.pages").count() == 0
        )
        assert opened.blocked == [] and opened.console_errors == []
    with httpx.Client(base_url=world.url, cookies=cookies) as http:
        answer = http.get(str(csv_url))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["key"]: int(r["value"]) for r in rows if r["section"] == "total"} == shown
    assert {r["key"]: r["value"] for r in rows if r["section"] == "report"}["chainHeight"] == height


def test_an_inspector_reads_its_own_region_and_is_refused_another(
    world: World, browser: Browser
) -> None:
    with offline_page(browser) as opened:
        page = opened.page
        sign_in(page, world, "inspector")
        page.goto(f"{world.url}/dashboard/reports?lang=en&from={FIRST}&to={last()}")
        assert "Chüy" in page.locator("#report-head").inner_text()
        response = page.goto(
            f"{world.url}/dashboard/reports?lang=en&from={FIRST}&to={last()}&region=KG-GB"
        )
        assert response is not None and response.status == 403
        assert page.locator("#problem").count() == 1
        bad = page.goto(f"{world.url}/dashboard/reports?lang=en&from=2026-12-01&to=2026-11-01")
        assert bad is not None and bad.status == 422


def test_the_reports_page_has_no_serious_accessibility_violation(
    world: World, browser: Browser
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        sign_in(page, world, "regulator")
        page.goto(f"{world.url}/dashboard/reports?lang=en&from={FIRST}&to={last()}")
        assert page.locator("#report").count() == 1
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()


def test_the_cli_writes_csv_json_and_a_printable_page(world: World, tmp_path: Path) -> None:
    key = tmp_path / "reader.key"
    key.write_text(world.keys["regulator"])
    written = {}
    for output in ("csv", "json", "html"):
        target = tmp_path / f"report.{output}"
        code = run_report(
            first=FIRST,
            last=last(),
            output=output,
            out_file=target,
            indexer_url=world.url,
            key_file=key,
        )
        assert code == 0
        written[output] = target.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(written["csv"])))
    assert {r["key"]: int(r["value"]) for r in rows if r["section"] == "total"} == expected(world)
    body = json.loads(written["json"])
    assert totals(body) == expected(world) and body["anchors"]
    assert "<style>" in written["html"] and body["anchors"][0]["root"] in written["html"]
    assert f'data-chain-height="{body["chain"]["blockNumber"]}"' in written["html"]
    refused = run_report(first="2026-12-01", last="2026-11-01", indexer_url=world.url, key_file=key)
    assert refused == 2
