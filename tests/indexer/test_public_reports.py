"""The finder's queries, price complaints and adverse-reaction reports over a real index, on
SQLite and PostgreSQL: a product found by name with its maximum price, the pharmacy holding it
in its region (and none while the lot is suspended); a complaint kept with its photo and the
price of the day, its status changed; reports counted per lot, one alert at the threshold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from indexer import adverse_reports, complaints
from indexer.queries import finder
from indexer.store.models import AlertRow
from provenance.journey import FINISHED_LOT, MANUFACTURER, PHARMACY
from servicekit.sql.helpers import utcnow
from tests.indexer.test_check import GTIN, forms, serial_of
from tests.indexer.test_masterdata import GTIN_CLASS, SITES, declare, element, site
from tests.support.network import start_network

MPL = "https://ns.medicine-provenance-ledger.org/epcis/mda#"


@pytest.fixture(scope="module")
def index(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("public-reports")
    network = start_network(tmp / "gateway")
    try:
        journey = network.run_journey(20, packs_per_case=5)
        for actor in SITES:
            declare(network, actor, [site(actor)])
        attributes = {
            "urn:epcglobal:cbv:mda#regulatedProductName": "Paracetamol 500 mg",
            MPL + "registrationStatus": "registered",
            MPL + "maxRetailPrice": "99.90",
            MPL + "priceCurrency": "KGS",
        }
        product = {
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [element(GTIN_CLASS, attributes)],
        }
        declare(network, MANUFACTURER, [product])
        network.anchor()
        service = network.indexer(module_index_url, tmp / "indexer")
        try:
            service.catch_up()
            yield journey, service, network
        finally:
            service.stop()
    finally:
        network.gateway.stop()


def test_the_finder_finds_by_name_and_lists_the_pharmacy_by_region(index: Any) -> None:
    _, service, _ = index
    with service.sessions() as session:
        (found,) = finder.search(session, "PARACETAMOL")
        assert (found.gtin, found.max_retail_price, found.price_currency) == (GTIN, "99.9", "KGS")
        assert finder.search(session, "100%_") == []  # LIKE's wildcards are text here
        where = finder.availability(session, GTIN, today=date(2027, 3, 1))
        name, region = SITES[PHARMACY]
        assert [p.name for p in where.by_region[region]] == [name]
        assert where.pharmacies == 1  # the manufacturer, importer, distributor are no pharmacies
        expired = finder.availability(session, GTIN, today=date(2030, 1, 1))
        assert expired.pharmacies == 0  # the lot is past its expiry


def test_a_complaint_keeps_its_photo_and_the_price_of_the_day(index: Any) -> None:
    _, service, _ = index
    with service.write_sessions() as session, session.begin():
        reference = complaints.file_complaint(
            session,
            gtin=GTIN,
            pharmacy="Ala-Too Pharmacy",
            price_paid="150,00",
            receipt=b"\x89PNG-bytes",
            receipt_type="image/png",
            contact="",
            now=utcnow(),
        )
    with service.write_sessions() as session, session.begin():
        complaints.set_status(session, reference, "investigating", "", actor="agency", now=utcnow())
    with service.sessions() as session:
        row = complaints.complaint(session, reference)
        assert (row.price_paid, row.max_price, row.receipt) == ("150", "99.9", b"\x89PNG-bytes")
        assert (row.contact, row.updated_by) == (None, "agency")
        status = complaints.public_status(session, reference)
        assert status is not None and status.status == "investigating"
        assert [r.reference for r in complaints.listed(session, status="investigating")] == [
            reference
        ]


def test_reports_are_counted_per_lot_and_alert_once_at_the_threshold(index: Any) -> None:
    journey, service, _ = index
    filed = []
    for n in range(4):
        with service.write_sessions() as session, session.begin():
            code = forms(serial_of(journey.packs[n]))["digital-link-bare"]  # lot from the index
            filed.append(
                adverse_reports.file_report(
                    session,
                    code=code,
                    description=f"rash {n}",
                    contact="",
                    now=utcnow(),
                    threshold=3,
                )
            )
    assert [f.reports_for_lot for f in filed] == [1, 2, 3, 4]
    assert [f.alerted for f in filed] == [False, False, True, True]
    assert {f.lot for f in filed} == {FINISHED_LOT}
    with service.sessions() as session:
        alerts = session.scalars(select(AlertRow).where(AlertRow.kind == "adverse-reactions"))
        assert [a.evidence["reports"] for a in alerts] == [3]
        assert len(adverse_reports.reports_of_lot(session, GTIN, FINISHED_LOT)) == 4
        assert adverse_reports.counts(session, GTIN, [FINISHED_LOT, "OTHER"]) == {
            FINISHED_LOT: 4,
            "OTHER": 0,
        }


def test_a_suspended_lot_is_in_no_pharmacy(index: Any) -> None:
    """Last: it suspends the lot on chain (and lifts it)."""
    _, service, network = index
    today = date(2027, 3, 1)
    suspension = {
        "gtin": GTIN,
        "lot": FINISHED_LOT,
        "caseNumber": "PV-1",
        "reason": "ADR",
        "reasonCode": 1,
    }
    sent = network.http.post("/suspensions", json=suspension, headers=network.regulator)
    assert sent.status_code in (200, 201), sent.text
    service.catch_up()
    with service.sessions() as session:
        assert finder.availability(session, GTIN, today=today).pharmacies == 0
    lifted = network.http.post(
        f"/suspensions/{GTIN}/{FINISHED_LOT}/lift",
        json={"reasonCode": 1},
        headers=network.regulator,
    )
    assert lifted.status_code in (200, 201), lifted.text
    service.catch_up()
    with service.sessions() as session:
        assert finder.availability(session, GTIN, today=today).pharmacies == 1
