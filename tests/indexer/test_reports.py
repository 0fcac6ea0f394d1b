"""Reports (issue 22): for a period, a region and a product, the report's figures equal the same
figures computed by direct SQL over the index; it carries the chain height and every anchor
its events came from; the CSV form holds the same numbers; an inspector reads its own region's
only; a period the wrong way round is refused. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import distinct, func, select

from bench.reports import direct as bench_direct
from dashboard.triage import act
from indexer.api.app import create_app
from indexer.queries.reports import RECALL_KINDS, Period, as_csv, report, totals
from indexer.store.models import (
    AlertRow,
    CheckpointRow,
    EventRow,
    ItemVersionRow,
    PriceComplaintRow,
    RecallChangeRow,
)
from medledger.epcis import builders as epcis
from provenance.journey import FINISHED_LOT, PHARMACY, build_journey
from tests.indexer.test_check import GTIN, RECALLED_LOT, _release_and_recall
from tests.indexer.test_masterdata import declare
from tests.indexer.test_shortage import DAY0, SITES, at, site
from tests.support.network import start_network

FIRST = date(2026, 11, 1)


def last_day() -> date:
    return datetime.now(UTC).date()  # the recall's block is dated by the chain's clock: now


@pytest.fixture(scope="module")
def index(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("reports")
    network = start_network(tmp / "gateway")
    service = network.indexer(module_index_url, tmp / "indexer")
    try:
        for actor in SITES:
            declare(network, actor, [site(actor)])
        network.anchor()
        journey = build_journey(40, packs_per_case=10, start=DAY0 - timedelta(days=1))
        for step in journey.steps:
            network.capture(step.actor, step.events)
            network.anchor()
        for day in range(1, 4):
            packs = journey.packs[2 * day - 1 : 2 * day + 1]
            network.capture(PHARMACY, [epcis.dispense(PHARMACY, at(day), packs)])
            network.anchor()
        _release_and_recall(network)  # registers the finished lot, recalls another
        suspended = network.http.post(
            "/suspensions",
            json={
                "gtin": GTIN,
                "lot": FINISHED_LOT,
                "caseNumber": "PV-2026/0042",
                "reason": "adverse reactions reported",
            },
            headers=network.regulator,
        )
        assert suspended.status_code == 201, suspended.text
        service.catch_up()
        app = create_app(service, follow=False)
        http = TestClient(app)
        keys: dict[str, str] = {}
        for role, region in (("regulator", None), ("inspector", "KG-GB")):
            with service.write_sessions() as session, session.begin():
                issued = service.api_keys.issue_key(session, role, role, region=region)
                keys[role] = issued.token
        with service.write_sessions() as session, session.begin():
            session.add(complaint(datetime(2026, 11, 4, 12, 0, tzinfo=UTC)))
            session.add(complaint(datetime(2025, 11, 4, 12, 0, tzinfo=UTC), "OLD"))
        yield service, http, keys
    finally:
        service.stop()
        network.gateway.stop()


def complaint(received: datetime, reference: str = "ABCD-2345") -> PriceComplaintRow:
    """A price complaint as the public page stores it (not chain-derived)."""
    return PriceComplaintRow(
        reference=reference,
        gtin=GTIN,
        product_name=None,
        pharmacy="Ala-Too Pharmacy No. 7",
        price_paid="250.00",
        max_price="180.00",
        currency="KGS",
        receipt=b"\xff\xd8",
        receipt_type="image/jpeg",
        contact=None,
        status="received",
        note=None,
        received_at=received,
        updated_at=received,
        updated_by=None,
    )


def direct(service: Any, period: Period) -> dict[str, int]:
    """The report's totals, by plain SQL over the index."""
    e, v = EventRow, ItemVersionRow
    in_period = (e.event_time >= period.start, e.event_time < period.end)
    with service.sessions() as session:
        return {
            "events": session.scalar(select(func.count()).select_from(e).where(*in_period)),
            "dispensed": session.scalar(
                select(func.count()).where(
                    v.status == "dispensed",
                    v.gtin.is_not(None),
                    v.event_time >= period.start,
                    v.event_time < period.end,
                )
            ),
            "active": session.scalar(
                select(func.count()).where(
                    v.valid_to.is_(None), v.gtin.is_not(None), v.status == "active"
                )
            ),
            "inTransit": session.scalar(
                select(func.count()).where(
                    v.valid_to.is_(None), v.gtin.is_not(None), v.status == "in_transit"
                )
            ),
            "recallChanges": session.scalar(
                select(func.count()).where(RecallChangeRow.kind.in_(RECALL_KINDS))
            ),
            "alerts": session.scalar(select(func.count()).select_from(AlertRow)),
            "complaints": session.scalar(
                select(func.count())
                .select_from(PriceComplaintRow)
                .where(
                    PriceComplaintRow.received_at >= period.start,
                    PriceComplaintRow.received_at < period.end,
                )
            ),
            "anchors": session.scalar(select(func.count(distinct(e.root))).where(*in_period)),
        }


