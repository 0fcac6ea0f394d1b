"""Pharmacovigilance stops: a lot suspended pending investigation (on-chain, at once at the
gateway: dispensing refused, shipping too where asked, holders notified), lifted, or escalated to
a recall in one action; by the regulator or a pharmacovigilance officer; all-or-nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from medledger.epcis.builders import as_document
from medledger.errors import TransactionError
from provenance.journey import DISTRIBUTOR, FINISHED_LOT, MANUFACTURER, PHARMACY, build_journey
from tests.gateway.conftest import Gateway
from tests.gateway.test_notifications import (  # noqa: F401 - the receiver fixture
    LOCAL_RECEIVERS,
    Receiver,
    fast,
    feed,
    receiver,
)
from tests.gateway.test_recalls import PROBLEM, pack_gtin, run_steps, ship_second_case

CASE = "PV-2026/0042"


def suspend(
    gateway: Gateway, gtin: str, headers: dict[str, str] | None = None, **extra: Any
) -> Any:
    body = {
        "gtin": gtin,
        "lot": FINISHED_LOT,
        "caseNumber": CASE,
        "reason": "adverse reactions reported",
        "reasonCode": 1,
        **extra,
    }
    return gateway.http.post("/suspensions", json=body, headers=headers or gateway.regulator)


def lift(gateway: Gateway, gtin: str, headers: dict[str, str] | None = None) -> Any:
    return gateway.http.post(
        f"/suspensions/{gtin}/{FINISHED_LOT}/lift",
        json={"reason": "no causal link", "reasonCode": 1},
        headers=headers or gateway.regulator,
    )


def escalate(gateway: Gateway, gtin: str, headers: dict[str, str] | None = None) -> Any:
    return gateway.http.post(
        f"/suspensions/{gtin}/{FINISHED_LOT}/escalate",
        json={"reason": "adverse reactions confirmed", "reasonCode": 8},
        headers=headers or gateway.regulator,
    )


def dispense(gateway: Gateway, journey: Any) -> Any:
    return gateway.capture(PHARMACY, as_document(journey.steps[11].events))


def officer(gateway: Gateway) -> dict[str, str]:
    """A pharmacovigilance officer registered by the regulator: its API key's headers."""
    response = gateway.http.post(
        "/participants",
        json={"name": "PV desk", "roles": ["pharmacovigilance"], "gln": "4700999100090"},
        headers=gateway.regulator,
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['apiKey']}"}


def test_a_suspension_refuses_dispensing_at_once_and_lifting_it_lets_it_through(
    gateway: Gateway,
) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)  # the pharmacy holds one case, the distributor the other
    gtin = pack_gtin(journey)

    response = suspend(gateway, gtin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["caseNumber"], body["reasonCode"]) == ("suspended", CASE, 1)
    assert body["suspendTx"].startswith("0x") and body["notified"] == 2
    assert body["stopsShipping"] is False and body["recallId"] is None
    assert gateway.service.ledger.is_suspended(int(gtin), FINISHED_LOT)
    assert not gateway.service.ledger.is_recalled(int(gtin), FINISHED_LOT)

    refused = dispense(gateway, journey)
    assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["rule"] == "custody.suspended"
    assert "suspended pending investigation" in refused.json()["detail"]
    notes = gateway.http.get("/notifications", headers=gateway.headers(PHARMACY)).json()
    assert [(n["kind"], n["suspensionId"], n["recallId"]) for n in notes] == [
        ("suspension", body["id"], None)
    ]
    assert notes[0]["holding"]["packs"]["held"] == 10
    listed = gateway.http.get("/suspensions?active=true", headers=gateway.headers(PHARMACY))
    assert [(s["gtin"], s["lot"], s["state"]) for s in listed.json()] == [
        (gtin, FINISHED_LOT, "suspended")
    ]

    lifted = lift(gateway, gtin)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["state"] == "lifted" and lifted.json()["closeTx"].startswith("0x")
    assert lifted.json()["notified"] == 2
    assert not gateway.service.ledger.is_suspended(int(gtin), FINISHED_LOT)
    assert dispense(gateway, journey).status_code == 202
    assert gateway.http.get("/suspensions?active=true", headers=gateway.regulator).json() == []
    reach = gateway.http.get(f"/suspensions/{body['id']}/notifications", headers=gateway.regulator)
    assert [n["kind"] for n in reach.json()] == ["suspension", "suspension", "lift", "lift"]


def test_shipping_goes_on_unless_the_suspension_stops_it_too(gateway: Gateway) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    gtin = pack_gtin(journey)
    assert suspend(gateway, gtin, stopsShipping=True).status_code == 201
    ship = gateway.capture(DISTRIBUTOR, ship_second_case(journey))
    assert ship.status_code == 400 and ship.json()["rule"] == "custody.suspended"
    assert "may not be shipped" in ship.json()["detail"]
    assert lift(gateway, gtin).status_code == 200
    assert suspend(gateway, gtin).status_code == 201  # the gateway's default: dispensing only
    assert gateway.capture(DISTRIBUTOR, ship_second_case(journey)).status_code == 202


