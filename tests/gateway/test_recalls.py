"""Recall with one action: on-chain, at once at the gateway, released again; all-or-nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.store.custody_view import SqlCustodyView
from gateway.store.recalls import list_recalls, notifications_for
from medledger.epcis.builders import as_document
from medledger.epcis.digital_link import gtin_of
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import ChainUnavailableError, TransactionError
from provenance.journey import (
    DISTRIBUTOR,
    FINISHED_LOT,
    MANUFACTURER,
    PHARMACY,
    Journey,
    build_journey,
)
from tests.gateway.conftest import Gateway

PROBLEM = "application/problem+json"


def run_steps(gateway: Gateway, journey: Journey, count: int) -> None:
    for step in journey.steps[:count]:
        response = gateway.capture(step.actor, as_document(step.events))
        assert response.status_code == 202, response.text


def pack_gtin(journey: Journey) -> str:
    gtin = gtin_of(canonical_identifier(journey.packs[0]))
    assert gtin is not None
    return gtin


def ship_second_case(journey: Journey) -> dict[str, Any]:
    """The distributor ships the case it kept to the pharmacy."""
    event = copy.deepcopy(journey.steps[9].events[0])
    cases = journey.steps[5].events[0]["epcList"]
    event["epcList"] = [cases[1]]
    event["eventTime"] = "2026-12-01T08:00:00Z"
    return as_document([event])


def recall(gateway: Gateway, gtin: str, lot: str = FINISHED_LOT, **extra: Any) -> Any:
    body = {"gtin": gtin, "lot": lot, "reason": "out of specification", **extra}
    return gateway.http.post("/recalls", json=body, headers=gateway.regulator)


def release(gateway: Gateway, gtin: str, lot: str = FINISHED_LOT) -> Any:
    return gateway.http.post(
        f"/recalls/{gtin}/{lot}/release",
        json={"reason": "cleared", "reasonCode": 2},
        headers=gateway.regulator,
    )


def test_a_recall_is_on_chain_and_refuses_shipping_and_dispensing_at_once(
    gateway: Gateway,
) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)  # the pharmacy holds one case, the distributor the other
    gtin = pack_gtin(journey)

    response = recall(gateway, gtin, reasonCode=7)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "recalled" and body["reasonCode"] == 7
    assert body["recallTx"].startswith("0x") and body["notified"] == 2
    assert gateway.service.ledger.is_recalled(int(gtin), FINISHED_LOT)

    dispense = gateway.capture(PHARMACY, as_document(journey.steps[11].events))
    assert dispense.status_code == 400
    assert dispense.headers["content-type"] == PROBLEM
    assert dispense.json()["rule"] == "custody.recalled"
    ship = gateway.capture(DISTRIBUTOR, ship_second_case(journey))
    assert ship.status_code == 400 and ship.json()["rule"] == "custody.recalled"

    listed = gateway.http.get("/recalls", headers=gateway.headers(PHARMACY)).json()
    assert [(r["gtin"], r["lot"], r["state"]) for r in listed] == [(gtin, FINISHED_LOT, "recalled")]

    released = release(gateway, gtin)
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "released" and released.json()["releaseReasonCode"] == 2
    assert released.json()["releaseTx"].startswith("0x")
    assert not gateway.service.ledger.is_recalled(int(gtin), FINISHED_LOT)
    assert gateway.capture(PHARMACY, as_document(journey.steps[11].events)).status_code == 202
    assert gateway.capture(DISTRIBUTOR, ship_second_case(journey)).status_code == 202
    active = gateway.http.get("/recalls?active=true", headers=gateway.regulator).json()
    assert active == []


def test_only_the_regulator_recalls_and_releases(gateway: Gateway) -> None:
    journey = build_journey(4, packs_per_case=2)
    run_steps(gateway, journey, 5)
    gtin = pack_gtin(journey)
    body = {"gtin": gtin, "lot": FINISHED_LOT, "reason": "mine"}
    refused = gateway.http.post("/recalls", json=body, headers=gateway.headers(MANUFACTURER))
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert recall(gateway, gtin).status_code == 201
    refused = gateway.http.post(
        f"/recalls/{gtin}/{FINISHED_LOT}/release", headers=gateway.headers(MANUFACTURER)
    )
    assert refused.status_code == 403
    assert not gateway.http.get("/notifications", headers=gateway.regulator).json()


def test_unknown_malformed_repeated_and_unrecalled_lots(gateway: Gateway) -> None:
    journey = build_journey(4, packs_per_case=2)
    run_steps(gateway, journey, 5)
    gtin = pack_gtin(journey)

    unknown = recall(gateway, gtin, lot="NOPE-1")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    bad_digit = gtin[:13] + str((int(gtin[13]) + 1) % 10)
    malformed = recall(gateway, bad_digit)
    assert malformed.status_code == 422 and malformed.json()["rule"] == "gs1.checkDigit"
    assert recall(gateway, gtin, lot="has space").status_code == 422
    assert recall(gateway, gtin, reasonCode=70000).status_code == 422

    not_recalled = release(gateway, gtin)
    assert not_recalled.status_code == 409 and not_recalled.headers["content-type"] == PROBLEM
    assert recall(gateway, gtin).status_code == 201
    again = recall(gateway, gtin)
    assert again.status_code == 409
    assert release(gateway, gtin, lot="NOPE-1").status_code == 404


@pytest.mark.parametrize(
    "failure", [ChainUnavailableError("node down"), TransactionError("not mined")]
)
def test_a_chain_failure_records_nothing(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    gtin = pack_gtin(journey)

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(gateway.service.ledger, "recall", fail)
    response = recall(gateway, gtin)
    assert response.status_code == 502 and response.headers["content-type"] == PROBLEM
    assert not gateway.service.ledger.is_recalled(int(gtin), FINISHED_LOT)
    with gateway.service.sessions() as session:
        assert list_recalls(session) == []
        assert not SqlCustodyView(session).is_lot_recalled(gtin, FINISHED_LOT)
        assert notifications_for(session, gateway.addresses[PHARMACY.name]) == []
    # Nothing changed at the gateway: the lot still moves.
    assert gateway.capture(PHARMACY, as_document(journey.steps[11].events)).status_code == 202

    monkeypatch.undo()
    assert recall(gateway, gtin).status_code == 201
    monkeypatch.setattr(gateway.service.ledger, "release", fail)
    assert release(gateway, gtin).status_code == 502
    assert gateway.service.ledger.is_recalled(int(gtin), FINISHED_LOT)
    with gateway.service.sessions() as session:
        assert [r.state for r in list_recalls(session)] == ["recalled"]
        assert SqlCustodyView(session).is_lot_recalled(gtin, FINISHED_LOT)
    assert gateway.capture(DISTRIBUTOR, ship_second_case(journey)).status_code == 400


def test_a_lot_already_recalled_on_chain_is_recorded_without_a_new_transaction(
    gateway: Gateway,
) -> None:
    """The store commit of an earlier request failed after its transaction: asking again
    records the recall (the chain is the source of truth) instead of failing forever."""
    journey = build_journey(4, packs_per_case=2)
    run_steps(gateway, journey, 5)
    gtin = pack_gtin(journey)
    service = gateway.service
    service.ledger.recall(service.regulator, int(gtin), FINISHED_LOT, 1)
    response = recall(gateway, gtin)
    assert response.status_code == 201 and response.json()["recallTx"] is None
    assert gateway.capture(MANUFACTURER, as_document(journey.steps[5].events)).status_code == 400