def test_the_totals_equal_direct_sql_and_name_the_chain_height(index: Any) -> None:
    service, _, _ = index
    period = Period.of(FIRST, last_day())
    with service.sessions() as session:
        found = report(session, period)
        height = session.scalar(select(CheckpointRow.block_number))
    assert totals(found) == direct(service, period)
    assert totals(found)["dispensed"] == 7  # the journey's one, then two a day for three days
    assert totals(found)["complaints"] == 1  # the one of a year before is not in the period
    assert found["chain"]["blockNumber"] == height
    assert found["chain"]["blockHash"].startswith("0x")
    assert sum(a["events"] for a in found["anchors"]) == totals(found)["events"]
    assert all(a["txHash"].startswith("0x") for a in found["anchors"])


def test_a_region_and_a_product_keep_their_own_lines(index: Any) -> None:
    service, _, _ = index
    period = Period.of(FIRST, last_day())
    with service.sessions() as session:
        bishkek = report(session, period, region="KG-GB")
        product = report(session, period, gtin=GTIN)
        nothing = report(session, Period.of(date(2025, 1, 1), date(2025, 1, 31)))
    assert {d["region"] for d in bishkek["dispensing"]} == {"KG-GB"}
    assert sum(d["packs"] for d in bishkek["dispensing"]) == 7
    assert {s["region"] for s in bishkek["stock"]} == {"KG-GB"}
    assert sum(s["active"] for s in bishkek["stock"]) == 3  # ten received, seven dispensed
    assert {m["region"] for m in bishkek["movements"]} == {"KG-GB"}
    assert {s["gtin"] for s in product["stock"]} == {GTIN}
    (recalled,) = [r for r in product["recalls"] if r["kind"] == "recalled"]
    assert recalled["lot"] == RECALLED_LOT and recalled["reach"]["packs"] == 3
    assert recalled["reach"]["byStatus"] == {"active": 3} and recalled["txHash"].startswith("0x")
    # the recalled lot never reached Bishkek; the suspended one did: its reach there
    (suspension,) = bishkek["recalls"]
    assert (suspension["kind"], suspension["lot"]) == ("suspended", FINISHED_LOT)
    assert suspension["caseNumber"] == "PV-2026/0042"
    assert suspension["reach"]["byStatus"] == {"active": 3, "dispensed": 7}
    assert suspension["reach"]["regions"] == ["KG-GB"]
    assert product["complaints"] == [{"gtin": GTIN, "status": "received", "count": 1}]
    assert bishkek["complaints"] == []  # a complaint names its pharmacy in words
    quiet = {k: n for k, n in totals(nothing).items() if k not in ("active", "inTransit")}
    assert quiet == dict.fromkeys(quiet, 0)  # stock is now's, whatever the period