def test_the_gateway_setting_stops_shipping_by_default(make_gateway: Any) -> None:
    gateway = make_gateway(suspension_stops_shipping=True)
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    body = suspend(gateway, pack_gtin(journey)).json()
    assert body["stopsShipping"] is True
    ship = gateway.capture(DISTRIBUTOR, ship_second_case(journey))
    assert ship.status_code == 400 and ship.json()["rule"] == "custody.suspended"


def test_escalating_recalls_the_lot_in_one_action(gateway: Gateway) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    gtin = pack_gtin(journey)
    suspended = suspend(gateway, gtin).json()

    response = escalate(gateway, gtin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "escalated" and body["recallId"] is not None
    assert body["closeReasonCode"] == 8 and body["notified"] == 2
    assert gateway.service.ledger.is_recalled(int(gtin), FINISHED_LOT)
    assert not gateway.service.ledger.is_suspended(int(gtin), FINISHED_LOT)
    recalls = gateway.http.get("/recalls?active=true", headers=gateway.regulator).json()
    assert [(r["id"], r["reasonCode"], r["recallTx"]) for r in recalls] == [
        (body["recallId"], 8, body["closeTx"])
    ]
    assert dispense(gateway, journey).json()["rule"] == "custody.recalled"
    ship = gateway.capture(DISTRIBUTOR, ship_second_case(journey))
    assert ship.json()["rule"] == "custody.recalled"
    notes = gateway.http.get("/notifications", headers=gateway.headers(PHARMACY)).json()
    assert [(n["kind"], n["recallId"], n["suspensionId"]) for n in notes] == [
        ("suspension", None, suspended["id"]),
        ("recall", body["recallId"], suspended["id"]),
    ]
    assert lift(gateway, gtin).status_code == 409
    assert suspend(gateway, gtin).status_code == 409  # recalled: stopped already


def test_a_pharmacovigilance_officer_suspends_and_lifts_but_does_not_recall(
    gateway: Gateway,
) -> None:
    journey = build_journey(4, packs_per_case=2)
    run_steps(gateway, journey, 5)
    gtin = pack_gtin(journey)
    desk = officer(gateway)
    for who in (MANUFACTURER, PHARMACY):
        refused = suspend(gateway, gtin, headers=gateway.headers(who))
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    response = suspend(gateway, gtin, headers=desk)
    assert response.status_code == 201, response.text
    batch = gateway.service.ledger.batch(int(gtin), FINISHED_LOT)
    assert batch.suspended and response.json()["suspendedBy"] != gateway.service.regulator.address
    assert escalate(gateway, gtin, headers=desk).status_code == 403
    assert lift(gateway, gtin, headers=gateway.headers(PHARMACY)).status_code == 403
    assert lift(gateway, gtin, headers=desk).status_code == 200


def test_unknown_malformed_repeated_and_unsuspended_lots(gateway: Gateway) -> None:
    journey = build_journey(4, packs_per_case=2)
    run_steps(gateway, journey, 5)
    gtin = pack_gtin(journey)
    unknown = gateway.http.post(
        "/suspensions",
        json={"gtin": gtin, "lot": "NOPE-1", "caseNumber": CASE, "reason": "x"},
        headers=gateway.regulator,
    )
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    for case in ("PV 1", "x" * 33):
        bad = suspend(gateway, gtin, caseNumber=case)
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert suspend(gateway, gtin, caseNumber="PV 1").json()["rule"] == "suspension.case-number"
    assert suspend(gateway, gtin, reason="  ").json()["rule"] == "suspension.reason"
    assert lift(gateway, gtin).status_code == 409
    assert escalate(gateway, gtin).status_code == 409
    assert not gateway.service.ledger.is_suspended(int(gtin), FINISHED_LOT)
    assert suspend(gateway, gtin).status_code == 201
    assert suspend(gateway, gtin).status_code == 409


def test_a_chain_failure_records_nothing(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    gtin = pack_gtin(journey)

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise TransactionError("not mined")

    monkeypatch.setattr(gateway.service.ledger, "suspend_lot", fail)
    assert suspend(gateway, gtin).status_code == 502
    assert gateway.http.get("/suspensions", headers=gateway.regulator).json() == []
    assert dispense(gateway, journey).status_code == 202


def test_a_holder_s_webhook_receives_the_suspension_and_its_lifting(
    make_gateway: Any,
    receiver: Receiver,  # noqa: F811
) -> None:
    gateway = make_gateway(webhook_allowlist=LOCAL_RECEIVERS)
    hook = gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    )
    assert hook.status_code == 200, hook.text
    secret = hook.json()["secret"]
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    deliverer = fast(gateway)
    gtin = pack_gtin(journey)
    suspended = suspend(gateway, gtin).json()
    assert lift(gateway, gtin).status_code == 200
    assert deliverer.step() == 2
    sent = [json.loads(body) for _headers, body in receiver.received]
    assert [(n["kind"], n["suspensionId"]) for n in sent] == [
        ("suspension", suspended["id"]),
        ("lift", suspended["id"]),
    ]
    assert sent == feed(gateway, PHARMACY)
    headers, body = receiver.received[0]
    assert verify_signature(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
