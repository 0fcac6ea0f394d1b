"""Suspensions pending investigation, end to end: the gateway suspends a lot on chain, the
indexer mirrors it (case number, reason), ``/check`` says ``suspended``, ``/suspensions`` lists
it; lifted, the pack is ``ok`` and dispensed again; escalated, it is ``recalled``. The index on
SQLite and PostgreSQL; across a reorganisation on real nodes it equals a fresh index."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from chain.client import Chain
from dashboard.app import mount
from dashboard.i18n import messages
from indexer.api.app import create_app
from indexer.api.deps import get_today
from indexer.queries.check import check as check_query
from indexer.service import IndexerService
from indexer.store.models import RecallRow
from medledger.epcis import builders as epcis
from medledger.epcis.builders import as_document
from provenance.journey import FINISHED_LOT, PHARMACY, Journey, build_journey
from tests.indexer.conftest import IndexerFactory
from tests.indexer.test_detection_recalled import gtin_of
from tests.indexer.test_reorg import indexer as folder_indexer
from tests.indexer.test_reorg import node_url, rpc  # noqa: F401 - the fixture
from tests.support.anchoring import start_publisher
from tests.support.index_compare import assert_same_index
from tests.support.network import Network

CASE = "PV-2026/0042"
TODAY = date(2027, 3, 1)


def post(network: Network, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = network.http.post(path, json=body, headers=network.regulator)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


def verdict(service: IndexerService, pack: str) -> dict[str, Any]:
    service.catch_up()
    with service.sessions() as session:
        return check_query(session, pack, today=TODAY)


def dispense(network: Network, pack: str) -> Any:
    event = epcis.dispense(PHARMACY, datetime.now(UTC), [pack])
    return network.http.post(
        "/capture", json=as_document([event]), headers=network.keys[PHARMACY.name]
    )


def listed(service: IndexerService, **params: Any) -> list[dict[str, Any]]:
    app = create_app(service, follow=False)
    app.dependency_overrides[get_today] = lambda: TODAY
    assert service.bootstrap_key_file is not None
    key = service.bootstrap_key_file.read_text().strip()
    with TestClient(app) as http:
        response = http.get(
            "/suspensions", params=params, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_suspend_refuse_check_lift_dispense(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    pack = journey.packs[1]  # the pharmacy holds it
    gtin = gtin_of(pack)
    service = make_indexer()
    assert verdict(service, pack)["verdict"] == "ok"

    suspended = post(
        network,
        "/suspensions",
        {"gtin": gtin, "lot": FINISHED_LOT, "caseNumber": CASE, "reason": "ADR", "reasonCode": 1},
    )
    refused = dispense(network, pack)
    assert refused.status_code == 400 and refused.json()["rule"] == "custody.suspended"

    answer = verdict(service, pack)
    assert answer["verdict"] == "suspended" and answer["suspended"] is True
    assert answer["suspension"]["caseNumber"] == CASE
    assert answer["suspension"]["reason"] == "adverse reactions reported"
    assert answer["suspension"]["txHash"] == suspended["suspendTx"]
    assert [w["code"] for w in answer["warnings"]] == ["suspended"]
    [row] = listed(service, active="true")
    assert (row["state"], row["caseNumber"], row["reasonCode"]) == ("suspended", CASE, 1)
    assert row["by"] == network.gateway.regulator.address

    post(network, f"/suspensions/{gtin}/{FINISHED_LOT}/lift", {"reasonCode": 1})
    answer = verdict(service, pack)
    assert answer["verdict"] == "ok" and answer["suspended"] is False
    assert answer["suspension"] is None
    assert listed(service, active="true") == []
    [row] = listed(service)
    assert row["state"] == "lifted" and row["closeReason"] == "no causal link found"

    assert dispense(network, pack).status_code == 202
    network.anchor()
    assert verdict(service, pack)["verdict"] == "dispensed"


def test_the_public_page_says_suspended_in_english_and_russian(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    pack = journey.packs[1]
    body = {"gtin": gtin_of(pack), "lot": FINISHED_LOT, "caseNumber": CASE, "reason": "ADR"}
    post(network, "/suspensions", {**body, "reasonCode": 1})
    service = make_indexer()
    service.catch_up()
    app = create_app(service, follow=False)
    app.dependency_overrides[get_today] = lambda: TODAY
    mount(app)
    with TestClient(app) as http:
        for language in ("en", "ru"):
            t = messages(language)
            page = http.get(
                "/check", params={"code": pack, "lang": language}, headers={"Accept": "text/html"}
            )
            assert page.status_code == 200, page.text
            assert 'data-verdict="suspended"' in page.text
            assert t["verdict.suspended"] in page.text and CASE in page.text
            assert t["suspension_reason.1"] in page.text
        answer = http.post("/check", json={"code": pack}).json()
    assert answer["verdict"] == "suspended" and answer["suspension"]["by"] is None
    assert answer["suspension"]["caseNumber"] == CASE


def test_escalating_makes_the_pack_recalled(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    pack = journey.packs[1]
    gtin = gtin_of(pack)
    body = {"gtin": gtin, "lot": FINISHED_LOT, "caseNumber": CASE, "reason": "ADR"}
    post(network, "/suspensions", body)
    escalated = post(
        network,
        f"/suspensions/{gtin}/{FINISHED_LOT}/escalate",
        {"reason": "confirmed", "reasonCode": 8},
    )
    service = make_indexer()
    answer = verdict(service, pack)
    assert answer["verdict"] == "recalled" and answer["suspended"] is False
    assert answer["recall"]["reason"] == "adverse reactions reported"
    assert answer["recall"]["txHash"] == escalated["closeTx"]
    [row] = listed(service, gtin=gtin, lot=FINISHED_LOT)
    assert row["state"] == "escalated" and row["closeReasonCode"] == 8
    assert row["closeReason"] == "adverse reactions reported"
    assert dispense(network, pack).json()["rule"] == "custody.recalled"


def test_a_suspension_rolled_back_by_a_reorganisation_leaves_a_fresh_index(
    node_url: str,  # noqa: F811
    index_url: str,
    tmp_path: Path,
) -> None:
    chain = Chain.from_url(node_url, poll_interval=0.05)
    publisher = start_publisher(chain, tmp_path / "batches")
    steps = build_journey(20, packs_per_case=10).steps
    for step in steps[:6]:
        publisher.publish(step.actor, step.events)
    gtin = int(gtin_of(build_journey(20, packs_per_case=10).packs[0]))
    snapshot = rpc(chain, "evm_snapshot")
    publisher.ledger.suspend_lot(publisher.regulator, gtin, FINISHED_LOT, 1, CASE)
    publisher.ledger.escalate_suspension(publisher.regulator, gtin, FINISHED_LOT, 8)
    service = folder_indexer(publisher, node_url, index_url, tmp_path / "ix")
    service.catch_up()
    orphaned_head = chain.block_number
    with service.sessions() as session:
        row = session.get(RecallRow, (f"{gtin:014d}", FINISHED_LOT))
        assert row is not None and row.recalled and row.case_number == CASE

    assert rpc(chain, "evm_revert", snapshot) is True
    new_chain = Chain.from_url(node_url, poll_interval=0.05)
    publisher.rebind(new_chain)
    publisher.ledger.suspend_lot(publisher.regulator, gtin, FINISHED_LOT, 2, "PV-OTHER")
    while new_chain.block_number <= orphaned_head:
        rpc(new_chain, "evm_mine")
    report = service.catch_up()
    assert report.reorg_to is not None

    fresh = folder_indexer(
        publisher, node_url, f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh"
    )
    fresh.catch_up()
    assert_same_index(service.engine, fresh.engine)
    with service.sessions() as session:
        row = session.get(RecallRow, (f"{gtin:014d}", FINISHED_LOT))
        assert row is not None and not row.recalled and row.suspended
        assert row.case_number == "PV-OTHER" and row.suspension_reason_code == 2
    service.stop()
    fresh.stop()