def test_the_csv_holds_the_same_numbers(index: Any) -> None:
    service, _, _ = index
    with service.sessions() as session:
        found = report(session, Period.of(FIRST, last_day()), region="KG-GO")
    rows = list(csv.DictReader(io.StringIO(as_csv(found))))
    head = {r["key"]: r["value"] for r in rows if r["section"] == "report"}
    assert head["chainHeight"] == str(found["chain"]["blockNumber"]) and head["region"] == "KG-GO"
    written = {r["key"]: int(r["value"]) for r in rows if r["section"] == "total"}
    assert written == totals(found)
    anchors = [r for r in rows if r["section"] == "anchors"]
    assert [r["key"] for r in anchors] == [a["root"] for a in found["anchors"]]
    assert all("@" in r["reference"] for r in anchors)


def test_over_http_as_json_and_csv_an_inspector_its_own_region_only(index: Any) -> None:
    _, http, keys = index
    period = {"from": FIRST.isoformat(), "to": last_day().isoformat()}

    def get(role: str, **params: str) -> Any:
        headers = {"Authorization": f"Bearer {keys[role]}"}
        return http.get("/reports", params={**period, **params}, headers=headers)

    whole = get("regulator")
    assert whole.status_code == 200, whole.text
    as_text = get("regulator", format="csv")
    assert as_text.headers["content-type"].startswith("text/csv")
    assert as_text.text.splitlines()[0] == "section,region,gtin,lot,key,value,reference"
    own = get("inspector")
    assert own.status_code == 200 and own.json()["region"] == "KG-GB"
    assert get("inspector", region="KG-GO").status_code == 403
    backwards = get("regulator", **{"from": "2026-12-01", "to": "2026-11-01"})
    assert backwards.status_code == 422 and "before it starts" in backwards.text
    assert get("regulator", region="XX-NOPE").status_code == 422
    assert get("regulator", gtin="123").status_code == 422


def test_alerts_are_counted_by_kind_and_triage_outcome(index: Any) -> None:
    """An alert resolved on the dashboard moves from ``open`` to ``resolved`` in the report's
    alerts; the total stays (runs last: it triages an alert of the module's index)."""
    service, _, keys = index
    period = Period.of(FIRST, last_day())
    with service.sessions() as session:
        before = report(session, period)["alerts"]
        alert = session.scalars(select(AlertRow).order_by(AlertRow.key)).first()
    assert alert is not None and before, "the journey's index has no alert to triage"
    assert {a["outcome"] for a in before} == {"open"}
    with service.write_sessions() as session, session.begin():
        reader = service.api_keys.authenticate(session, keys["regulator"])
        assert reader is not None
        act(
            session,
            alert.key,
            "resolve",
            actor="Medicines Agency",
            key_id=reader.id,
            role="regulator",
            region=None,
            now=datetime.now(UTC),
            note="checked with the holder",
        )
    with service.sessions() as session:
        after = report(session, period)
    counted = {(a["kind"], a["outcome"]): a["count"] for a in after["alerts"]}
    opened = {a["kind"]: a["count"] for a in before}
    assert counted[(alert.kind, "resolved")] == 1
    assert counted.get((alert.kind, "open"), 0) == opened[alert.kind] - 1
    assert totals(after)["alerts"] == sum(opened.values())
    written = [r for r in csv.DictReader(io.StringIO(as_csv(after))) if r["section"] == "alerts"]
    assert {r["key"]: r["value"] for r in written}[f"{alert.kind}/resolved"] == "1"


@pytest.mark.parametrize("product", [None, GTIN])
def test_the_bench_s_plain_sql_agrees_with_the_report(index: Any, product: str | None) -> None:
    """bench.reports checks the 1M index's report against its own plain SQL (docs/benchmarks.md,
    "Reports"): over this index that SQL gives the report's totals too, for the whole network
    and for one product."""
    service, _, _ = index
    period = Period.of(FIRST, last_day())
    with service.sessions() as session:
        assert totals(report(session, period, gtin=product)) == bench_direct(
            session, period, product
        )
